#include "tls/context.hpp"

#include <string>
#include <string_view>
#include <utility>

#include "tls/client_cert.hpp"

namespace ringftpd::tls {

namespace {

int wire_version(Version v) {
  return v == Version::Tls13 ? TLS1_3_VERSION : TLS1_2_VERSION;
}

// Sets the cipher suites of `ctx` from `options`, after checking each name on
// its own: wolfSSL accepts a list as long as one name in it is known, so a
// typo in a configured list would otherwise vanish without a word.
void set_ciphers(WOLFSSL_CTX* ctx, const ProtocolOptions& options) {
  std::string list;
  auto append = [&list](std::string_view names) {
    if (!list.empty()) list += ':';
    list += names;
  };
  if (options.max_version == Version::Tls13) {
    append(options.tls13_ciphers.empty() ? kDefaultTls13Ciphers : options.tls13_ciphers);
  }
  if (options.min_version == Version::Tls12) {
    append(options.tls12_ciphers.empty() ? kDefaultTls12Ciphers : options.tls12_ciphers);
  }
  std::string_view rest = list;
  while (!rest.empty()) {
    const std::size_t colon = rest.find(':');
    const std::string name(rest.substr(0, colon));
    rest = colon == std::string_view::npos ? std::string_view{} : rest.substr(colon + 1);
    if (name.empty()) continue;
    if (wolfSSL_CTX_set_cipher_list(ctx, name.c_str()) != WOLFSSL_SUCCESS) {
      throw TlsError("unknown or unsupported cipher suite \"" + name + "\"");
    }
  }
  if (wolfSSL_CTX_set_cipher_list(ctx, list.c_str()) != WOLFSSL_SUCCESS) {
    throw TlsError("cipher suite list rejected by wolfSSL: " + list);
  }
}

// `method` is a factory (wolfTLS_server_method...): the method object it
// allocates is owned by the context, so make it only once nothing can throw
// before wolfSSL_CTX_new takes it.
CtxPtr make_ctx(WOLFSSL_METHOD* (*method)(), const ProtocolOptions& options) {
  if (options.min_version == Version::Tls13 && options.max_version == Version::Tls12) {
    throw TlsError("TLS min_version (1.3) is above max_version (1.2)");
  }
  CtxPtr ctx(wolfSSL_CTX_new(method()));
  if (!ctx) throw TlsError("wolfSSL_CTX_new failed (out of memory?)");
  if (wolfSSL_CTX_set_min_proto_version(ctx.get(), wire_version(options.min_version)) !=
          WOLFSSL_SUCCESS ||
      wolfSSL_CTX_set_max_proto_version(ctx.get(), wire_version(options.max_version)) !=
          WOLFSSL_SUCCESS) {
    throw TlsError("wolfSSL refused the TLS version range");
  }
  set_ciphers(ctx.get(), options);
  return ctx;
}

const unsigned char* bytes_of(const std::string& s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

}  // namespace

ServerContext::ServerContext(const Credentials& creds, const ServerOptions& options,
                             std::shared_ptr<Resumption> resumption)
    : ctx_(make_ctx(&wolfTLS_server_method, options)),
      resumption_(resumption ? std::move(resumption) : std::make_shared<Resumption>()),
      lifetime_(options.session_lifetime) {
  const std::string& chain = creds.cert_chain_pem();
  const std::string& key = creds.key_pem();
  if (const int rc = wolfSSL_CTX_use_certificate_chain_buffer(ctx_.get(), bytes_of(chain),
                                                              static_cast<long>(chain.size()));
      rc != WOLFSSL_SUCCESS) {
    throw TlsError(creds.cert_path().string() +
                   ": certificate chain rejected: " + wolfssl_error_text(rc));
  }
  if (const int rc = wolfSSL_CTX_use_PrivateKey_buffer(
          ctx_.get(), bytes_of(key), static_cast<long>(key.size()), WOLFSSL_FILETYPE_PEM);
      rc != WOLFSSL_SUCCESS) {
    throw TlsError(creds.key_path().string() + ": private key rejected: " + wolfssl_error_text(rc));
  }
  if (wolfSSL_CTX_check_private_key(ctx_.get()) != WOLFSSL_SUCCESS) {
    throw TlsError(creds.key_path().string() + ": key does not match certificate " +
                   creds.cert_path().string());
  }
  // Client certificates (DESIGN.md §4): off unless configured.
  detail::configure_client_certs(ctx_.get(), options.client_certs, options.client_ca_pem);
  detail::install_resumption(ctx_.get(), lifetime_);
  wolfSSL_ERR_clear_error();
}

ClientContext::ClientContext(const ClientOptions& options)
    : ctx_(make_ctx(&wolfTLS_client_method, options)), offer_alpn_ftp_(options.offer_alpn_ftp) {
  if (options.trusted_ca_pem.empty()) {
    wolfSSL_CTX_set_verify(ctx_.get(), WOLFSSL_VERIFY_NONE, nullptr);
  } else {
    const std::string& ca = options.trusted_ca_pem;
    if (const int rc = wolfSSL_CTX_load_verify_buffer(
            ctx_.get(), bytes_of(ca), static_cast<long>(ca.size()), WOLFSSL_FILETYPE_PEM);
        rc != WOLFSSL_SUCCESS) {
      throw TlsError("trusted CA certificates rejected: " + wolfssl_error_text(rc));
    }
    wolfSSL_CTX_set_verify(ctx_.get(), WOLFSSL_VERIFY_PEER, nullptr);
  }
  detail::use_client_certificate(ctx_.get(), options.client_cert_pem, options.client_key_pem);
  if (options.tls12_session_tickets &&
      wolfSSL_CTX_UseSessionTicket(ctx_.get()) != WOLFSSL_SUCCESS) {
    throw TlsError("wolfSSL refused session tickets");
  }
  wolfSSL_ERR_clear_error();
}

}  // namespace ringftpd::tls
