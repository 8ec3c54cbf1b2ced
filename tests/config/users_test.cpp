// The virtual users file: accepted accounts and one row per refusal.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "config/config.hpp"
#include "tests/config/temp_tree.hpp"

namespace ringftpd::config {
namespace {

using test_support::ErrorRow;
using test_support::TempTree;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr const char* kHash =
    "$y$j9T$F5Jx5fExrKuJdvpfC.OVG1$7a9CcYfUu0rAlA8QcCFpV0rbGSr2nRfJC1Hn6Ve1RU/";

class UsersTest : public ::testing::Test {
 protected:
  TempTree tree_;
  std::string dir_ = tree_.dir().string();
};

TEST_F(UsersTest, ReadsEveryAccount) {
  const auto users = parse_users(tree_.expand(std::string(R"(
[[user]]
name = "alice"
password = ")") + kHash + R"("
root = "@DIR@/alice"
permissions = ["list", "read", "write", "mkdir"]

[[user]]
name = "bob.smith@example-1_x"
password = "$6$salt$hash"
root = "@DIR@/anon"

[[user]]
name = "admin"
password = "$2b$12$abcdefghijklmnopqrstuv"
root = "/"
permissions = ["all"]
)"),
                                 "users.toml");
  ASSERT_EQ(users.size(), 3u);
  EXPECT_EQ(users[0].name, "alice");
  EXPECT_EQ(users[0].password_hash, kHash);
  EXPECT_EQ(users[0].root, dir_ + "/alice");
  EXPECT_EQ(users[0].permissions, kPermList | kPermRead | kPermWrite | kPermMkdir);
  EXPECT_EQ(users[1].name, "bob.smith@example-1_x");
  EXPECT_EQ(users[1].password_hash, "$6$salt$hash");
  EXPECT_EQ(users[1].permissions, kPermReadOnly);
  EXPECT_EQ(users[2].permissions, kPermAll);
}

TEST_F(UsersTest, ReadsLimits) {
  const auto users = parse_users(tree_.expand(std::string(R"(
[[user]]
name = "alice"
password = ")") + kHash + R"("
root = "@DIR@/alice"
max_sessions = 2
bandwidth_bytes_per_second = 1048576

[[user]]
name = "bob"
password = ")" + kHash + R"("
root = "@DIR@/alice"
)"),
                                 "users.toml");
  ASSERT_EQ(users.size(), 2u);
  EXPECT_EQ(users[0].max_sessions, 2u);
  EXPECT_EQ(users[0].bandwidth_bytes_per_second, 1048576u);
  EXPECT_EQ(users[1].max_sessions, 0u);  // unlimited
  EXPECT_EQ(users[1].bandwidth_bytes_per_second, 0u);
}

TEST_F(UsersTest, EveryHashSchemeIsAccepted) {
  for (const char* hash : {"$y$x", "$7$x", "$2b$x", "$2y$x", "$2a$x", "$6$x", "$5$x"}) {
    const std::string text = std::string("[[user]]\nname = \"u\"\npassword = \"") + hash +
                             "\"\nroot = \"" + dir_ + "\"\n";
    EXPECT_EQ(parse_users(text, "u.toml").at(0).password_hash, hash);
  }
}

TEST_F(UsersTest, EmptyFileHasNoUsers) {
  EXPECT_TRUE(parse_users("", "u.toml").empty());
}

TEST_F(UsersTest, LoadFromDisk) {
  const std::string path = tree_.write(
      "users.toml", "[[user]]\nname = \"carol\"\npassword = \"$y$abc\"\nroot = \"" + dir_ + "\"\n");
  const auto users = load_users_file(path);
  ASSERT_EQ(users.size(), 1u);
  EXPECT_EQ(users[0].name, "carol");
}

TEST_F(UsersTest, MissingFile) {
  const std::string path = dir_ + "/none.toml";
  try {
    (void)load_users_file(path);
    FAIL();
  } catch (const ConfigError& e) {
    EXPECT_EQ(std::string(e.what()), path + ": cannot read: No such file or directory");
  }
}

TEST_F(UsersTest, PlainPasswordIsNeverEchoed) {
  try {
    (void)parse_users("[[user]]\nname = \"a\"\npassword = \"hunter2\"\nroot = \"/\"\n", "u.toml");
    FAIL();
  } catch (const ConfigError& e) {
    EXPECT_STREQ(e.what(),
                 "u.toml:3:12: user[0].password is not a crypt(3) hash (a plain-text password?), "
                 "expected a hash such as \"$y$...\" made with `ringftpd --hash-password`");
    EXPECT_THAT(e.what(), Not(HasSubstr("hunter2")));
  }
}

// A valid account; rows append or replace lines to break one rule each.
#define USER_OK "[[user]]\nname = \"alice\"\npassword = \"$y$abc\"\nroot = \"@DIR@/alice\"\n"

const ErrorRow kRows[] = {
    {"unknown_top_key", "[[users]]\nname = \"a\"\n",
     "u.toml:1:3: ", "unknown key 'users' at the top level, expected one of: user"},
    {"user_is_table", "[user]\nname = \"a\"\n",
     "u.toml:1:1: ", "user has the wrong type, expected array of tables ([[user]]), got table"},
    {"unknown_user_key", USER_OK "home = \"/\"\n", "u.toml:5:1: ",
     "unknown key 'home' in user[0], expected one of: name, password, root, permissions, "
     "max_sessions, bandwidth_bytes_per_second"},
    {"max_sessions_negative", USER_OK "max_sessions = -1\n",
     "u.toml:5:16: ", "user[0].max_sessions = -1 is out of range"},
    {"max_sessions_absurd", USER_OK "max_sessions = 1000001\n",
     "u.toml:5:16: ", "user[0].max_sessions = 1000001 is out of range"},
    {"max_sessions_type", USER_OK "max_sessions = \"2\"\n",
     "u.toml:5:16: ", "user[0].max_sessions has the wrong type, expected integer, got string"},
    {"bandwidth_negative", USER_OK "bandwidth_bytes_per_second = -5\n",
     "u.toml:5:30: ", "user[0].bandwidth_bytes_per_second = -5 is out of range"},
    {"bandwidth_absurd", USER_OK "bandwidth_bytes_per_second = 1000000000001\n",
     "u.toml:5:30: ", "user[0].bandwidth_bytes_per_second = 1000000000001 is out of range"},
    {"name_missing", "[[user]]\npassword = \"$y$abc\"\nroot = \"/\"\n",
     "u.toml:1:1: ", "user[0].name is missing, expected name = \"alice\""},
    {"name_empty", "[[user]]\nname = \"\"\n", "u.toml:2:8: ",
     "user[0].name = \"\" is not a valid user name, expected 1 to 64 characters of "
     "A-Z a-z 0-9 . _ @ -"},
    {"name_with_space", "[[user]]\nname = \"a b\"\n", "u.toml:2:8: ", "is not a valid user name"},
    {"name_with_colon", "[[user]]\nname = \"a:b\"\n", "u.toml:2:8: ", "is not a valid user name"},
    {"name_too_long",
     "[[user]]\nname = \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"\n",
     "u.toml:2:8: ", "is not a valid user name"},
    {"name_type", "[[user]]\nname = 7\n",
     "u.toml:2:8: ", "user[0].name has the wrong type, expected string, got integer"},
    {"password_missing", "[[user]]\nname = \"a\"\nroot = \"/\"\n",
     "u.toml:1:1: ", "user[0].password is missing"},
    {"password_plain", "[[user]]\nname = \"a\"\npassword = \"secret\"\n", "u.toml:3:12: ",
     "is not a crypt(3) hash (a plain-text password?), expected a hash such as \"$y$...\" "
     "made with `ringftpd --hash-password`"},
    {"password_md5_crypt", "[[user]]\nname = \"a\"\npassword = \"$1$salt$hash\"\n",
     "u.toml:3:12: ", "user[0].password uses an unsupported hash scheme, expected $y$"},
    {"password_empty", "[[user]]\nname = \"a\"\npassword = \"\"\n",
     "u.toml:3:12: ", "is not a crypt(3) hash"},
    {"root_missing", "[[user]]\nname = \"a\"\npassword = \"$y$abc\"\n",
     "u.toml:1:1: ", "user[0].root is missing"},
    {"root_relative", "[[user]]\nname = \"a\"\npassword = \"$y$abc\"\nroot = \"srv/a\"\n",
     "u.toml:4:8: ", "user[0].root = \"srv/a\" is relative, expected an absolute path"},
    {"root_absent", "[[user]]\nname = \"a\"\npassword = \"$y$abc\"\nroot = \"@DIR@/none\"\n",
     "u.toml:4:8: ", "cannot be used (No such file or directory), expected an existing directory"},
    {"root_is_file", "[[user]]\nname = \"a\"\npassword = \"$y$abc\"\nroot = \"@DIR@/ca.pem\"\n",
     "u.toml:4:8: ", "cannot be used (not a directory)"},
    {"permission_unknown", USER_OK "permissions = [\"list\", \"upload\"]\n", "u.toml:5:24: ",
     "\"upload\" is not a permission, expected one of \"list\", \"read\", \"write\", "
     "\"delete\", \"rename\", \"mkdir\", or \"all\" alone"},
    {"permission_all_combined", USER_OK "permissions = [\"read\", \"all\"]\n", "u.toml:5:24: ",
     "\"all\" is combined with other permissions, expected permissions = [\"all\"] alone"},
    {"permission_twice", USER_OK "permissions = [\"read\", \"read\"]\n",
     "u.toml:5:24: ", "\"read\" is listed twice"},
    {"permission_upper_case", USER_OK "permissions = [\"READ\"]\n",
     "u.toml:5:16: ", "\"READ\" is not a permission"},
    {"permissions_empty", USER_OK "permissions = []\n",
     "u.toml:5:15: ", "user[0].permissions is empty, expected at least one of"},
    {"permissions_string", USER_OK "permissions = \"all\"\n",
     "u.toml:5:15: ", "expected array of strings, got string"},
    {"duplicate_name", USER_OK USER_OK, "u.toml:6:8: ",
     "user[1].name = \"alice\" is already used by user[0], expected unique user names"},
    {"syntax_error", USER_OK "name = \"again\"\n", "u.toml:5:", "invalid TOML: "},
};

#undef USER_OK

class UsersErrors : public ::testing::TestWithParam<ErrorRow> {
 protected:
  TempTree tree_;
};

TEST_P(UsersErrors, IsRefusedAtItsPlace) {
  const ErrorRow& row = GetParam();
  try {
    (void)parse_users(tree_.expand(row.toml), "u.toml");
    FAIL() << "accepted:\n" << row.toml;
  } catch (const ConfigError& e) {
    EXPECT_THAT(e.what(), ::testing::StartsWith(row.prefix));
    EXPECT_THAT(e.what(), HasSubstr(tree_.expand(row.detail)));
  }
}

INSTANTIATE_TEST_SUITE_P(UsersFile, UsersErrors, ::testing::ValuesIn(kRows),
                         test_support::row_name);

}  // namespace
}  // namespace ringftpd::config
