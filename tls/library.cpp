#include "tls/library.hpp"

#include "tls/error.hpp"
#include "tls/wolfssl.hpp"

namespace ringftpd::tls {

Library::Library() {
  if (const int rc = wolfSSL_Init(); rc != WOLFSSL_SUCCESS) {
    throw TlsError("wolfSSL_Init failed: " + wolfssl_error_text(rc));
  }
}

Library::~Library() {
  wolfSSL_Cleanup();
}

}  // namespace ringftpd::tls
