#include "tls/ticket_keys.hpp"

#include <gtest/gtest.h>

#include <array>
#include <chrono>
#include <cstring>
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

// Keys adopted from the cluster ([shared], SharedTlsState::adopt_ticket_keys).
namespace ringftpd::tls {
namespace {

using std::chrono::milliseconds;
using Wall = std::chrono::system_clock::time_point;

SharedTicketKey cluster_key(std::uint32_t id, std::int64_t not_before_ms, std::uint8_t fill) {
  SharedTicketKey k;
  k.id = id;
  k.not_before_unix_ms = not_before_ms;
  std::memset(k.aes_key, fill, sizeof k.aes_key);
  std::memset(k.mask_key, fill ^ 0xff, sizeof k.mask_key);
  return k;
}

const Wall kWall{milliseconds{1'767'000'000'000}};
constexpr std::int64_t kWallMs = 1'767'000'000'000;

// Two hosts (two regions) adopting the same cluster keys open each other's tickets.
TEST(TicketKeysAdoptTest, TwoHostsWithTheClusterKeysOpenEachOthersTickets) {
  auto a = make_state();
  auto b = make_state();
  const std::vector<SharedTicketKey> cluster = {cluster_key(0x80000001, kWallMs - 1000, 7)};
  const SteadyTime t = now();
  ASSERT_EQ(a->adopt_ticket_keys(cluster, t, kWall, t + seconds{5}), 1u);
  ASSERT_EQ(b->adopt_ticket_keys(cluster, t, kWall, t + seconds{5}), 1u);
  TicketKeys keys_a(a);
  TicketKeys keys_b(b);
  EXPECT_EQ(keys_a.current(), 0x80000001u);
  const Sealed s = seal(keys_a, 1);
  EXPECT_EQ(open(keys_b, s), TicketKeys::Opened::WithCurrent);
  // Adopting again changes nothing.
  EXPECT_EQ(b->adopt_ticket_keys(cluster, t, kWall, t + seconds{5}), 0u);
}

TEST(TicketKeysAdoptTest, LocalTicketsStillOpenAfterTheSwitchAndAFutureKeyWaits) {
  auto state = make_state();
  TicketKeys keys(state);
  const Sealed local = seal(keys, 1);  // sealed before the cluster was reachable
  const SteadyTime t = now();
  const std::vector<SharedTicketKey> cluster = {cluster_key(0x80000001, kWallMs - 1000, 7),
                                                cluster_key(0x80000002, kWallMs + 3000, 8)};
  ASSERT_EQ(state->adopt_ticket_keys(cluster, t, kWall, t + seconds{5}), 2u);
  EXPECT_EQ(keys.current(), 0x80000001u);  // the future one does not seal yet
  EXPECT_EQ(open(keys, local), TicketKeys::Opened::WithRetired);
  EXPECT_EQ(state->stats().ticket_keys_live, 3u);
  // Three seconds on, the next key is current.
  ASSERT_EQ(state->adopt_ticket_keys(cluster, t + seconds{3}, kWall + seconds{3}, t + seconds{8}),
            0u);
  EXPECT_EQ(keys.current(), 0x80000002u);
}

TEST(TicketKeysAdoptTest, LocalRotationWaitsWhileTheClusterLeads) {
  auto state = make_state();  // rotation every 60 s
  const SteadyTime t = now();
  const std::vector<SharedTicketKey> cluster = {cluster_key(0x80000001, kWallMs - 1000, 7)};
  ASSERT_TRUE(state->adopt_ticket_keys(cluster, t, kWall, t + seconds{120}).has_value());
  EXPECT_EQ(state->rotate_ticket_keys_if_due(t + seconds{90}), KeyRotation::NotDue);
  // The helper stopped coming (Redis gone): the host rotates alone again.
  EXPECT_EQ(state->rotate_ticket_keys_if_due(t + seconds{121}), KeyRotation::Rotated);
  TicketKeys keys(state);
  EXPECT_NE(keys.current(), 0x80000001u);
}

TEST(TicketKeysAdoptTest, AReusedIdWithOtherMaterialReplacesTheOldKey) {
  auto state = make_state();
  TicketKeys keys(state);
  const SteadyTime t = now();
  ASSERT_EQ(state->adopt_ticket_keys(std::vector{cluster_key(0x80000001, kWallMs - 1000, 7)}, t,
                                     kWall, t + seconds{5}),
            1u);
  const Sealed before = seal(keys, 1);
  // Redis lost its keys and a new leader drew the same id.
  ASSERT_EQ(state->adopt_ticket_keys(std::vector{cluster_key(0x80000001, kWallMs, 9)}, t, kWall,
                                     t + seconds{5}),
            1u);
  EXPECT_EQ(keys.current(), 0x80000001u);
  EXPECT_EQ(open(keys, before), TicketKeys::Opened::Forged);  // full handshake, not a wrong key
  const Sealed after = seal(keys, 2);
  TicketKeys fresh(state);
  EXPECT_EQ(open(fresh, after), TicketKeys::Opened::WithCurrent);
}

TEST(TicketKeysAdoptTest, TheRingNeverOverflows) {
  auto state = make_state();  // capacity ceil(600 / 60) + 2 = 12
  const SteadyTime t = now();
  std::vector<SharedTicketKey> cluster;
  for (std::uint32_t i = 0; i < 40; ++i) {
    cluster.push_back(
        cluster_key(0x80000000 + i + 1, kWallMs - 40'000 + 1000 * i, static_cast<std::uint8_t>(i)));
  }
  ASSERT_TRUE(state->adopt_ticket_keys(cluster, t, kWall, t + seconds{5}).has_value());
  EXPECT_EQ(state->stats().ticket_keys_live, state->ticket_key_capacity());
  TicketKeys keys(state);
  EXPECT_EQ(keys.current(), 0x80000028u);  // the newest
}

}  // namespace
}  // namespace ringftpd::tls
