#include "server/password_hash.hpp"

#include <crypt.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <stdexcept>

namespace ringftpd::server {
namespace {

const char* prefix_of(HashScheme scheme) {
  switch (scheme) {
    case HashScheme::Yescrypt:
      return "$y$";
    case HashScheme::Sha512Crypt:
      return "$6$";
    case HashScheme::Bcrypt:
      return "$2b$";
  }
  return "$y$";
}

}  // namespace

std::optional<HashScheme> parse_hash_scheme(std::string_view name) {
  if (name == "yescrypt") return HashScheme::Yescrypt;
  if (name == "sha512" || name == "sha512-crypt") return HashScheme::Sha512Crypt;
  if (name == "bcrypt") return HashScheme::Bcrypt;
  return std::nullopt;
}

std::string hash_password(std::string_view password, HashScheme scheme) {
  if (password.find('\0') != std::string_view::npos) {
    throw std::runtime_error("password contains a NUL byte");
  }
  char salt[CRYPT_GENSALT_OUTPUT_SIZE];
  // count 0 = the library's default cost; rbytes null = read the kernel's RNG.
  if (crypt_gensalt_rn(prefix_of(scheme), 0, nullptr, 0, salt, sizeof salt) == nullptr) {
    throw std::runtime_error(std::string("crypt_gensalt: ") + std::strerror(errno));
  }
  auto data = std::make_unique<crypt_data>();  // ~32 KiB: not on the stack
  const std::string pw(password);
  const char* out = crypt_rn(pw.c_str(), salt, data.get(), sizeof *data);
  if (out == nullptr || out[0] == '*') {
    throw std::runtime_error(std::string("crypt: ") + std::strerror(errno));
  }
  return out;
}

bool verify_password(std::string_view password, const std::string& stored_hash) {
  if (password.find('\0') != std::string_view::npos || stored_hash.empty()) return false;
  auto data = std::make_unique<crypt_data>();
  const std::string pw(password);
  const char* out = crypt_rn(pw.c_str(), stored_hash.c_str(), data.get(), sizeof *data);
  if (out == nullptr || out[0] == '*') return false;
  const std::size_t n = std::strlen(out);
  if (n != stored_hash.size()) return false;
  unsigned char diff = 0;  // no early exit: timing says nothing of the hash
  for (std::size_t i = 0; i < n; ++i) diff |= static_cast<unsigned char>(out[i] ^ stored_hash[i]);
  return diff == 0;
}

}  // namespace ringftpd::server
