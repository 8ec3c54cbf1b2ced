#include "tls/ticket_keys.hpp"

#include <gtest/gtest.h>

#include <array>
#include <chrono>
#include <vector>

#include "tests/tls/tls_test_support.hpp"

namespace ringftpd::tls {
namespace {

using std::chrono::seconds;

struct Sealed {
  std::vector<std::uint8_t> data;
  std::array<std::uint8_t, TicketKeys::kNonceBytes> nonce{};
  std::array<std::uint8_t, TicketKeys::kTagBytes> tag{};
  TicketKeys::KeyId key = 0;
};

const std::vector<std::uint8_t> kPlain = {1,  2,  3,  4,  5,  6,  7,  8, 9,
                                          10, 11, 12, 13, 14, 15, 16, 17};
const std::array<std::uint8_t, 4> kAad = {'n', 'a', 'm', 'e'};

SteadyTime now() {
  return std::chrono::steady_clock::now();
}

std::shared_ptr<SharedTlsState> make_state() {
  return SharedTlsState::create(SharedTlsOptions{
      .max_sessions = 16, .session_lifetime = seconds{600}, .ticket_key_rotation = seconds{60}});
}

Sealed seal(TicketKeys& keys, std::uint8_t nonce_byte) {
  Sealed s{kPlain};
  s.nonce.fill(nonce_byte);
  s.key = keys.current().value_or(0);
  EXPECT_TRUE(keys.seal(s.key, s.data, s.nonce, kAad, s.tag));
  return s;
}

TicketKeys::Opened open(TicketKeys& keys, Sealed s, SteadyTime at = now(),
                        std::span<const std::uint8_t> aad = kAad) {
  const TicketKeys::Opened r = keys.open(s.key, at, s.data, s.nonce, aad, s.tag);
  if (r == TicketKeys::Opened::WithCurrent || r == TicketKeys::Opened::WithRetired) {
    EXPECT_EQ(s.data, kPlain);
  }
  return r;
}

TEST(TicketKeysTest, SealsAndOpensUnderCurrentThenRetiredKey) {
  const auto state = make_state();
  TicketKeys keys(state);
  const std::optional<TicketKeys::KeyId> first = keys.current();
  ASSERT_TRUE(first);
  EXPECT_NE(*first, 0u);
  const Sealed s = seal(keys, 1);
  EXPECT_NE(s.data, kPlain);
  EXPECT_EQ(open(keys, s), TicketKeys::Opened::WithCurrent);

  const SteadyTime retired = now() + seconds{60};
  ASSERT_EQ(state->rotate_ticket_keys_if_due(retired), KeyRotation::Rotated);
  EXPECT_NE(keys.current(), first);
  EXPECT_EQ(open(keys, s), TicketKeys::Opened::WithRetired);
  // Past retired + lifetime it is dead here, whether or not the master has
  // dropped it yet...
  EXPECT_EQ(open(keys, s, retired + seconds{600}), TicketKeys::Opened::UnknownKey);
  EXPECT_EQ(open(keys, s, retired + seconds{599}), TicketKeys::Opened::WithRetired);
  // ...and once it has, it is gone from the ring.
  ASSERT_EQ(state->rotate_ticket_keys_if_due(retired + seconds{600}), KeyRotation::Rotated);
  EXPECT_EQ(state->stats().ticket_keys_live, 2u);
  EXPECT_EQ(open(keys, s), TicketKeys::Opened::UnknownKey);
}

TEST(TicketKeysTest, AnyChangeIsAForgery) {
  const auto state = make_state();
  TicketKeys keys(state);
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
  EXPECT_EQ(open(keys, s, now(), other_aad), TicketKeys::Opened::Forged);
  Sealed unknown = s;
  unknown.key += 1000;
  EXPECT_EQ(open(keys, unknown), TicketKeys::Opened::UnknownKey);
}

TEST(TicketKeysTest, TwoStatesShareNoKey) {
  const auto state_a = make_state();
  const auto state_b = make_state();
  TicketKeys a(state_a);
  TicketKeys b(state_b);
  Sealed s = seal(a, 3);
  s.key = b.current().value_or(0);  // even under the right id, b cannot open it
  EXPECT_EQ(open(b, s), TicketKeys::Opened::Forged);
}

TEST(TicketKeysTest, TwoCopiesOfOneRingShareEveryKey) {
  // Two workers: each has its own schedules, both follow the one ring.
  const auto state = make_state();
  TicketKeys a(state);
  TicketKeys b(state);
  EXPECT_EQ(a.current(), b.current());
  const Sealed s = seal(a, 4);
  EXPECT_EQ(open(b, s), TicketKeys::Opened::WithCurrent);
  ASSERT_EQ(state->rotate_ticket_keys_if_due(now() + seconds{60}), KeyRotation::Rotated);
  EXPECT_EQ(open(b, s), TicketKeys::Opened::WithRetired);  // b noticed the new generation
  EXPECT_EQ(a.current(), b.current());
  const Sealed t = seal(b, 5);
  EXPECT_EQ(open(a, t), TicketKeys::Opened::WithCurrent);
}

TEST(TicketKeysTest, OriginMaskIsOneFunctionOfKeyAndInput) {
  const auto state = make_state();
  TicketKeys a(state);
  TicketKeys b(state);
  const TicketKeys::KeyId first = a.current().value_or(0);
  const std::array<std::uint8_t, 32> input{1, 2, 3};
  const std::optional<std::uint64_t> m1 = a.mask(first, input);
  ASSERT_TRUE(m1);
  EXPECT_EQ(a.mask(first, input), m1);  // the HMAC state is reusable after each Final
  EXPECT_EQ(b.mask(first, input), m1);  // the same in every worker
  std::array<std::uint8_t, 32> other = input;
  other[31] = 1;
  EXPECT_NE(a.mask(first, other), m1);
  ASSERT_EQ(state->rotate_ticket_keys_if_due(now() + seconds{60}), KeyRotation::Rotated);
  const TicketKeys::KeyId second = a.current().value_or(0);
  EXPECT_NE(a.mask(second, input), m1);  // each key has its own mask key
  EXPECT_EQ(a.mask(first, input), m1);   // retired, still there
  EXPECT_FALSE(a.mask(first + 1000, input));
}

}  // namespace
}  // namespace ringftpd::tls
