#include "tls/credentials.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "tls/client_cert.hpp"
#include "tls/wolfssl.hpp"

namespace ringftpd::tls {

namespace fs = std::filesystem;

namespace {

// A certificate or key file is a few KiB; anything this large is a mistake
// (a wrong path pointing at a log or a disk image), not something to slurp.
constexpr std::size_t kMaxPemFileBytes = 1 << 20;

class Fd {
 public:
  explicit Fd(int fd) noexcept : fd_(fd) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  [[nodiscard]] int get() const noexcept { return fd_; }
  [[nodiscard]] int release() noexcept { return std::exchange(fd_, -1); }

 private:
  int fd_;
};

[[noreturn]] void fail(const fs::path& path, const std::string& what) {
  throw TlsError(path.string() + ": " + what);
}

[[noreturn]] void fail_errno(const fs::path& path, const char* action, int err) {
  fail(path, std::string(action) + ": " + std::strerror(err));
}

std::string read_pem_file(const fs::path& path) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) fail_errno(path, "cannot read", errno);
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) fail_errno(path, "cannot read", errno);
  if (!S_ISREG(st.st_mode)) fail(path, "not a regular file");
  if (static_cast<std::size_t>(st.st_size) > kMaxPemFileBytes) {
    fail(path, "larger than 1 MiB, not a PEM file");
  }
  std::string text(static_cast<std::size_t>(st.st_size), '\0');
  std::size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::read(fd.get(), text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) fail_errno(path, "cannot read", errno);
    if (n == 0) break;  // the file shrank under us; take what is there
    done += static_cast<std::size_t>(n);
  }
  text.resize(done);
  return text;
}

// Every "-----BEGIN <label>-----" ... "-----END <label>-----" block, markers
// included (what wolfSSL's PEM decoders expect). Text around blocks (comments,
// OpenSSL's "Bag Attributes") is ignored, as every TLS library does.
std::vector<std::string_view> pem_blocks(std::string_view text, std::string_view label) {
  const std::string begin = "-----BEGIN " + std::string(label) + "-----";
  const std::string end = "-----END " + std::string(label) + "-----";
  std::vector<std::string_view> blocks;
  std::size_t pos = 0;
  while ((pos = text.find(begin, pos)) != std::string_view::npos) {
    const std::size_t stop = text.find(end, pos + begin.size());
    if (stop == std::string_view::npos) {
      blocks.push_back(text.substr(pos));  // truncated: let the decoder reject it
      break;
    }
    blocks.push_back(text.substr(pos, stop + end.size() - pos));
    pos = stop + end.size();
  }
  return blocks;
}

// DER bytes of one PEM certificate block; empty if it does not decode.
std::vector<unsigned char> cert_block_to_der(std::string_view block) {
  std::vector<unsigned char> der(block.size());
  const int n = wc_CertPemToDer(reinterpret_cast<const unsigned char*>(block.data()),
                                static_cast<int>(block.size()), der.data(),
                                static_cast<int>(der.size()), CERT_TYPE);
  der.resize(n > 0 ? static_cast<std::size_t>(n) : 0);
  return der;
}

void check_chain_text(const fs::path& path, std::string_view pem) {
  const auto blocks = pem_blocks(pem, "CERTIFICATE");
  if (blocks.empty()) {
    if (pem.find("PRIVATE KEY-----") != std::string_view::npos) {
      fail(path, "holds a private key, not a certificate (are cert and key swapped?)");
    }
    fail(path, "not a PEM certificate");
  }
  for (std::size_t i = 0; i < blocks.size(); ++i) {
    const std::string which = blocks.size() == 1 ? std::string("certificate")
                                                 : "certificate " + std::to_string(i + 1) + " of " +
                                                       std::to_string(blocks.size());
    const auto der = cert_block_to_der(blocks[i]);
    if (der.empty()) fail(path, which + " is not valid PEM (bad base64 or truncated)");
    WOLFSSL_X509* x509 = wolfSSL_X509_load_certificate_buffer(
        der.data(), static_cast<int>(der.size()), WOLFSSL_FILETYPE_ASN1);
    if (x509 == nullptr) fail(path, which + " does not parse as X.509");
    wolfSSL_X509_free(x509);
  }
}

