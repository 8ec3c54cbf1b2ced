// TokenBucket with a synthetic clock (exact), Throttle and Pacer with the
// real one (only what does not depend on how fast the machine is).
#include "server/token_bucket.hpp"

#include <gtest/gtest.h>

#include "server/pacer.hpp"
#include "server/throttle.hpp"

namespace ringftpd::server {
namespace {

using namespace std::chrono_literals;
using Clock = TokenBucket::Clock;

TEST(TokenBucket, UnlimitedByDefault) {
  TokenBucket b;
  EXPECT_FALSE(b.limited());
}

TEST(TokenBucket, StartsWithOneIntervalAndRefillsAtTheRate) {
  const Clock::time_point t0{};
  TokenBucket b(1'000'000, t0);  // 1 MB/s: 100 ms is 100 000 bytes
  EXPECT_TRUE(b.limited());
  EXPECT_EQ(b.available(t0), 100'000u);
  b.spend(100'000);
  EXPECT_EQ(b.available(t0), 0u);
  EXPECT_EQ(b.available(t0 + 1ms), 1'000u);
  EXPECT_EQ(b.available(t0 + 50ms), 50'000u);
  // A late wake-up (150 ms) loses nothing; but never more than two
  // intervals, however long it was idle.
  EXPECT_EQ(b.available(t0 + 150ms), 150'000u);
  EXPECT_EQ(b.available(t0 + 1h), 200'000u);
}

TEST(TokenBucket, ManySmallRefillsLoseNothingToRounding) {
  const Clock::time_point t0{};
  TokenBucket b(3, t0);  // 3 bytes per second: a byte every 333.3 ms
  b.spend(b.available(t0));
  std::uint64_t moved = 0;
  // 10 s in steps of 1 ms: each step adds a third of a millibyte.
  for (int step = 1; step <= 10'000; ++step) {
    const auto now = t0 + std::chrono::microseconds(step * 1000);
    const std::uint64_t n = b.available(now);
    b.spend(n);
    moved += n;
  }
  EXPECT_EQ(moved, 30u);
}

TEST(TokenBucket, LowRatesStillGrantWholeChunksAndHugeRatesDoNotOverflow) {
  const Clock::time_point t0{};
  TokenBucket slow(1000, t0);
  EXPECT_EQ(slow.available(t0), std::uint64_t{TokenBucket::kMinBurstBytes});
  TokenBucket fast(~std::uint64_t{0}, t0);  // clamped to 8 GB/s
  EXPECT_EQ(fast.available(t0), 800'000'000u);
  fast.spend(800'000'000);
  EXPECT_EQ(fast.available(t0 + 1s), 1'600'000'000u);
}

TEST(TokenBucket, ADebtIsPaidBackBeforeAnythingMoves) {
  const Clock::time_point t0{};
  TokenBucket b(1'000'000, t0);
  b.spend(150'000);  // 50 000 more than there was
  EXPECT_EQ(b.available(t0 + 40ms), 0u);
  EXPECT_EQ(b.available(t0 + 60ms), 10'000u);
}

TEST(Throttle, UnlimitedGrantsEverything) {
  Pacer pacer;
  Throttle t(0, &pacer, io::OpTag{1, 1, 0});
  EXPECT_FALSE(t.limited());
  EXPECT_EQ(t.allow(1 << 20), std::size_t{1} << 20);
  EXPECT_FALSE(pacer.has_waiters());
}

TEST(Throttle, AnEmptyBucketRegistersTheSessionOnceUntilThePaceTick) {
  Pacer pacer;
  // 20 kB/s: the 16 KiB first grant takes 0.8 s to come back, far longer
  // than this test runs.
  Throttle t(20'000, &pacer, io::OpTag{7, 3, 0});
  ASSERT_TRUE(t.limited());
  const std::size_t first = t.allow(1 << 20);
  EXPECT_EQ(first, std::size_t{TokenBucket::kMinBurstBytes});
  t.spend(first);
  EXPECT_EQ(t.allow(1 << 20), 0u);
  EXPECT_EQ(t.allow(1 << 20), 0u);
  const auto waiting = pacer.take();
  ASSERT_EQ(waiting.size(), 1u) << "one registration per wait";
  EXPECT_EQ(waiting[0].slot, 7u);
  EXPECT_EQ(waiting[0].generation, 3u);
  t.on_pace();
  EXPECT_EQ(t.allow(1 << 20), 0u) << "still empty: waits for the next tick";
  EXPECT_EQ(pacer.take().size(), 1u);
}

TEST(Throttle, WithoutAPacerNothingIsLimited) {
  Throttle t(1000, nullptr, io::OpTag{});
  EXPECT_FALSE(t.limited());
}

}  // namespace
}  // namespace ringftpd::server
