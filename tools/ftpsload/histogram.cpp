#include "tools/ftpsload/histogram.hpp"

#include <algorithm>
#include <bit>
#include <cmath>

namespace ringftpd::ftpsload {

Histogram::Histogram() : counts_(kBuckets, 0) {}

unsigned Histogram::bucket_of(std::uint64_t value) noexcept {
  constexpr std::uint64_t kExact = std::uint64_t{1} << kExactBits;
  if (value < kExact) return static_cast<unsigned>(value);
  const unsigned msb = 63u - static_cast<unsigned>(std::countl_zero(value));
  const unsigned shift = msb - (kExactBits - 1);  // value >> shift in [64, 128)
  const unsigned sub = static_cast<unsigned>(value >> shift) - kSubBuckets;  // 0..63
  return static_cast<unsigned>(kExact) + (msb - kExactBits) * kSubBuckets + sub;
}

std::uint64_t Histogram::bucket_low(unsigned bucket) noexcept {
  constexpr unsigned kExact = 1u << kExactBits;
  if (bucket < kExact) return bucket;
  const unsigned octave = (bucket - kExact) / kSubBuckets;
  const unsigned sub = (bucket - kExact) % kSubBuckets;
  const unsigned shift = octave + 1;  // msb - (kExactBits - 1), msb = kExactBits + octave
  return std::uint64_t{kSubBuckets + sub} << shift;
}

std::uint64_t Histogram::bucket_high(unsigned bucket) noexcept {
  if (bucket + 1 >= kBuckets) return ~std::uint64_t{0};
  return bucket_low(bucket + 1) - 1;
}

void Histogram::record(std::uint64_t value) noexcept {
  ++counts_[bucket_of(value)];
  ++count_;
  min_ = std::min(min_, value);
  max_ = std::max(max_, value);
  sum_ += static_cast<long double>(value);
}

void Histogram::merge(const Histogram& other) noexcept {
  for (unsigned i = 0; i < kBuckets; ++i) counts_[i] += other.counts_[i];
  count_ += other.count_;
  min_ = std::min(min_, other.min_);
  max_ = std::max(max_, other.max_);
  sum_ += other.sum_;
}

double Histogram::mean() const noexcept {
  return count_ == 0 ? 0.0 : static_cast<double>(sum_ / static_cast<long double>(count_));
}

std::uint64_t Histogram::percentile(double p) const noexcept {
  if (count_ == 0) return 0;
  p = std::clamp(p, 0.0, 100.0);
  const auto rank = std::max<std::uint64_t>(
      1, static_cast<std::uint64_t>(std::ceil(p / 100.0 * static_cast<double>(count_))));
  std::uint64_t seen = 0;
  for (unsigned i = 0; i < kBuckets; ++i) {
    seen += counts_[i];
    if (seen >= rank) return std::clamp(bucket_high(i), min(), max_);
  }
  return max_;
}

}  // namespace ringftpd::ftpsload
