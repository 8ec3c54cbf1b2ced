#include "tools/ftpsload/sha256.hpp"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "tools/ftpsload/payload.hpp"

namespace ringftpd::ftpsload {
namespace {

std::string hex_of(std::string_view data) {
  Sha256Hash h;
  h.update(data);
  return to_hex(h.finish());
}

// FIPS 180-4 examples (and the NIST "million a").
void check_vectors() {
  EXPECT_EQ(hex_of(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(hex_of("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(hex_of("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  EXPECT_EQ(hex_of(std::string(1000000, 'a')),
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST(Sha256, KnownVectors) {
  check_vectors();
}

TEST(Sha256, PortableKnownVectors) {
  Sha256Hash::force_portable(true);
  check_vectors();
  Sha256Hash::force_portable(false);
}

TEST(Sha256, SplitsAndBothImplementationsAgree) {
  std::vector<std::byte> data(100003);
  std::mt19937 rng(3);
  for (auto& b : data) b = static_cast<std::byte>(rng());
  Sha256Hash::force_portable(true);
  Sha256Hash whole;
  whole.update(data);
  const Digest expected = whole.finish();
  Sha256Hash::force_portable(false);
  for (const std::size_t split : {0, 1, 55, 56, 63, 64, 65, 127, 128, 4096, 100002, 100003}) {
    Sha256Hash h;
    h.update(std::span(data).first(split));
    h.update(std::span(data).subspan(split));
    EXPECT_EQ(h.finish(), expected) << split;
  }
  Sha256Hash bytewise;
  for (const std::byte b : std::span(data).first(1000)) bytewise.update(std::span(&b, 1));
  Sha256Hash at_once;
  at_once.update(std::span(data).first(1000));
  EXPECT_EQ(bytewise.finish(), at_once.finish());
}

TEST(Sha256, HexRoundTrip) {
  const std::string hex = "BA7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
  const auto d = parse_digest_hex(hex);
  ASSERT_TRUE(d);
  EXPECT_EQ(to_hex(*d), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_FALSE(parse_digest_hex(hex.substr(1)));
  EXPECT_FALSE(parse_digest_hex(std::string(63, 'a') + "g"));
}

TEST(Payload, ChunksFollowThePattern) {
  const auto pattern = upload_pattern();
  ASSERT_EQ(pattern.size(), kPatternBytes);
  const auto c = upload_chunk(kPatternBytes - 10, 100);
  EXPECT_EQ(c.size(), 10u);  // never crosses the pattern's end
  EXPECT_EQ(c.data(), pattern.data() + kPatternBytes - 10);
  EXPECT_EQ(upload_chunk(kPatternBytes + 5, 7).data(), pattern.data() + 5);
  // Deterministic across runs: the first bytes of xorshift64* from the seed.
  Sha256Hash h;
  h.update(pattern);
  Sha256Hash twice;
  twice.update(pattern);
  twice.update(pattern.first(100));
  EXPECT_EQ(upload_digest(kPatternBytes), h.finish());
  EXPECT_EQ(upload_digest(kPatternBytes + 100), twice.finish());
}

}  // namespace
}  // namespace ringftpd::ftpsload
