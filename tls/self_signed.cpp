// generate_self_signed(): the first-run certificate, made with wolfCrypt.
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "tls/credentials.hpp"
#include "tls/wolfssl.hpp"

namespace ringftpd::tls {

namespace {

constexpr int kValidDays = 3650;  // 10 years: a first-run certificate nobody renews
constexpr char kCommonName[] = "ringftpd self-signed";
constexpr char kOrganization[] = "ringftpd";

void check(int rc, const char* what) {
  if (rc < 0)
    throw TlsError(std::string("self-signed certificate: ") + what + ": " + wolfssl_error_text(rc));
}

class Rng {
 public:
  Rng() { check(wc_InitRng(&rng_), "wc_InitRng"); }
  ~Rng() { wc_FreeRng(&rng_); }
  Rng(const Rng&) = delete;
  Rng& operator=(const Rng&) = delete;
  WC_RNG* get() noexcept { return &rng_; }

 private:
  WC_RNG rng_{};
};

class EccKey {
 public:
  EccKey() { check(wc_ecc_init(&key_), "wc_ecc_init"); }
  ~EccKey() { wc_ecc_free(&key_); }  // wc_ecc_free zeroes the private scalar
  EccKey(const EccKey&) = delete;
  EccKey& operator=(const EccKey&) = delete;
  ecc_key* get() noexcept { return &key_; }

 private:
  ecc_key key_{};
};

// Wipes secret DER bytes before the memory goes back to the heap.
struct SecretBytes {
  std::vector<unsigned char> bytes;
  explicit SecretBytes(std::size_t n) : bytes(n) {}
  SecretBytes(const SecretBytes&) = delete;
  SecretBytes& operator=(const SecretBytes&) = delete;
  ~SecretBytes() { explicit_bzero(bytes.data(), bytes.size()); }
};

std::string der_to_pem(const unsigned char* der, int der_size, int type) {
  // Base64 grows 4/3, plus a newline per 64 characters and the two markers.
  std::string pem(static_cast<std::size_t>(der_size) * 2 + 128, '\0');
  const int n =
      wc_DerToPem(der, static_cast<word32>(der_size), reinterpret_cast<unsigned char*>(pem.data()),
                  static_cast<word32>(pem.size()), type);
  check(n, "wc_DerToPem");
  pem.resize(static_cast<std::size_t>(n));
  return pem;
}

void copy_name(char (&field)[CTC_NAME_SIZE], const char* value) {
  std::strncpy(field, value, CTC_NAME_SIZE - 1);
  field[CTC_NAME_SIZE - 1] = '\0';
}

}  // namespace

Credentials generate_self_signed() {
  Rng rng;
  EccKey key;
  check(wc_ecc_make_key_ex(rng.get(), 32, key.get(), ECC_SECP256R1), "P-256 key generation");

  // Cert is several KiB; keep it off the stack.
  auto cert = std::make_unique<Cert>();
  check(wc_InitCert(cert.get()), "wc_InitCert");
  copy_name(cert->subject.commonName, kCommonName);
  copy_name(cert->subject.org, kOrganization);
  cert->sigType = CTC_SHA256wECDSA;
  cert->daysValid = kValidDays;  // wolfSSL backdates notBefore by a day for clock skew
  cert->selfSigned = 1;
  cert->isCA = 0;
  // No subjectAltName (IP 127.0.0.1, DNS localhost): the project's wolfSSL
  // build does not define WOLFSSL_ALT_NAMES, so Cert has no altNames field and
  // wc_SetAltNamesBuffer can only copy SANs out of another DER certificate.
  // Clients that verify names must be told to trust this certificate by
  // fingerprint anyway; an operator who needs SANs supplies their own pair.
  check(wc_SetSubjectKeyIdFromPublicKey_ex(cert.get(), ECC_TYPE, key.get()), "subject key id");
  check(wc_SetKeyUsage(cert.get(), "digitalSignature"), "key usage");
  check(wc_SetExtKeyUsage(cert.get(), "serverAuth"), "extended key usage");

  std::vector<unsigned char> der(4096);
  check(wc_MakeCert_ex(cert.get(), der.data(), static_cast<word32>(der.size()), ECC_TYPE, key.get(),
                       rng.get()),
        "wc_MakeCert_ex");
  const int cert_size =
      wc_SignCert_ex(cert->bodySz, cert->sigType, der.data(), static_cast<word32>(der.size()),
                     ECC_TYPE, key.get(), rng.get());
  check(cert_size, "wc_SignCert_ex");
  std::string cert_pem = der_to_pem(der.data(), cert_size, CERT_TYPE);

  SecretBytes key_der(512);
  const int key_size =
      wc_EccKeyToDer(key.get(), key_der.bytes.data(), static_cast<word32>(key_der.bytes.size()));
  check(key_size, "wc_EccKeyToDer");
  std::string key_pem = der_to_pem(key_der.bytes.data(), key_size, ECC_PRIVATEKEY_TYPE);

  return Credentials(std::move(cert_pem), std::move(key_pem), {}, {});
}

}  // namespace ringftpd::tls
