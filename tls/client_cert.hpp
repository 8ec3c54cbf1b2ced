// Client certificates (DESIGN.md §4, last bullet; off by default).
//
// Server side: ServerOptions::client_certs and client_ca_pem make a
// ServerContext ask for a certificate (Optional) or insist on one (Required);
// a certificate that is presented must verify against client_ca_pem, or the
// handshake fails. After a *full* handshake, Session tells whether the client
// presented a verified certificate, its subject fields and its fingerprint
// (session.hpp). A resumed handshake carries no certificate: there the
// accessors report none, and what ties a data connection to the control
// connection's certificate is the resumption origin check (check_resumption).
//
// Client side (tests, ftpsload): ClientOptions::client_cert_pem/client_key_pem.
//
// This header is for the rest of tls/; context.cpp and session.cpp use it.
#pragma once

#include <span>
#include <string>

#include "tls/context.hpp"
#include "tls/wolfssl.hpp"

namespace ringftpd::tls::detail {

// Server: loads `ca_pem` as the trust anchors for client certificates and
// sets the verification mode. Off: no certificate requested (ca_pem ignored).
// Throws TlsError if the CA bundle is empty or does not parse.
void configure_client_certs(WOLFSSL_CTX* ctx, ServerOptions::ClientCertMode mode,
                            const std::string& ca_pem);

// Client: the certificate (chain) and key to present when asked. Both empty:
// none. Throws TlsError if only one is given, either does not parse, or the
// key does not match the certificate.
void use_client_certificate(WOLFSSL_CTX* ctx, const std::string& cert_pem,
                            const std::string& key_pem);

// SHA-256 of DER bytes as "AB:CD:..." (the form of fingerprint_sha256).
[[nodiscard]] std::string fingerprint_of_der(std::span<const unsigned char> der);

}  // namespace ringftpd::tls::detail
