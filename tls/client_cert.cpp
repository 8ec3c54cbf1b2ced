// Client certificates: the server's verification settings, the client's
// certificate, and Session's peer-certificate accessors (session.hpp).
#include "tls/client_cert.hpp"

#include <memory>
#include <string>
#include <string_view>

#include "tls/error.hpp"
#include "tls/session.hpp"

namespace ringftpd::tls {

namespace {

const unsigned char* bytes_of(const std::string& s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

struct X509Free {
  void operator()(WOLFSSL_X509* x) const noexcept { wolfSSL_X509_free(x); }
};
using X509Ptr = std::unique_ptr<WOLFSSL_X509, X509Free>;

int nid_of(std::string_view field) noexcept {
  if (field == "CN") return NID_commonName;
  if (field == "emailAddress") return NID_emailAddress;
  if (field == "UID") return NID_userId;
  return 0;
}

}  // namespace

namespace detail {

void configure_client_certs(WOLFSSL_CTX* ctx, ServerOptions::ClientCertMode mode,
                            const std::string& ca_pem) {
  using Mode = ServerOptions::ClientCertMode;
  if (mode == Mode::Off) {
    wolfSSL_CTX_set_verify(ctx, WOLFSSL_VERIFY_NONE, nullptr);
    return;
  }
  if (ca_pem.find("-----BEGIN CERTIFICATE-----") == std::string::npos) {
    throw TlsError("client certificate CA: not a PEM certificate bundle");
  }
  if (const int rc = wolfSSL_CTX_load_verify_buffer(
          ctx, bytes_of(ca_pem), static_cast<long>(ca_pem.size()), WOLFSSL_FILETYPE_PEM);
      rc != WOLFSSL_SUCCESS) {
    throw TlsError("client certificate CA rejected: " + wolfssl_error_text(rc));
  }
  int flags = WOLFSSL_VERIFY_PEER;
  if (mode == Mode::Required) flags |= WOLFSSL_VERIFY_FAIL_IF_NO_PEER_CERT;
  wolfSSL_CTX_set_verify(ctx, flags, nullptr);
}

void use_client_certificate(WOLFSSL_CTX* ctx, const std::string& cert_pem,
                            const std::string& key_pem) {
  if (cert_pem.empty() && key_pem.empty()) return;
  if (cert_pem.empty() || key_pem.empty()) {
    throw TlsError("client certificate: both a certificate and its key are needed");
  }
  if (const int rc = wolfSSL_CTX_use_certificate_chain_buffer(ctx, bytes_of(cert_pem),
                                                              static_cast<long>(cert_pem.size()));
      rc != WOLFSSL_SUCCESS) {
    throw TlsError("client certificate rejected: " + wolfssl_error_text(rc));
  }
  if (const int rc = wolfSSL_CTX_use_PrivateKey_buffer(
          ctx, bytes_of(key_pem), static_cast<long>(key_pem.size()), WOLFSSL_FILETYPE_PEM);
      rc != WOLFSSL_SUCCESS) {
    throw TlsError("client certificate key rejected: " + wolfssl_error_text(rc));
  }
  if (wolfSSL_CTX_check_private_key(ctx) != WOLFSSL_SUCCESS) {
    throw TlsError("client certificate: key does not match certificate");
  }
}

std::string fingerprint_of_der(std::span<const unsigned char> der) {
  unsigned char digest[WC_SHA256_DIGEST_SIZE];
  if (der.empty() || wc_Sha256Hash(der.data(), static_cast<word32>(der.size()), digest) != 0) {
    return {};
  }
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(sizeof digest * 3);
  for (const unsigned char b : digest) {
    if (!out.empty()) out += ':';
    out += kHex[b >> 4];
    out += kHex[b & 0xF];
  }
  return out;
}

}  // namespace detail

// --- Session's peer-certificate accessors --------------------------------------

namespace {

// The certificate the peer presented in a full handshake, or null.
X509Ptr peer_certificate(WOLFSSL* ssl, bool handshake_done) noexcept {
  if (ssl == nullptr || !handshake_done) return nullptr;
  return X509Ptr(wolfSSL_get_peer_certificate(ssl));  // a copy we own
}

}  // namespace

bool Session::has_verified_peer_certificate() const noexcept {
  // Server only: a server asks for a certificate only when it verifies one
  // (a client with no trust anchors keeps an unverified server certificate).
  if (!ssl_ || !is_server_) return false;
  return peer_certificate(ssl_.get(), handshake_done_) != nullptr &&
         wolfSSL_get_verify_result(ssl_.get()) == X509_V_OK;
}

std::string Session::peer_certificate_field(std::string_view field) const {
  const int nid = nid_of(field);
  if (nid == 0) return {};
  const X509Ptr cert = peer_certificate(ssl_.get(), handshake_done_);
  if (!cert) return {};
  WOLFSSL_X509_NAME* subject = wolfSSL_X509_get_subject_name(cert.get());
  const int size = wolfSSL_X509_NAME_get_text_by_NID(subject, nid, nullptr, 0);
  if (size <= 0) return {};
  std::string text(static_cast<std::size_t>(size) + 1, '\0');
  const int got = wolfSSL_X509_NAME_get_text_by_NID(subject, nid, text.data(), size + 1);
  if (got <= 0) return {};
  text.resize(static_cast<std::size_t>(got));
  return text;
}

std::string Session::peer_certificate_fingerprint() const {
  const X509Ptr cert = peer_certificate(ssl_.get(), handshake_done_);
  if (!cert) return {};
  int size = 0;
  const unsigned char* der = wolfSSL_X509_get_der(cert.get(), &size);
  if (der == nullptr || size <= 0) return {};
  return detail::fingerprint_of_der({der, static_cast<std::size_t>(size)});
}

}  // namespace ringftpd::tls