// True if the PEM private key decodes as RSA or ECDSA. wolfSSL's own loader
// is not enough: it trusts the PEM label ("EC PRIVATE KEY") and accepts
// undecodable contents under it.
bool key_decodes(std::string_view pem) {
  std::vector<unsigned char> der(pem.size());
  const int n = wc_KeyPemToDer(reinterpret_cast<const unsigned char*>(pem.data()),
                               static_cast<int>(pem.size()), der.data(),
                               static_cast<int>(der.size()), nullptr);
  bool ok = false;
  if (n > 0) {
    const auto size = static_cast<word32>(n);
    word32 start = 0;
    if (wc_GetPkcs8TraditionalOffset(der.data(), &start, size) < 0) start = 0;
    RsaKey rsa;
    if (wc_InitRsaKey(&rsa, nullptr) == 0) {
      word32 idx = start;
      ok = wc_RsaPrivateKeyDecode(der.data(), &idx, &rsa, size) == 0;
      wc_FreeRsaKey(&rsa);
    }
    ecc_key ecc;
    if (!ok && wc_ecc_init(&ecc) == 0) {
      word32 idx = start;
      ok = wc_EccPrivateKeyDecode(der.data(), &idx, &ecc, size) == 0;
      wc_ecc_free(&ecc);
    }
  }
  explicit_bzero(der.data(), der.size());
  return ok;
}

void check_key_text(const fs::path& path, std::string_view pem) {
  if (pem.find("-----BEGIN ENCRYPTED PRIVATE KEY-----") != std::string_view::npos ||
      pem.find("Proc-Type: 4,ENCRYPTED") != std::string_view::npos) {
    fail(path, "encrypted private keys are not supported (store the key unencrypted, mode 0600)");
  }
  const std::size_t begin = pem.find("-----BEGIN ");
  if (begin == std::string_view::npos ||
      pem.find("PRIVATE KEY-----", begin) == std::string_view::npos) {
    if (pem.find("-----BEGIN CERTIFICATE-----") != std::string_view::npos) {
      fail(path, "holds a certificate, not a private key (are cert and key swapped?)");
    }
    fail(path, "not a PEM private key");
  }
  if (!key_decodes(pem))
    fail(path, "private key does not parse (unencrypted RSA or ECDSA expected)");
}

// Writes `bytes` to `path` so that readers see either the old file or the
// whole new one: temp file in the same directory, exact mode (umask aside),
// fsync, rename.
void write_file_atomically(const fs::path& path, std::string_view bytes, mode_t mode) {
  const fs::path tmp = path.string() + ".tmp";
  ::unlink(tmp.c_str());  // a leftover of a crash; O_EXCL below refuses anything else
  Fd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode));
  if (fd.get() < 0) fail_errno(tmp, "cannot create", errno);
  auto fail_and_unlink = [&](const char* action) {
    const int err = errno;
    ::unlink(tmp.c_str());
    fail_errno(tmp, action, err);
  };
  if (::fchmod(fd.get(), mode) != 0) fail_and_unlink("cannot chmod");
  std::size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::write(fd.get(), bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) fail_and_unlink("cannot write");
    done += static_cast<std::size_t>(n);
  }
  if (::fsync(fd.get()) != 0) fail_and_unlink("cannot fsync");
  if (::close(fd.release()) != 0) fail_and_unlink("cannot close");
  if (::rename(tmp.c_str(), path.c_str()) != 0) fail_and_unlink("cannot rename into place");
}

void fsync_dir(const fs::path& dir) {
  Fd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (fd.get() < 0 || ::fsync(fd.get()) != 0) fail_errno(dir, "cannot fsync directory", errno);
}

void ensure_state_dir(const fs::path& dir) {
  if (::mkdir(dir.c_str(), 0700) == 0) return;
  if (errno != EEXIST) fail_errno(dir, "cannot create state directory", errno);
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0) fail_errno(dir, "cannot stat state directory", errno);
  if (!S_ISDIR(st.st_mode)) fail(dir, "state directory path exists but is not a directory");
}

bool file_exists(const fs::path& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0) return true;
  if (errno == ENOENT) return false;
  fail_errno(path, "cannot stat", errno);
}

}  // namespace

