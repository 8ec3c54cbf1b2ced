#include "tls/build_info.hpp"

#include "tls/wolfssl.hpp"

namespace ringftpd::tls {

BuildInfo build_info() {
  BuildInfo info;
  info.wolfssl_version = wolfSSL_lib_version();
#ifdef USE_INTEL_SPEEDUP
  info.intel_asm = true;
#endif
#ifdef WOLFSSL_AESNI
  info.aesni = true;
#endif
  info.project_build = RINGFTPD_WOLFSSL_FALLBACK == 0;
  return info;
}

std::string describe(const BuildInfo& info) {
  std::string s = "wolfSSL " + info.wolfssl_version;
  s += info.project_build ? " (project build: " : " (Debian binary package, SLOW fallback: ";
  s += info.intel_asm ? "intel asm on, " : "intel asm OFF, ";
  s += info.aesni ? "AES-NI on)" : "AES-NI OFF)";
  return s;
}

}  // namespace ringftpd::tls
