// SharedBucket: a TokenBucket (token_bucket.hpp) that lives in shared memory
// and is spent by many sessions in many workers at once: a user's
// bandwidth_bytes_per_second, a listener's cap.
//
// Lock-free: three atomics. The tokens (byte-nanoseconds, as in
// TokenBucket) are refilled lazily by whoever asks first after time passed:
// it moves the last-refill timestamp forward with a compare-and-swap, and only
// the winner adds the elapsed time's tokens, so an interval is never counted
// twice. A worker that dies anywhere leaves at worst one interval's refill
// undone (a short stall), never a lock held. Spends race with each other
// freely: two sessions that both saw the same tokens both spend, the bucket
// goes into debt, and the debt is repaid before anyone moves again, so the
// rate holds over any interval longer than one burst.
//
// The clock is CLOCK_MONOTONIC (steady_clock), the same in every process.
// The rate may change (a reload): set_rate() stores it; the burst follows.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>

#include "server/token_bucket.hpp"

namespace ringftpd::server {

class SharedBucket {
 public:
  using Clock = TokenBucket::Clock;
  static constexpr std::int64_t kNanosPerSecond = TokenBucket::kNanosPerSecond;

  // 0: unlimited. Rates above 8 GB/s are taken as 8 GB/s (no overflow).
  void set_rate(std::uint64_t bytes_per_second) noexcept {
    rate_.store(static_cast<std::int64_t>(std::min<std::uint64_t>(bytes_per_second, kMaxRate)),
                std::memory_order_relaxed);
  }
  [[nodiscard]] std::uint64_t rate() const noexcept {
    return static_cast<std::uint64_t>(rate_.load(std::memory_order_relaxed));
  }
  [[nodiscard]] bool limited() const noexcept { return rate() > 0; }

  // Whole bytes that may move now.
  [[nodiscard]] std::uint64_t available(Clock::time_point now) noexcept {
    const std::int64_t rate = rate_.load(std::memory_order_relaxed);
    if (rate <= 0) return kUnlimited;
    refill(now, rate);
    const std::int64_t t = tokens_.load(std::memory_order_relaxed);
    return t > 0 ? static_cast<std::uint64_t>(t / kNanosPerSecond) : 0;
  }
  // n bytes moved.
  void spend(std::uint64_t n) noexcept {
    if (rate_.load(std::memory_order_relaxed) <= 0) return;
    tokens_.fetch_sub(
        static_cast<std::int64_t>(std::min<std::uint64_t>(n, kMaxRate)) * kNanosPerSecond,
        std::memory_order_relaxed);
  }

  static constexpr std::uint64_t kUnlimited = ~std::uint64_t{0};

 private:
  static constexpr std::uint64_t kMaxRate = 8'000'000'000ULL;

  static std::int64_t burst_of(std::int64_t rate) noexcept {
    return std::max(rate * TokenBucket::kBurstNanos, TokenBucket::kMinBurstBytes * kNanosPerSecond);
  }

  void refill(Clock::time_point now, std::int64_t rate) noexcept {
    const std::int64_t now_ns =
        std::chrono::duration_cast<std::chrono::nanoseconds>(now.time_since_epoch()).count();
    std::int64_t last = last_ns_.load(std::memory_order_relaxed);
    while (now_ns > last) {
      if (!last_ns_.compare_exchange_weak(last, now_ns, std::memory_order_relaxed)) continue;
      // This caller owns (last, now]. The first use starts with one
      // interval's worth, as TokenBucket does; a pause of a second or more
      // fills any bucket: clamp before multiplying.
      const std::int64_t add = last == 0 ? std::max(rate * TokenBucket::kStartNanos,
                                                    TokenBucket::kMinBurstBytes * kNanosPerSecond)
                                         : std::min(now_ns - last, kNanosPerSecond) * rate;
      const std::int64_t burst = burst_of(rate);
      std::int64_t t = tokens_.load(std::memory_order_relaxed);
      while (
          !tokens_.compare_exchange_weak(t, std::min(burst, t + add), std::memory_order_relaxed)) {
      }
      return;
    }
  }

  std::atomic<std::int64_t> rate_{0};     // bytes per second; 0: unlimited
  std::atomic<std::int64_t> tokens_{0};   // byte-nanoseconds; below 0: debt
  std::atomic<std::int64_t> last_ns_{0};  // steady_clock of the last refill
};

static_assert(std::atomic<std::int64_t>::is_always_lock_free);

}  // namespace ringftpd::server
