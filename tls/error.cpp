#include "tls/error.hpp"

#include <array>

#include "tls/wolfssl.hpp"

namespace ringftpd::tls {

std::string wolfssl_error_text(int code) {
  std::array<char, WOLFSSL_MAX_ERROR_SZ> buf{};
  // wolfSSL takes the (negative) code as an unsigned long and casts it back.
  wolfSSL_ERR_error_string_n(static_cast<unsigned long>(static_cast<long>(code)), buf.data(),
                             buf.size());
  return "wolfSSL error " + std::to_string(code) + ": " + buf.data();
}

}  // namespace ringftpd::tls
