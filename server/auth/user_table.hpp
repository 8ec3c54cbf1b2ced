// The accounts the auth service knows: an immutable map name -> config::User,
// plus the optional anonymous account.
//
// Built once at start-up (or reload) from the users file or the embedded
// default account, then only read, so any number of threads may call its const
// members at the same time. Lives in the process that verifies passwords
// (authd); workers never hold one, so they never see a password hash.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.hpp"

namespace ringftpd::server::auth {

class UserTable {
 public:
  // The result of find(): user is null for an unknown name. An anonymous match
  // has an empty password_hash: any password is accepted.
  struct Match {
    const config::User* user = nullptr;
    bool anonymous = false;
  };

  // No accounts at all: every login is denied.
  UserTable();

  // users: validated records (config::load_users_file or the embedded default
  // account). anonymous: config::UsersSettings; when anonymous is on, the names
  // "anonymous" and "ftp" (any case) log in with any password, rooted at
  // anonymous_root, read-only unless anonymous_write (which adds write only:
  // upload, never delete or rename). A users-file account of the same name wins
  // over anonymous. Throws std::invalid_argument on a duplicate or empty name,
  // an empty hash or root, or anonymous on without a root; std::runtime_error if
  // the dummy hash cannot be made.
  UserTable(std::vector<config::User> users, const config::UsersSettings& anonymous);

  [[nodiscard]] Match find(std::string_view name) const noexcept;

  // A hash of a random, forgotten password, made with the scheme and cost of
  // the most common scheme among the accounts (yescrypt when there are none).
  // Unknown names are verified against it so that they cost the same time as a
  // wrong password of a real account: response time does not tell which
  // accounts exist.
  [[nodiscard]] const std::string& dummy_hash() const noexcept { return dummy_hash_; }

  [[nodiscard]] std::size_t size() const noexcept { return users_.size(); }
  [[nodiscard]] bool anonymous_enabled() const noexcept { return anonymous_enabled_; }

  // True for the names that mean the anonymous account, whether enabled or not.
  [[nodiscard]] static bool is_anonymous_name(std::string_view name) noexcept;

 private:
  std::map<std::string, config::User, std::less<>> users_;
  config::User anonymous_;
  bool anonymous_enabled_ = false;
  std::string dummy_hash_;
};

}  // namespace ringftpd::server::auth
