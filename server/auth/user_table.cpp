#include "server/auth/user_table.hpp"

#include <crypt.h>
#include <sys/random.h>

#include <array>
#include <cerrno>
#include <memory>
#include <stdexcept>
#include <system_error>

#include "server/auth/messages.hpp"
#include "server/password_hash.hpp"

namespace ringftpd::server::auth {
namespace {

// "$6$", "$y$", "$2b$": the scheme id of a crypt(3) hash, up to its second '$'.
std::string_view scheme_of(std::string_view hash) {
  const auto end = hash.find('$', 1);
  return end == std::string_view::npos ? hash : hash.substr(0, end + 1);
}

// 32 hex digits from the kernel's RNG: a password nobody knows, with no NUL.
std::string random_password() {
  std::array<unsigned char, 16> raw{};
  std::size_t got = 0;
  while (got < raw.size()) {
    const ssize_t n = ::getrandom(raw.data() + got, raw.size() - got, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw std::system_error(errno, std::generic_category(), "getrandom");
    }
    got += static_cast<std::size_t>(n);
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned char b : raw) {
    out.push_back(kHex[b >> 4]);
    out.push_back(kHex[b & 0xf]);
  }
  return out;
}

// The model's full hash is a valid crypt(3) setting: the result has its
// scheme, cost parameters and salt, so verifying against it takes as long as
// verifying against the model account.
std::string dummy_like(const std::string& model) {
  std::string password = random_password();
  auto data = std::make_unique<crypt_data>();
  const char* out = ::crypt_rn(password.c_str(), model.c_str(), data.get(), sizeof *data);
  std::string hash = (out != nullptr && out[0] != '*') ? std::string(out) : std::string();
  wipe(password);
  if (hash.empty()) hash = hash_password(random_password(), HashScheme::Yescrypt);
  return hash;
}

std::string make_dummy_hash(const std::map<std::string, config::User, std::less<>>& users) {
  std::map<std::string_view, std::size_t> counts;
  for (const auto& [name, user] : users) ++counts[scheme_of(user.password_hash)];
  const config::User* model = nullptr;
  std::size_t best = 0;
  for (const auto& [name, user] : users) {
    const std::size_t n = counts[scheme_of(user.password_hash)];
    if (n > best) {
      best = n;
      model = &user;
    }
  }
  if (model == nullptr) return hash_password(random_password(), HashScheme::Yescrypt);
  return dummy_like(model->password_hash);
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    char x = a[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (x != b[i]) return false;
  }
  return true;
}

}  // namespace

UserTable::UserTable() : dummy_hash_(make_dummy_hash(users_)) {}

UserTable::UserTable(std::vector<config::User> users, const config::UsersSettings& anonymous) {
  for (config::User& u : users) {
    if (u.name.empty() || u.password_hash.empty() || u.root.empty()) {
      throw std::invalid_argument("user table: an account with an empty name, hash or root");
    }
    std::string name = u.name;
    if (!users_.emplace(std::move(name), std::move(u)).second) {
      throw std::invalid_argument("user table: duplicate account name");
    }
  }
  if (anonymous.anonymous) {
    if (anonymous.anonymous_root.empty()) {
      throw std::invalid_argument("user table: anonymous is on but anonymous_root is empty");
    }
    anonymous_enabled_ = true;
    anonymous_.name = "anonymous";
    anonymous_.root = anonymous.anonymous_root;
    anonymous_.permissions =
        anonymous.anonymous_write
            ? static_cast<std::uint8_t>(config::kPermReadOnly | config::kPermWrite)
            : config::kPermReadOnly;
  }
  dummy_hash_ = make_dummy_hash(users_);
}

UserTable::Match UserTable::find(std::string_view name) const noexcept {
  if (auto it = users_.find(name); it != users_.end()) return {&it->second, false};
  if (anonymous_enabled_ && is_anonymous_name(name)) return {&anonymous_, true};
  return {};
}

bool UserTable::is_anonymous_name(std::string_view name) noexcept {
  return iequals(name, "anonymous") || iequals(name, "ftp");
}

}  // namespace ringftpd::server::auth
