// TokenBucket: a byte rate limit (limits.bandwidth_bytes_per_second).
//
// `rate` bytes per second flow in; the bucket holds at most two pacing
// intervals' worth (Pacer::kInterval, 100 ms), so an idle transfer cannot
// save up more than that, while a wake-up that comes late (a busy loop, a
// slow timer) loses nothing; a transfer starts with one interval's worth. It is refilled lazily
// from the time that passed whenever it is asked (no timer of its own); the worker's pace tick only
// wakes the transfers that found it empty. Tokens are kept in byte-nanoseconds so frequent small
// refills lose nothing to rounding.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>

namespace ringftpd::server {

class TokenBucket {
 public:
  using Clock = std::chrono::steady_clock;
  static constexpr std::int64_t kNanosPerSecond = 1'000'000'000;
  // What the bucket holds at most: 200 ms of the rate, but at least 16 KiB so
  // that a very low rate still moves whole chunks.
  static constexpr std::int64_t kBurstNanos = kNanosPerSecond / 5;
  static constexpr std::int64_t kMinBurstBytes = 16 * 1024;
  // A transfer starts at once, with 100 ms of the rate.
  static constexpr std::int64_t kStartNanos = kNanosPerSecond / 10;

  TokenBucket() = default;  // unlimited
  TokenBucket(std::uint64_t bytes_per_second, Clock::time_point now)
      : rate_(static_cast<std::int64_t>(std::min<std::uint64_t>(bytes_per_second, kMaxRate))),
        burst_(std::max(rate_ * kBurstNanos, kMinBurstBytes * kNanosPerSecond)),
        tokens_(std::max(rate_ * kStartNanos, kMinBurstBytes * kNanosPerSecond)),
        last_(now) {}

  [[nodiscard]] bool limited() const noexcept { return rate_ > 0; }

  // Whole bytes that may move now.
  [[nodiscard]] std::uint64_t available(Clock::time_point now) noexcept {
    refill(now);
    return tokens_ > 0 ? static_cast<std::uint64_t>(tokens_ / kNanosPerSecond) : 0;
  }
  // n bytes moved (after available() said they may).
  void spend(std::uint64_t n) noexcept {
    tokens_ -= static_cast<std::int64_t>(std::min<std::uint64_t>(n, kMaxRate)) * kNanosPerSecond;
  }

 private:
  // 8 GB/s keeps every product below 2^63 (at most rate * 1e9 ns).
  static constexpr std::uint64_t kMaxRate = 8'000'000'000ULL;

  void refill(Clock::time_point now) noexcept {
    if (!limited() || now <= last_) return;
    // A pause of a second or more fills any bucket (a debt included): clamp
    // before multiplying.
    const std::int64_t ns = std::min<std::int64_t>(
        std::chrono::duration_cast<std::chrono::nanoseconds>(now - last_).count(), kNanosPerSecond);
    tokens_ = std::min(burst_, tokens_ + ns * rate_);
    last_ = now;
  }

  std::int64_t rate_ = 0;    // bytes per second; 0: unlimited
  std::int64_t burst_ = 0;   // byte-nanoseconds
  std::int64_t tokens_ = 0;  // byte-nanoseconds; may dip below 0 after a spend
  Clock::time_point last_{};
};

}  // namespace ringftpd::server
