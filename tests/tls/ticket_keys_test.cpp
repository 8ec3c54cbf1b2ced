#include "tls/ticket_keys.hpp"

#include <gtest/gtest.h>

#include <array>
#include <vector>

#include "tests/tls/tls_test_support.hpp"

namespace ringftpd::tls {
namespace {

struct Sealed {
  std::vector<std::uint8_t> data;
  std::array<std::uint8_t, TicketKeys::kNonceBytes> nonce{};
  std::array<std::uint8_t, TicketKeys::kTagBytes> tag{};
  TicketKeys::KeyId key = 0;
};

const std::vector<std::uint8_t> kPlain = {1,  2,  3,  4,  5,  6,  7,  8, 9,
                                          10, 11, 12, 13, 14, 15, 16, 17};
const std::array<std::uint8_t, 4> kAad = {'n', 'a', 'm', 'e'};

Sealed seal(TicketKeys& keys, std::uint8_t nonce_byte) {
  Sealed s{kPlain};
  s.nonce.fill(nonce_byte);
  s.key = keys.current_id();
  EXPECT_TRUE(keys.seal(s.data, s.nonce, kAad, s.tag));
  return s;
}

TicketKeys::Opened open(TicketKeys& keys, Sealed s, std::span<const std::uint8_t> aad = kAad) {
  const TicketKeys::Opened r = keys.open(s.key, s.data, s.nonce, aad, s.tag);
  if (r == TicketKeys::Opened::WithCurrent || r == TicketKeys::Opened::WithPrevious) {
    EXPECT_EQ(s.data, kPlain);
  }
  return r;
}

TEST(TicketKeysTest, SealsAndOpensUnderCurrentThenPreviousKey) {
  TicketKeys keys;
  EXPECT_NE(keys.current_id(), 0u);
  EXPECT_FALSE(keys.previous_id());
  const Sealed s = seal(keys, 1);
  EXPECT_NE(s.data, kPlain);
  EXPECT_EQ(open(keys, s), TicketKeys::Opened::WithCurrent);

  const TicketKeys::KeyId first = keys.current_id();
  ASSERT_TRUE(keys.rotate());
  EXPECT_NE(keys.current_id(), first);
  EXPECT_EQ(keys.previous_id(), first);
  EXPECT_EQ(open(keys, s), TicketKeys::Opened::WithPrevious);

  ASSERT_TRUE(keys.rotate());
  EXPECT_EQ(open(keys, s), TicketKeys::Opened::UnknownKey);
}

TEST(TicketKeysTest, AnyChangeIsAForgery) {
  TicketKeys keys;
  const Sealed s = seal(keys, 2);
  Sealed data = s;
  data.data[3] ^= 1;
  EXPECT_EQ(open(keys, data), TicketKeys::Opened::Forged);
  Sealed tag = s;
  tag.tag[0] ^= 1;
  EXPECT_EQ(open(keys, tag), TicketKeys::Opened::Forged);
  Sealed nonce = s;
  nonce.nonce[11] ^= 1;
  EXPECT_EQ(open(keys, nonce), TicketKeys::Opened::Forged);
  const std::array<std::uint8_t, 4> other_aad = {'n', 'a', 'm', 'f'};
  EXPECT_EQ(open(keys, s, other_aad), TicketKeys::Opened::Forged);
}

TEST(TicketKeysTest, TwoInstancesShareNoKey) {
  TicketKeys a;
  TicketKeys b;
  Sealed s = seal(a, 3);
  s.key = b.current_id();  // even under the right id, b cannot open it
  EXPECT_EQ(open(b, s), TicketKeys::Opened::Forged);
}

}  // namespace
}  // namespace ringftpd::tls
