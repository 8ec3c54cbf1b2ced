// wolfSSL contexts: the per-worker settings every tls::Session is made from.
//
// Contract:
// - Built at start-up or on reload (they throw TlsError), in the process that
//   uses them, after fork (see library.hpp). One per worker; not thread-safe.
// - A Session holds a counted reference to its context's WOLFSSL_CTX (wolfSSL
//   reference-counts it), so a context object may be destroyed while sessions
//   made from it live on: a certificate reload builds a new ServerContext for
//   new sessions while existing ones keep the old certificate (DESIGN.md §4).
// - native_handle() is for the rest of tls/ (session cache, ticket keys);
//   code outside tls/ should not need it.
#pragma once

#include <cstdint>
#include <string>

#include "tls/credentials.hpp"
#include "tls/wolfssl.hpp"

namespace ringftpd::tls {

enum class Version : std::uint8_t { Tls12, Tls13 };

// Defaults when no list is configured: forward-secret AEAD suites only.
// Names are wolfSSL's (OpenSSL-style for TLS 1.2; IANA names such as
// "TLS_AES_128_GCM_SHA256" are accepted too), ':'-separated.
inline constexpr char kDefaultTls12Ciphers[] =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-RSA-CHACHA20-POLY1305";
inline constexpr char kDefaultTls13Ciphers[] =
    "TLS13-AES128-GCM-SHA256:TLS13-AES256-GCM-SHA384:TLS13-CHACHA20-POLY1305-SHA256";

struct ProtocolOptions {
  Version min_version = Version::Tls12;
  Version max_version = Version::Tls13;
  // Empty: the kDefault list. Every name must be known to wolfSSL (an unknown
  // one throws, where wolfSSL alone would silently skip it); no OpenSSL
  // "!aNULL"/"HIGH" syntax. Order is preference order.
  std::string tls12_ciphers;
  std::string tls13_ciphers;
};

// What the server offers. Fixed choices (DESIGN.md §4): Extended Master
// Secret on (wolfSSL's default in this build), full 16 KiB records (no
// max_fragment_length negotiation), ALPN "ftp" selected when the client offers
// it (a client offering only other protocols gets no ALPN, not an alert),
// no client certificates requested.
struct ServerOptions : ProtocolOptions {};

class ServerContext {
 public:
  ServerContext(const Credentials& creds, const ServerOptions& options = {});

  [[nodiscard]] WOLFSSL_CTX* native_handle() const noexcept { return ctx_.get(); }

 private:
  CtxPtr ctx_;
};

struct ClientOptions : ProtocolOptions {
  // Empty: no peer verification (tests, benchmarks, a load generator aimed at
  // a self-signed server). Otherwise PEM trust anchors; the server's chain
  // must verify against them (no host name check).
  std::string trusted_ca_pem;
  // Offer ALPN "ftp" in the ClientHello.
  bool offer_alpn_ftp = false;
};

class ClientContext {
 public:
  explicit ClientContext(const ClientOptions& options = {});

  [[nodiscard]] WOLFSSL_CTX* native_handle() const noexcept { return ctx_.get(); }
  [[nodiscard]] bool offers_alpn_ftp() const noexcept { return offer_alpn_ftp_; }

 private:
  CtxPtr ctx_;
  bool offer_alpn_ftp_ = false;
};

}  // namespace ringftpd::tls
