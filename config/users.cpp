// The virtual users file: [[user]] tables -> validated User records. Only authd
// reads it (DESIGN.md §2); workers never see the hashes.
#include <algorithm>
#include <cctype>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.hpp"
#include "config/toml_reader.hpp"

namespace ringftpd::config {
namespace {

using detail::Context;
using detail::Section;
using detail::Spelling;

constexpr std::size_t kMaxNameBytes = 64;

// crypt(3) schemes that are slow on purpose. MD5-crypt ($1$) and DES are left
// out: they fall to a GPU in hours.
constexpr std::string_view kHashPrefixes[] = {"$y$", "$7$", "$2b$", "$2y$", "$2a$", "$6$", "$5$"};

constexpr Spelling<std::uint8_t> kPermissions[] = {{"list", kPermList},     {"read", kPermRead},
                                                   {"write", kPermWrite},   {"delete", kPermDelete},
                                                   {"rename", kPermRename}, {"mkdir", kPermMkdir}};

std::string permission_names() {
  std::vector<std::string_view> names;
  for (const auto& p : kPermissions) names.push_back(p.name);
  return detail::quoted_list(names);
}

// Names end up in logs and in the authd protocol; a small alphabet keeps both
// free of control characters and separators.
bool is_valid_name(std::string_view name) {
  if (name.empty() || name.size() > kMaxNameBytes) return false;
  return std::all_of(name.begin(), name.end(), [](unsigned char ch) {
    return std::isalnum(ch) != 0 || ch == '.' || ch == '_' || ch == '@' || ch == '-';
  });
}

std::string required_string(Section& s, std::string_view key, std::string_view example) {
  auto v = s.string(key);
  if (!v)
    s.fail(key, s.qualified(key) + " is missing", std::string(key) + " = " + std::string(example));
  return *v;
}

void check_password(Section& s, const std::string& hash) {
  // Never quote the value: it may be a real password typed in by mistake.
  if (hash.empty() || hash.front() != '$') {
    s.fail("password", s.qualified("password") + " is not a crypt(3) hash (a plain-text password?)",
           "a hash such as \"$y$...\" made with `ringftpd --hash-password`");
  }
  const bool known = std::any_of(std::begin(kHashPrefixes), std::end(kHashPrefixes),
                                 [&](std::string_view p) { return hash.starts_with(p); });
  if (!known) {
    s.fail("password", s.qualified("password") + " uses an unsupported hash scheme",
           "$y$ (yescrypt), $7$ (scrypt), $2b$/$2y$/$2a$ (bcrypt), $6$ or $5$ (sha-crypt); "
           "make one with `ringftpd --hash-password`");
  }
}

std::uint8_t permission_bit(const Context& ctx, const std::string& name, const toml::node* at) {
  for (const auto& p : kPermissions) {
    if (p.name == name) return p.value;
  }
  if (name == "all") {
    ctx.fail(at, "\"all\" is combined with other permissions", "permissions = [\"all\"] alone");
  }
  ctx.fail(at, "\"" + name + "\" is not a permission",
           "one of " + permission_names() + ", or \"all\" alone");
}

std::uint8_t read_permissions(Section& s) {
  auto list = s.strings("permissions");
  if (!list) return kPermReadOnly;
  if (list->empty()) {
    s.fail("permissions", s.qualified("permissions") + " is empty",
           "at least one of " + permission_names());
  }
  if (list->size() == 1 && list->front().first == "all") return kPermAll;
  std::uint8_t bits = 0;
  for (const auto& [name, node] : *list) {
    const std::uint8_t bit = permission_bit(s.context(), name, node);
    if ((bits & bit) != 0) s.context().fail(node, "\"" + name + "\" is listed twice", "each once");
    bits = static_cast<std::uint8_t>(bits | bit);
  }
  return bits;
}

User read_user(const Context& ctx, const toml::node& node, std::size_t index) {
  Section s(ctx, &node, "user[" + std::to_string(index) + "]");
  User u;
  u.name = required_string(s, "name", "\"alice\"");
  if (!is_valid_name(u.name)) {
    s.fail("name", s.qualified("name") + " = \"" + u.name + "\" is not a valid user name",
           "1 to 64 characters of A-Z a-z 0-9 . _ @ -");
  }
  u.password_hash = required_string(s, "password", "\"$y$...\"");
  check_password(s, u.password_hash);
  u.root = required_string(s, "root", "\"/srv/ftp/alice\"");
  // Relative roots would depend on authd's working directory.
  if (!std::filesystem::path(u.root).is_absolute()) {
    s.fail("root", s.qualified("root") + " = \"" + u.root + "\" is relative", "an absolute path");
  }
  if (auto why = detail::why_not_directory(u.root)) {
    s.fail("root", s.qualified("root") + " = \"" + u.root + "\" cannot be used (" + *why + ")",
           "an existing directory");
  }
  u.permissions = read_permissions(s);
  if (auto n = s.integer("max_sessions", 0, kMaxUserSessions)) {
    u.max_sessions = static_cast<std::uint32_t>(*n);
  }
  if (auto n = s.integer("bandwidth_bytes_per_second", 0,
                         static_cast<std::int64_t>(kMaxBandwidthBytesPerSecond))) {
    u.bandwidth_bytes_per_second = static_cast<std::uint64_t>(*n);
  }
  s.finish();
  return u;
}

std::vector<User> build_users(std::string_view text, const std::string& source) {
  const toml::table root = detail::parse_document(text, source);
  const Context ctx{source, {}};
  Section top(ctx, &root, "");
  std::vector<User> users;
  if (const toml::array* arr = top.array_of_tables("user")) {
    for (std::size_t i = 0; i < arr->size(); ++i) {
      User u = read_user(ctx, *arr->get(i), i);
      for (std::size_t j = 0; j < users.size(); ++j) {
        if (users[j].name != u.name) continue;
        ctx.fail(arr->get(i)->as_table()->get("name"),
                 "user[" + std::to_string(i) + "].name = \"" + u.name +
                     "\" is already used by user[" + std::to_string(j) + "]",
                 "unique user names");
      }
      users.push_back(std::move(u));
    }
  }
  top.finish();
  return users;
}

}  // namespace

std::vector<User> load_users_file(const std::string& path) {
  return build_users(detail::read_text_file(path), path);
}

std::vector<User> parse_users(std::string_view toml_text, std::string_view source_name) {
  return build_users(toml_text, std::string(source_name));
}

}  // namespace ringftpd::config
