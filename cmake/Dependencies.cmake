# Finds the libraries ringftpd links against and defines imported targets:
#   ringftpd::wolfssl  ringftpd::uring  ringftpd::tomlplusplus  ringftpd::crypt
#   ringftpd::seccomp  ringftpd::microhttpd  ringftpd::systemd  ringftpd::hiredis
find_package(PkgConfig REQUIRED)
find_package(Threads REQUIRED)

# wolfSSL: the project-local build of Debian's source package made by
# tools/install-deps.sh (intel asm, AES-NI). Debian's binary package is a
# fallback only: it seals records ~30x slower, so say so loudly.
set(RINGFTPD_DEPS_DIR "${CMAKE_SOURCE_DIR}/.deps" CACHE PATH
    "Where tools/install-deps.sh put the private wolfSSL build")
set(_wolfssl_prefix "${RINGFTPD_DEPS_DIR}/wolfssl")
add_library(ringftpd::wolfssl INTERFACE IMPORTED GLOBAL)
if(EXISTS "${_wolfssl_prefix}/lib/libwolfssl.a"
   AND EXISTS "${_wolfssl_prefix}/include/wolfssl/options.h")
  message(STATUS "wolfSSL: project build in ${_wolfssl_prefix}")
  target_include_directories(ringftpd::wolfssl SYSTEM INTERFACE "${_wolfssl_prefix}/include")
  target_link_libraries(ringftpd::wolfssl INTERFACE
                        "${_wolfssl_prefix}/lib/libwolfssl.a" m Threads::Threads)
  target_compile_definitions(ringftpd::wolfssl INTERFACE RINGFTPD_WOLFSSL_FALLBACK=0)
else()
  pkg_check_modules(SYSTEM_WOLFSSL REQUIRED IMPORTED_TARGET wolfssl)
  message(WARNING
    "\n*** wolfSSL: the project build was not found in ${_wolfssl_prefix}.\n"
    "*** Falling back to Debian's binary libwolfssl, which has no intel asm /\n"
    "*** AES-NI and seals TLS records ~30x slower. Run tools/install-deps.sh.\n")
  target_link_libraries(ringftpd::wolfssl INTERFACE PkgConfig::SYSTEM_WOLFSSL)
  target_compile_definitions(ringftpd::wolfssl INTERFACE RINGFTPD_WOLFSSL_FALLBACK=1)
endif()

pkg_check_modules(LIBURING REQUIRED IMPORTED_TARGET liburing)
add_library(ringftpd::uring ALIAS PkgConfig::LIBURING)

pkg_check_modules(TOMLPP REQUIRED IMPORTED_TARGET tomlplusplus)
add_library(ringftpd::tomlplusplus ALIAS PkgConfig::TOMLPP)

pkg_check_modules(LIBCRYPT REQUIRED IMPORTED_TARGET libcrypt)
add_library(ringftpd::crypt ALIAS PkgConfig::LIBCRYPT)

# The worker's seccomp allowlist (server/process/seccomp_filter.cpp).
pkg_check_modules(LIBSECCOMP REQUIRED IMPORTED_TARGET libseccomp)
add_library(ringftpd::seccomp ALIAS PkgConfig::LIBSECCOMP)

# The [metrics] scrape endpoint, served by the metricsd helper (server/metrics/).
pkg_check_modules(LIBMICROHTTPD REQUIRED IMPORTED_TARGET libmicrohttpd)
add_library(ringftpd::microhttpd ALIAS PkgConfig::LIBMICROHTTPD)

# sd_notify: the master tells systemd when it is ready, reloading, stopping
# (server/process/service_notifier.cpp, dist/systemd/ringftpd.service).
pkg_check_modules(LIBSYSTEMD REQUIRED IMPORTED_TARGET libsystemd)
add_library(ringftpd::systemd ALIAS PkgConfig::LIBSYSTEMD)

# [shared]: TLS ticket keys and session ids shared across hosts through
# Redis, spoken only by the sharedd helper (server/shared/). Only the library:
# hiredis.pc's Cflags would put -D_FILE_OFFSET_BITS=64 on every file of
# ringftpd_server (renaming fstatat and friends to their *64 symbols) and
# /usr/include/hiredis, with its read.h and alloc.h, on the include path. The
# code includes <hiredis/hiredis.h>.
pkg_check_modules(HIREDIS REQUIRED hiredis)
add_library(ringftpd::hiredis INTERFACE IMPORTED)
set_target_properties(ringftpd::hiredis PROPERTIES
  INTERFACE_LINK_LIBRARIES "${HIREDIS_LINK_LIBRARIES}")

if(RINGFTPD_BUILD_TESTS)
  find_package(GTest REQUIRED)
endif()
if(RINGFTPD_BUILD_BENCH)
  find_package(benchmark REQUIRED)
endif()
