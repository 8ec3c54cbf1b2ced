// crypt(3) password hashes for the users file (libcrypt / libxcrypt).
// Hashing is slow on purpose: never call these on a worker's event loop.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace ringftpd::server {

enum class HashScheme { Yescrypt, Sha512Crypt, Bcrypt };

[[nodiscard]] std::optional<HashScheme> parse_hash_scheme(std::string_view name);

// A new hash of password with a fresh random salt; throws std::runtime_error.
[[nodiscard]] std::string hash_password(std::string_view password, HashScheme scheme);

// True when password matches the stored crypt(3) hash. Constant-time compare.
[[nodiscard]] bool verify_password(std::string_view password, const std::string& stored_hash);

}  // namespace ringftpd::server
