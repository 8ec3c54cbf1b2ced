// sim::Rng: every choice of a simulation run comes from here, so one seed (or
// one fuzzer input) replays a run exactly.
//
// Two sources: a 64-bit seed expanded by splitmix64 (the explorer, --seed), or
// a byte string consumed a byte or two per decision (the libFuzzer target; when
// the bytes run out every decision is 0, which ends the run deterministically).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace ringftpd::sim {

class Rng {
 public:
  explicit Rng(std::uint64_t seed) : state_(seed) {}
  explicit Rng(std::span<const std::uint8_t> bytes) : bytes_(bytes), from_bytes_(true) {}

  // Uniform in [0, n); 0 when n == 0.
  [[nodiscard]] std::uint64_t below(std::uint64_t n) noexcept {
    if (n <= 1) return 0;
    if (from_bytes_) {
      std::uint64_t v = take();
      if (n > 256) v = (v << 8) | take();
      if (n > 65536) v = (v << 16) | (take() << 8) | take();
      return v % n;
    }
    return next() % n;
  }
  // True with probability num/den.
  [[nodiscard]] bool chance(std::uint64_t num, std::uint64_t den) noexcept {
    return below(den) < num;
  }
  // Uniform in [lo, hi].
  [[nodiscard]] std::uint64_t between(std::uint64_t lo, std::uint64_t hi) noexcept {
    return lo + below(hi - lo + 1);
  }
  [[nodiscard]] std::uint8_t byte() noexcept { return static_cast<std::uint8_t>(below(256)); }
  [[nodiscard]] bool exhausted() const noexcept { return from_bytes_ && pos_ >= bytes_.size(); }
  [[nodiscard]] bool from_bytes() const noexcept { return from_bytes_; }

 private:
  std::uint64_t next() noexcept {
    std::uint64_t z = (state_ += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
  }
  std::uint64_t take() noexcept { return pos_ < bytes_.size() ? bytes_[pos_++] : 0; }

  std::uint64_t state_ = 0;
  std::span<const std::uint8_t> bytes_;
  std::size_t pos_ = 0;
  bool from_bytes_ = false;
};

}  // namespace ringftpd::sim
