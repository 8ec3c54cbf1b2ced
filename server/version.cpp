#include "server/version.hpp"

#include "tls/build_info.hpp"

namespace ringftpd::server {

std::string version_text() {
  const tls::BuildInfo tls = tls::build_info();
  std::string s = "ringftpd " RINGFTPD_VERSION "\n";
  s += tls::describe(tls) + "\n";
  if (!tls.project_build) {
    s += "WARNING: built against Debian's binary libwolfssl (no intel asm): TLS is slow. "
         "Run tools/install-deps.sh and rebuild.\n";
  }
  return s;
}

}  // namespace ringftpd::server
