#include "server/auth/user_table.hpp"

#include <gtest/gtest.h>

#include <stdexcept>

#include "server/password_hash.hpp"

namespace ringftpd::server::auth {
namespace {

config::User user(std::string name, std::string_view password, std::string root,
                  std::uint8_t perms = config::kPermReadOnly) {
  return config::User{std::move(name), hash_password(password, HashScheme::Sha512Crypt),
                      std::move(root), perms};
}

config::UsersSettings anonymous(bool on, bool write = false) {
  config::UsersSettings s;
  s.anonymous = on;
  s.anonymous_root = on ? "/srv/pub" : "";
  s.anonymous_write = write;
  return s;
}

TEST(AuthUserTable, FindsAccounts) {
  const UserTable t(
      {user("alice", "a", "/srv/alice", config::kPermAll), user("bob", "b", "/srv/b")},
      anonymous(false));
  EXPECT_EQ(t.size(), 2u);
  const auto a = t.find("alice");
  ASSERT_NE(a.user, nullptr);
  EXPECT_FALSE(a.anonymous);
  EXPECT_EQ(a.user->root, "/srv/alice");
  EXPECT_EQ(a.user->permissions, config::kPermAll);
  EXPECT_TRUE(verify_password("a", a.user->password_hash));
  EXPECT_EQ(t.find("Alice").user, nullptr);  // account names are exact
  EXPECT_EQ(t.find("carol").user, nullptr);
  EXPECT_EQ(t.find("").user, nullptr);
  EXPECT_EQ(t.find("anonymous").user, nullptr);  // off
  EXPECT_FALSE(t.anonymous_enabled());
}

TEST(AuthUserTable, AnonymousNamesAnyCase) {
  const UserTable t({}, anonymous(true));
  for (std::string_view name : {"anonymous", "ANONYMOUS", "Anonymous", "ftp", "FTP"}) {
    const auto m = t.find(name);
    ASSERT_NE(m.user, nullptr) << name;
    EXPECT_TRUE(m.anonymous);
    EXPECT_EQ(m.user->root, "/srv/pub");
    EXPECT_EQ(m.user->permissions, config::kPermReadOnly);
    EXPECT_TRUE(m.user->password_hash.empty());
  }
  EXPECT_EQ(t.find("anonymou").user, nullptr);
  EXPECT_EQ(t.find("ftpd").user, nullptr);
}

TEST(AuthUserTable, AnonymousWriteAddsUploadOnly) {
  const UserTable t({}, anonymous(true, true));
  const auto m = t.find("ftp");
  ASSERT_NE(m.user, nullptr);
  EXPECT_EQ(m.user->permissions, config::kPermReadOnly | config::kPermWrite);
}

TEST(AuthUserTable, ARealAccountNamedFtpWins) {
  const UserTable t({user("ftp", "pw", "/srv/real")}, anonymous(true));
  const auto m = t.find("ftp");
  ASSERT_NE(m.user, nullptr);
  EXPECT_FALSE(m.anonymous);
  EXPECT_EQ(m.user->root, "/srv/real");
  EXPECT_TRUE(t.find("anonymous").anonymous);
}

TEST(AuthUserTable, RejectsBadInput) {
  EXPECT_THROW(UserTable({user("a", "x", "/a"), user("a", "y", "/b")}, anonymous(false)),
               std::invalid_argument);
  EXPECT_THROW(UserTable({config::User{"a", "", "/a", 0}}, anonymous(false)),
               std::invalid_argument);
  EXPECT_THROW(UserTable({user("", "x", "/a")}, anonymous(false)), std::invalid_argument);
  config::UsersSettings no_root;
  no_root.anonymous = true;
  EXPECT_THROW(UserTable({}, no_root), std::invalid_argument);
}

TEST(AuthUserTable, DummyHashHasTheAccountsSchemeAndMatchesNothing) {
  const UserTable t({user("alice", "a", "/a"), user("bob", "", "/b")}, anonymous(false));
  EXPECT_TRUE(t.dummy_hash().starts_with("$6$")) << t.dummy_hash();
  for (std::string_view pw : {"", "a", "x"}) {
    EXPECT_FALSE(verify_password(pw, t.dummy_hash())) << pw;
  }
  const UserTable empty;
  EXPECT_EQ(empty.size(), 0u);
  EXPECT_TRUE(empty.dummy_hash().starts_with("$y$")) << empty.dummy_hash();
  EXPECT_FALSE(verify_password("", empty.dummy_hash()));
}

}  // namespace
}  // namespace ringftpd::server::auth
