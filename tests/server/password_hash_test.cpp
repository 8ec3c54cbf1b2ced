#include "server/password_hash.hpp"

#include <gtest/gtest.h>

namespace ringftpd::server {
namespace {

TEST(PasswordHash, EachSchemeHashesAndVerifies) {
  struct Row {
    HashScheme scheme;
    std::string_view prefix;
  };
  const Row rows[] = {{HashScheme::Yescrypt, "$y$"},
                      {HashScheme::Sha512Crypt, "$6$"},
                      {HashScheme::Bcrypt, "$2b$"}};
  for (const Row& row : rows) {
    const std::string h = hash_password("correct horse", row.scheme);
    EXPECT_EQ(h.substr(0, row.prefix.size()), row.prefix);
    EXPECT_TRUE(verify_password("correct horse", h)) << h;
    EXPECT_FALSE(verify_password("correct hors", h)) << h;
    EXPECT_FALSE(verify_password("", h)) << h;
  }
}

TEST(PasswordHash, SaltsDiffer) {
  EXPECT_NE(hash_password("x", HashScheme::Sha512Crypt),
            hash_password("x", HashScheme::Sha512Crypt));
}

TEST(PasswordHash, RejectsGarbageHashesAndNul) {
  EXPECT_FALSE(verify_password("x", ""));
  EXPECT_FALSE(verify_password("x", "plaintext"));
  EXPECT_FALSE(verify_password("x", "*"));
  EXPECT_FALSE(
      verify_password(std::string_view("a\0b", 3), hash_password("a", HashScheme::Sha512Crypt)));
  EXPECT_THROW((void)hash_password(std::string_view("a\0b", 3), HashScheme::Sha512Crypt),
               std::runtime_error);
}

TEST(PasswordHash, SchemeNames) {
  EXPECT_EQ(parse_hash_scheme("yescrypt"), HashScheme::Yescrypt);
  EXPECT_EQ(parse_hash_scheme("sha512"), HashScheme::Sha512Crypt);
  EXPECT_EQ(parse_hash_scheme("bcrypt"), HashScheme::Bcrypt);
  EXPECT_FALSE(parse_hash_scheme("md5"));
}

}  // namespace
}  // namespace ringftpd::server
