// Histogram: latency samples in fixed log-linear buckets (in the manner of
// HdrHistogram): values below 128 are exact, above that each power of two is
// split into 64 buckets, so a reported percentile is within 1/64 (1.6 %) of
// the true sample. Recording is O(1) and allocates nothing; the bucket array
// (30 KiB) is allocated once, on construction. Histograms of several threads
// are merged after the run. Units are the caller's (ftpsload records ns).
#pragma once

#include <cstdint>
#include <vector>

namespace ringftpd::ftpsload {

class Histogram {
 public:
  Histogram();

  void record(std::uint64_t value) noexcept;
  void merge(const Histogram& other) noexcept;

  [[nodiscard]] std::uint64_t count() const noexcept { return count_; }
  [[nodiscard]] std::uint64_t min() const noexcept { return count_ == 0 ? 0 : min_; }
  [[nodiscard]] std::uint64_t max() const noexcept { return max_; }
  [[nodiscard]] double mean() const noexcept;
  // The smallest recorded value v such that at least p % of the samples are
  // <= v, to the bucket's precision (its upper bound, clamped to [min, max]).
  // p in [0, 100]; 0 for an empty histogram.
  [[nodiscard]] std::uint64_t percentile(double p) const noexcept;

  // Bucket arithmetic, exposed for tests.
  [[nodiscard]] static unsigned bucket_of(std::uint64_t value) noexcept;
  [[nodiscard]] static std::uint64_t bucket_low(unsigned bucket) noexcept;
  [[nodiscard]] static std::uint64_t bucket_high(unsigned bucket) noexcept;
  static constexpr unsigned kExactBits = 7;  // 0..127 exact
  static constexpr unsigned kSubBuckets = 1u << (kExactBits - 1);
  static constexpr unsigned kBuckets = (1u << kExactBits) + (64 - kExactBits) * kSubBuckets;

 private:
  std::vector<std::uint64_t> counts_;
  std::uint64_t count_ = 0;
  std::uint64_t min_ = ~std::uint64_t{0};
  std::uint64_t max_ = 0;
  long double sum_ = 0;
};

}  // namespace ringftpd::ftpsload
