#include "server/auth/failure_tracker.hpp"

#include <gtest/gtest.h>

#include <string>

namespace ringftpd::server::auth {
namespace {

using namespace std::chrono_literals;
using Clock = FailureTracker::Clock;

struct FakeClock {
  Clock::time_point now{std::chrono::hours(1000)};
  FailureTracker::Now fn() {
    return [this] { return now; };
  }
};

PeerKey key(std::string_view ip) {
  auto k = peer_key(ip);
  EXPECT_TRUE(k) << ip;
  return k.value_or(PeerKey{});
}

FailureTracker::Policy policy(std::uint32_t delay_after, std::uint32_t throttle_after) {
  FailureTracker::Policy p;
  p.delay_after = delay_after;
  p.throttle_after = throttle_after;
  return p;
}

TEST(AuthPeerKey, NumericAddressesOnly) {
  EXPECT_TRUE(peer_key("192.0.2.1"));
  EXPECT_TRUE(peer_key("2001:db8::1"));
  EXPECT_TRUE(peer_key("::1"));
  for (std::string_view bad :
       {"", "localhost", "192.0.2", "192.0.2.1 ", " 192.0.2.1", "192.0.2.256", "fe80::1%eth0",
        "2001:db8::1/64", "[::1]", "0x7f.1"}) {
    EXPECT_FALSE(peer_key(bad)) << bad;
  }
  EXPECT_FALSE(peer_key(std::string_view("1.2.3.4\0", 8)));
  EXPECT_FALSE(peer_key(std::string(46, '1')));
}

TEST(AuthPeerKey, MappedIpv4IsIpv4AndIpv6CountsPerSlash64) {
  EXPECT_EQ(key("192.0.2.1"), key("::ffff:192.0.2.1"));
  EXPECT_NE(key("192.0.2.1"), key("192.0.2.2"));
  EXPECT_EQ(key("2001:db8:1:2::1"), key("2001:db8:1:2:ffff:1:2:3"));
  EXPECT_NE(key("2001:db8:1:2::1"), key("2001:db8:1:3::1"));
  EXPECT_NE(key("::1"), key("127.0.0.1"));
}

TEST(AuthFailureTracker, NoDelayBelowTheThreshold) {
  FakeClock clock;
  FailureTracker t(policy(3, 6), clock.fn());
  const PeerKey k = key("192.0.2.1");
  EXPECT_FALSE(t.check(k).throttled);
  for (int i = 0; i < 2; ++i) {
    const auto v = t.record_failure(k);
    EXPECT_FALSE(v.throttled);
    EXPECT_EQ(v.retry_after_ms, 0u);
    EXPECT_FALSE(t.check(k).throttled);
  }
}

TEST(AuthFailureTracker, DelayDoublesUpToTheCap) {
  FakeClock clock;
  FailureTracker t(policy(2, 64), clock.fn());
  const PeerKey k = key("192.0.2.1");
  EXPECT_EQ(t.record_failure(k).retry_after_ms, 0u);
  const std::uint32_t expected[] = {1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000};
  for (std::uint32_t want : expected) {
    const auto v = t.record_failure(k);
    EXPECT_FALSE(v.throttled);
    EXPECT_EQ(v.retry_after_ms, want);
    // Blocked for exactly that long.
    const auto gate = t.check(k);
    EXPECT_TRUE(gate.throttled);
    EXPECT_EQ(gate.retry_after_ms, want);
    clock.now += std::chrono::milliseconds(want) - 1ms;
    EXPECT_TRUE(t.check(k).throttled);
    EXPECT_EQ(t.check(k).retry_after_ms, 1u);
    clock.now += 1ms;
    EXPECT_FALSE(t.check(k).throttled);
  }
}

TEST(AuthFailureTracker, ThrottledForTheCooldownThenAFreshCount) {
  FakeClock clock;
  FailureTracker::Policy p = policy(3, 4);
  p.cooldown = 5min;
  FailureTracker t(p, clock.fn());
  const PeerKey k = key("2001:db8::7");
  for (int i = 0; i < 3; ++i) {
    EXPECT_FALSE(t.record_failure(k).throttled);
    clock.now += 1min;  // past any delay
  }
  const auto v = t.record_failure(k);
  EXPECT_TRUE(v.throttled);
  EXPECT_EQ(v.retry_after_ms, 300000u);
  clock.now += 4min;
  EXPECT_TRUE(t.check(k).throttled);
  EXPECT_EQ(t.check(k).retry_after_ms, 60000u);
  clock.now += 1min;
  EXPECT_FALSE(t.check(k).throttled);
  // The count starts again: two free failures.
  EXPECT_EQ(t.record_failure(k).retry_after_ms, 0u);
  EXPECT_EQ(t.record_failure(k).retry_after_ms, 0u);
  EXPECT_EQ(t.record_failure(k).retry_after_ms, 1000u);
}

TEST(AuthFailureTracker, WindowSlides) {
  FakeClock clock;
  FailureTracker::Policy p = policy(3, 6);
  p.window = 10min;
  FailureTracker t(p, clock.fn());
  const PeerKey k = key("192.0.2.1");
  EXPECT_EQ(t.record_failure(k).retry_after_ms, 0u);  // at 0
  clock.now += 6min;
  EXPECT_EQ(t.record_failure(k).retry_after_ms, 0u);  // at 6
  clock.now += 5min;                                  // the first one is now outside
  EXPECT_EQ(t.record_failure(k).retry_after_ms, 0u);  // at 11: two in the window
  EXPECT_EQ(t.record_failure(k).retry_after_ms, 1000u);
}

TEST(AuthFailureTracker, SuccessResets) {
  FakeClock clock;
  FailureTracker t(policy(2, 3), clock.fn());
  const PeerKey k = key("192.0.2.1");
  (void)t.record_failure(k);
  EXPECT_EQ(t.record_failure(k).retry_after_ms, 1000u);
  t.record_success(k);
  EXPECT_FALSE(t.check(k).throttled);
  EXPECT_EQ(t.size(), 0u);
  EXPECT_EQ(t.record_failure(k).retry_after_ms, 0u);
  t.record_success(key("192.0.2.99"));  // unknown: no effect
  EXPECT_EQ(t.size(), 1u);
}

TEST(AuthFailureTracker, AddressesAreIndependent) {
  FakeClock clock;
  FailureTracker t(policy(1, 2), clock.fn());
  EXPECT_EQ(t.record_failure(key("192.0.2.1")).retry_after_ms, 1000u);
  EXPECT_TRUE(t.check(key("192.0.2.1")).throttled);
  EXPECT_FALSE(t.check(key("192.0.2.2")).throttled);
  EXPECT_TRUE(t.record_failure(key("192.0.2.1")).throttled);
  EXPECT_FALSE(t.record_failure(key("192.0.2.2")).throttled);
}

TEST(AuthFailureTracker, EvictsTheLeastRecentlyFailed) {
  FakeClock clock;
  FailureTracker::Policy p = policy(1, 6);
  p.max_addresses = 3;
  FailureTracker t(p, clock.fn());
  (void)t.record_failure(key("10.0.0.1"));
  (void)t.record_failure(key("10.0.0.2"));
  (void)t.record_failure(key("10.0.0.3"));
  (void)t.record_failure(key("10.0.0.1"));  // 10.0.0.1 is now the most recent
  EXPECT_EQ(t.size(), 3u);
  (void)t.record_failure(key("10.0.0.4"));  // evicts 10.0.0.2
  EXPECT_EQ(t.size(), 3u);
  EXPECT_FALSE(t.check(key("10.0.0.2")).throttled);
  EXPECT_TRUE(t.check(key("10.0.0.1")).throttled);
  EXPECT_TRUE(t.check(key("10.0.0.3")).throttled);
  EXPECT_TRUE(t.check(key("10.0.0.4")).throttled);
  // An evicted address starts from zero.
  EXPECT_EQ(t.record_failure(key("10.0.0.2")).retry_after_ms, 1000u);
  EXPECT_EQ(t.size(), 3u);

  for (int i = 0; i < 1000; ++i) {
    (void)t.record_failure(key("2001:db8:" + std::to_string(i) + "::1"));
  }
  EXPECT_EQ(t.size(), 3u);
}

TEST(AuthFailureTracker, HugeThresholdsAreBoundedByTheHistory) {
  FakeClock clock;
  FailureTracker t(policy(1000, 1000000), clock.fn());
  const PeerKey k = key("192.0.2.1");
  for (std::size_t i = 1; i < FailureTracker::kMaxHistory; ++i) {
    EXPECT_FALSE(t.record_failure(k).throttled) << i;
    clock.now += 1s;
  }
  EXPECT_TRUE(t.record_failure(k).throttled);
}

TEST(AuthFailureTracker, PolicyFromLimits) {
  config::Limits limits;
  limits.failed_logins_before_delay = 2;
  limits.max_failed_logins = 9;
  const auto p = FailureTracker::policy_from(limits);
  EXPECT_EQ(p.delay_after, 2u);
  EXPECT_EQ(p.throttle_after, 9u);
  EXPECT_EQ(p.first_delay, 1s);
  EXPECT_EQ(p.max_delay, 30s);
}

}  // namespace
}  // namespace ringftpd::server::auth
