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
// - Session resumption (resumption.hpp) is always on: session tickets for
//   TLS 1.2 and 1.3 and TLS 1.2 session IDs, sealed and cached by the
//   context's Resumption. Pass the same Resumption to successive contexts of
//   a worker (certificate reloads) so that their tickets stay valid, and give
//   every worker's Resumption the master's SharedTlsState so that each
//   resumes the others' sessions.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "tls/credentials.hpp"
#include "tls/resumption.hpp"
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

inline constexpr std::chrono::seconds kDefaultSessionLifetime = std::chrono::hours(8);

// What the server offers. Fixed choices (DESIGN.md §4): Extended Master
// Secret on (wolfSSL's default in this build), full 16 KiB records (no
// max_fragment_length negotiation), ALPN "ftp" selected when the client offers
// it (a client offering only other protocols gets no ALPN, not an alert),
// no client certificates requested unless client_certs says so.
struct ServerOptions : ProtocolOptions {
  // How long a TLS session stays resumable: the TLS 1.3 ticket lifetime, the
  // TLS 1.2 ticket hint and session timeout, and the expiry of origin records.
  // Long, because FTP sessions last hours (DESIGN.md §4). 1 s .. 7 days.
  std::chrono::seconds session_lifetime = kDefaultSessionLifetime;
  // Client certificates (client_cert.hpp). Optional: asked for; a client may
  // send none, but one it sends must verify. Required: a client without a
  // verifying certificate fails the handshake. A resumed handshake carries
  // no certificate in either mode.
  enum class ClientCertMode : std::uint8_t { Off, Optional, Required };
  ClientCertMode client_certs = ClientCertMode::Off;
  // PEM bundle of the CAs client certificates must chain to (not Off: needed;
  // a bundle that does not parse throws TlsError).
  std::string client_ca_pem;
};

class ServerContext {
 public:
  // `resumption` null: a private one with default options.
  ServerContext(const Credentials& creds, const ServerOptions& options = {},
                std::shared_ptr<Resumption> resumption = nullptr);

  [[nodiscard]] WOLFSSL_CTX* native_handle() const noexcept { return ctx_.get(); }
  [[nodiscard]] const std::shared_ptr<Resumption>& resumption() const noexcept {
    return resumption_;
  }
  [[nodiscard]] std::chrono::seconds session_lifetime() const noexcept { return lifetime_; }
  // A fresh random origin for a new control connection (Session::set_origin);
  // 0 only if the DRBG failed.
  [[nodiscard]] std::uint64_t new_origin() const noexcept { return resumption_->new_origin(); }

 private:
  CtxPtr ctx_;
  std::shared_ptr<Resumption> resumption_;
  std::chrono::seconds lifetime_;
};

struct ClientOptions : ProtocolOptions {
  // Empty: no peer verification (tests, benchmarks, a load generator aimed at
  // a self-signed server). Otherwise PEM trust anchors; the server's chain
  // must verify against them (no host name check).
  std::string trusted_ca_pem;
  // Offer ALPN "ftp" in the ClientHello.
  bool offer_alpn_ftp = false;
  // Ask for TLS 1.2 session tickets, as real clients do (off: TLS 1.2
  // resumption by session ID only). TLS 1.3 always uses tickets.
  bool tls12_session_tickets = true;
  // A certificate (chain, leaf first) and its key, presented when the server
  // asks for one. Both empty: none; only one given throws TlsError.
  std::string client_cert_pem;
  std::string client_key_pem;
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
