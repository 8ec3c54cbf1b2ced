// The one door to wolfSSL's headers: options.h must come first, or the
// structures seen by our code and by the library disagree.
#pragma once

// clang-format off
#include <wolfssl/options.h>
#include <wolfssl/ssl.h>
// wolfCrypt, for certificate and key work (credentials.cpp, self_signed.cpp),
// ticket sealing and origin masks (ticket_keys.cpp) and random numbers (random.cpp).
#include <wolfssl/wolfcrypt/aes.h>
#include <wolfssl/wolfcrypt/asn_public.h>
#include <wolfssl/wolfcrypt/ecc.h>
#include <wolfssl/wolfcrypt/error-crypt.h>
#include <wolfssl/wolfcrypt/hash.h>
#include <wolfssl/wolfcrypt/hmac.h>
#include <wolfssl/wolfcrypt/random.h>
#include <wolfssl/wolfcrypt/rsa.h>
// clang-format on

#include <memory>

namespace ringftpd::tls {

struct CtxFree {
  void operator()(WOLFSSL_CTX* c) const noexcept { wolfSSL_CTX_free(c); }
};
struct SslFree {
  void operator()(WOLFSSL* s) const noexcept { wolfSSL_free(s); }
};
using CtxPtr = std::unique_ptr<WOLFSSL_CTX, CtxFree>;
using SslPtr = std::unique_ptr<WOLFSSL, SslFree>;
// A resumable TLS session (what a client keeps between connections).
struct SslSessionFree {
  void operator()(WOLFSSL_SESSION* s) const noexcept { wolfSSL_SESSION_free(s); }
};
using SslSessionPtr = std::unique_ptr<WOLFSSL_SESSION, SslSessionFree>;

}  // namespace ringftpd::tls
