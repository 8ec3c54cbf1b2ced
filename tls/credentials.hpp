// Server certificates and keys: loading and checking PEM files, and the
// first-run self-signed certificate.
//
// Everything here runs at start-up or on reload (master, or a worker building
// a new context), may block on the filesystem, and throws TlsError with one
// line naming the file and what is wrong. A tls::Library must be alive.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

#include "tls/error.hpp"

namespace ringftpd::tls {

// A certificate chain and its private key, as PEM text, already checked by
// load_credentials (or freshly generated). Self-contained: holds copies of the
// bytes, so the files may change afterwards (a reload reads them again).
// The key bytes are wiped from memory when the object is destroyed.
class Credentials {
 public:
  Credentials(std::string cert_chain_pem, std::string key_pem, std::filesystem::path cert_path,
              std::filesystem::path key_path);
  ~Credentials();
  Credentials(const Credentials&) = default;
  Credentials& operator=(const Credentials&) = default;
  Credentials(Credentials&&) noexcept = default;
  Credentials& operator=(Credentials&&) noexcept = default;

  // Leaf certificate first, then intermediates, as in the file.
  [[nodiscard]] const std::string& cert_chain_pem() const noexcept { return cert_chain_pem_; }
  [[nodiscard]] const std::string& key_pem() const noexcept { return key_pem_; }
  // Where the bytes came from (for messages); empty for in-memory credentials.
  [[nodiscard]] const std::filesystem::path& cert_path() const noexcept { return cert_path_; }
  [[nodiscard]] const std::filesystem::path& key_path() const noexcept { return key_path_; }

 private:
  std::string cert_chain_pem_;
  std::string key_pem_;
  std::filesystem::path cert_path_;
  std::filesystem::path key_path_;
};

// Reads and checks a PEM certificate chain and a PEM private key: both files
// readable; every certificate of the chain parses; the key (RSA or ECDSA,
// unencrypted; PKCS#1, SEC1 or PKCS#8) parses; the key matches the leaf.
// Throws TlsError, e.g. "/x/cert.pem: not a PEM certificate" or
// "/x/key.pem: key does not match certificate /x/cert.pem".
[[nodiscard]] Credentials load_credentials(const std::filesystem::path& cert_path,
                                           const std::filesystem::path& key_path);

// Checks credentials held in memory the same way (names in messages come from
// the paths stored in `creds`). load_credentials calls it.
void check_credentials(const Credentials& creds);

// A fresh ECDSA P-256 key and a self-signed X.509 v3 certificate for it
// (CN "ringftpd self-signed", SHA-256, valid 10 years), in memory only.
// Tests and benchmarks use it directly; ensure_self_signed writes it to disk.
[[nodiscard]] Credentials generate_self_signed();

struct CredentialPaths {
  std::filesystem::path cert;
  std::filesystem::path key;
  bool generated = false;  // true: made just now (the caller logs it)
};

// The first-run certificate: if state_dir/cert.pem and state_dir/key.pem exist,
// checks them (load_credentials) and returns their paths; if neither exists,
// generates a pair (generate_self_signed) and writes it atomically (temp file,
// fsync, rename): key.pem mode 0600, cert.pem mode 0644. state_dir is created
// with mode 0700 if missing (its parent must exist). If only one of the two
// files exists, throws rather than overwrite what may be an operator's file.
[[nodiscard]] CredentialPaths ensure_self_signed(const std::filesystem::path& state_dir);

// SHA-256 fingerprint of the first certificate in `cert_pem`, as upper-case
// hex pairs joined by ':' ("AB:CD:..."), the form clients show to users.
// Throws TlsError if there is no parsable PEM certificate.
[[nodiscard]] std::string fingerprint_sha256(std::string_view cert_pem);

}  // namespace ringftpd::tls