Credentials::Credentials(std::string cert_chain_pem, std::string key_pem, fs::path cert_path,
                         fs::path key_path)
    : cert_chain_pem_(std::move(cert_chain_pem)),
      key_pem_(std::move(key_pem)),
      cert_path_(std::move(cert_path)),
      key_path_(std::move(key_path)) {}

Credentials::~Credentials() {
  // Threat: key bytes lingering in freed heap memory, later exposed by a
  // core dump or an over-read elsewhere in the process.
  explicit_bzero(key_pem_.data(), key_pem_.size());
}

void check_credentials(const Credentials& creds) {
  const fs::path& cert_path = creds.cert_path();
  const fs::path& key_path = creds.key_path();
  check_chain_text(cert_path, creds.cert_chain_pem());
  check_key_text(key_path, creds.key_pem());

  // Let wolfSSL itself load the pair into a throwaway context: what it
  // accepts here is exactly what ServerContext will accept later.
  CtxPtr ctx(wolfSSL_CTX_new(wolfTLS_server_method()));
  if (!ctx) throw TlsError("wolfSSL_CTX_new failed (out of memory?)");
  const auto& key = creds.key_pem();
  int rc = wolfSSL_CTX_use_PrivateKey_buffer(ctx.get(),
                                             reinterpret_cast<const unsigned char*>(key.data()),
                                             static_cast<long>(key.size()), WOLFSSL_FILETYPE_PEM);
  if (rc != WOLFSSL_SUCCESS) {
    fail(key_path, "private key does not parse (unencrypted RSA or ECDSA expected; " +
                       wolfssl_error_text(rc) + ")");
  }
  const auto& chain = creds.cert_chain_pem();
  rc = wolfSSL_CTX_use_certificate_chain_buffer(
      ctx.get(), reinterpret_cast<const unsigned char*>(chain.data()),
      static_cast<long>(chain.size()));
  if (rc != WOLFSSL_SUCCESS) {
    fail(cert_path, "certificate chain rejected by wolfSSL (" + wolfssl_error_text(rc) + ")");
  }
  if (wolfSSL_CTX_check_private_key(ctx.get()) != WOLFSSL_SUCCESS) {
    fail(key_path, "key does not match certificate " + cert_path.string());
  }
  wolfSSL_ERR_clear_error();
}

Credentials load_credentials(const fs::path& cert_path, const fs::path& key_path) {
  std::string chain = read_pem_file(cert_path);
  std::string key = read_pem_file(key_path);
  Credentials creds(std::move(chain), std::move(key), cert_path, key_path);
  check_credentials(creds);
  return creds;
}

CredentialPaths ensure_self_signed(const fs::path& state_dir) {
  ensure_state_dir(state_dir);
  CredentialPaths paths{state_dir / "cert.pem", state_dir / "key.pem", false};
  const bool have_cert = file_exists(paths.cert);
  const bool have_key = file_exists(paths.key);
  if (have_cert && have_key) {
    (void)load_credentials(paths.cert, paths.key);
    return paths;
  }
  if (have_cert != have_key) {
    const fs::path& present = have_cert ? paths.cert : paths.key;
    const fs::path& missing = have_cert ? paths.key : paths.cert;
    fail(missing, "missing while " + present.string() +
                      " exists; restore it, or remove both to generate a new self-signed pair");
  }
  const Credentials fresh = generate_self_signed();
  // Key first: a crash between the two renames leaves a key without a
  // certificate, which the check above reports instead of silently replacing.
  write_file_atomically(paths.key, fresh.key_pem(), 0600);
  write_file_atomically(paths.cert, fresh.cert_chain_pem(), 0644);
  fsync_dir(state_dir);
  paths.generated = true;
  return paths;
}

std::string fingerprint_sha256(std::string_view cert_pem) {
  const auto blocks = pem_blocks(cert_pem, "CERTIFICATE");
  const auto der = blocks.empty() ? std::vector<unsigned char>{} : cert_block_to_der(blocks[0]);
  if (der.empty()) throw TlsError("fingerprint: not a PEM certificate");
  std::string out = detail::fingerprint_of_der(der);
  if (out.empty()) throw TlsError("fingerprint: SHA-256 failed");
  return out;
}

}  // namespace ringftpd::tls
