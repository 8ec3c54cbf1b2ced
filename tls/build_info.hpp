// What the wolfSSL build in use can do; printed by `ringftpd --version` and
// checked at start-up (a slow crypto build is the easiest way to lose).
#pragma once

#include <string>

namespace ringftpd::tls {

struct BuildInfo {
  std::string wolfssl_version;  // the library's own version string
  bool intel_asm = false;       // USE_INTEL_SPEEDUP
  bool aesni = false;           // WOLFSSL_AESNI
  bool project_build = false;   // false: Debian's binary package (slow fallback)
};

[[nodiscard]] BuildInfo build_info();

// One line for logs and --version, e.g.
// "wolfSSL 5.5.4 (project build: intel asm on, AES-NI on)".
[[nodiscard]] std::string describe(const BuildInfo& info);

}  // namespace ringftpd::tls
