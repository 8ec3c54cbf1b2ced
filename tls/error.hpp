// The one exception type of tls/: thrown only by start-up and reload code
// (loading credentials, building contexts). The event loop's calls
// (tls::Session) report errors as values and never throw.
#pragma once

#include <stdexcept>
#include <string>

namespace ringftpd::tls {

// what() is one line meant for an operator, naming the file or setting at
// fault, e.g. "/etc/ringftpd/cert.pem: not a PEM certificate".
class TlsError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// "wolfSSL error -313: received alert fatal error", for a wolfSSL or wolfCrypt
// error code (negative numbers; both share one numbering).
[[nodiscard]] std::string wolfssl_error_text(int code);

}  // namespace ringftpd::tls
