// SharedBucket with a synthetic clock (exact), and across processes; Throttle
// with shared buckets.
#include "server/shared_bucket.hpp"

#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <new>

#include <gtest/gtest.h>

#include "server/throttle.hpp"

namespace ringftpd::server {
namespace {

using Clock = SharedBucket::Clock;
using std::chrono::milliseconds;

// Far from the epoch, like a real steady_clock.
const Clock::time_point kT0 = Clock::time_point{} + std::chrono::hours(1000);

TEST(SharedBucket, UnlimitedUntilARateIsSet) {
  SharedBucket b;
  EXPECT_FALSE(b.limited());
  EXPECT_EQ(b.available(kT0), SharedBucket::kUnlimited);
  b.spend(1'000'000);  // ignored
  b.set_rate(1'000'000);
  EXPECT_TRUE(b.limited());
}

TEST(SharedBucket, StartsWithOneIntervalAndRefillsAtTheRate) {
  SharedBucket b;
  b.set_rate(1'000'000);  // 1 MB/s: starts with 100 kB, holds at most 200 kB
  EXPECT_EQ(b.available(kT0), 100'000u);
  b.spend(100'000);
  EXPECT_EQ(b.available(kT0), 0u);
  EXPECT_EQ(b.available(kT0 + milliseconds(10)), 10'000u);
  EXPECT_EQ(b.available(kT0 + milliseconds(10)), 10'000u);    // the same instant adds nothing
  EXPECT_EQ(b.available(kT0 + milliseconds(500)), 200'000u);  // capped at two intervals
  // An earlier time (another process's older reading) changes nothing.
  EXPECT_EQ(b.available(kT0 + milliseconds(400)), 200'000u);
}

TEST(SharedBucket, ADebtIsPaidBackBeforeAnythingMoves) {
  SharedBucket b;
  b.set_rate(100'000);  // burst: the 16 KiB minimum
  EXPECT_EQ(b.available(kT0), 16u * 1024);
  // Two sessions saw the same tokens and both spent them.
  b.spend(16 * 1024);
  b.spend(16 * 1024);
  EXPECT_EQ(b.available(kT0 + milliseconds(100)), 0u);       // 10 kB repaid of 16 KiB owed
  EXPECT_EQ(b.available(kT0 + milliseconds(300)), 13'616u);  // -16384 + 30000
}

TEST(SharedBucket, RateChangesTakeEffect) {
  SharedBucket b;
  b.set_rate(1'000'000);
  (void)b.available(kT0);
  b.spend(100'000);
  b.set_rate(2'000'000);
  EXPECT_EQ(b.available(kT0 + milliseconds(10)), 20'000u);
  b.set_rate(0);
  EXPECT_FALSE(b.limited());
}

TEST(SharedBucket, TwoProcessesTogetherGetTheRate) {
  auto* b = static_cast<SharedBucket*>(
      mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0));
  ASSERT_NE(b, MAP_FAILED);
  new (b) SharedBucket{};
  constexpr std::uint64_t kRate = 2'000'000;
  b->set_rate(kRate);
  const auto start = Clock::now();
  (void)b->available(start);
  b->spend(b->available(start));            // empty to begin with
  constexpr std::uint64_t kEach = 600'000;  // 1.2 MB in all at 2 MB/s: >= ~0.6 s
  pid_t kids[2];
  for (pid_t& kid : kids) {
    kid = fork();
    ASSERT_GE(kid, 0);
    if (kid == 0) {
      std::uint64_t moved = 0;
      while (moved < kEach) {
        const std::uint64_t n = std::min<std::uint64_t>(b->available(Clock::now()), 16 * 1024);
        if (n == 0) {
          usleep(1000);
          continue;
        }
        b->spend(n);
        moved += n;
      }
      _exit(0);
    }
  }
  for (pid_t kid : kids) {
    int status = 0;
    ASSERT_EQ(waitpid(kid, &status, 0), kid);
    ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  }
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  // A lower bound only: the two together cannot beat the rate (by more than
  // the last grants' overshoot, one 16 KiB chunk each).
  EXPECT_GE(seconds, (2.0 * kEach - 2 * 16 * 1024) / kRate);
  munmap(b, 4096);
}

TEST(Throttle, TheSmallestBucketDecidesAndAllAreSpent) {
  Pacer pacer;
  Throttle t(0, &pacer, io::OpTag{1, 1, 0});  // no per-session limit
  EXPECT_FALSE(t.limited());
  SharedBucket user;
  user.set_rate(1'000'000);  // 100 kB burst
  SharedBucket listener;
  listener.set_rate(400'000);  // 40 kB burst
  t.set_user_bucket(&user);
  EXPECT_TRUE(t.limited());
  EXPECT_EQ(t.allow(1'000'000), 100'000u);
  t.set_listener_bucket(&listener);
  EXPECT_EQ(t.allow(1'000'000), 40'000u);
  t.spend(40'000);
  EXPECT_EQ(t.allow(1'000'000), 0u);  // the listener is empty
  EXPECT_TRUE(pacer.has_waiters());
  t.on_pace();
  // The user's bucket paid too: 60 kB left (plus what trickled in since).
  EXPECT_LT(user.available(Clock::now()), 100'000u);
  t.set_user_bucket(nullptr);
  t.set_listener_bucket(nullptr);
  EXPECT_FALSE(t.limited());
}

TEST(Throttle, SharedBucketsNeedAPacer) {
  Throttle t(0, nullptr, io::OpTag{});
  SharedBucket user;
  user.set_rate(1000);
  t.set_user_bucket(&user);
  EXPECT_FALSE(t.limited());
  EXPECT_EQ(t.allow(5000), 5000u);
}

}  // namespace
}  // namespace ringftpd::server
