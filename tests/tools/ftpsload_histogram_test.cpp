#include "tools/ftpsload/histogram.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <random>

namespace ringftpd::ftpsload {
namespace {

TEST(Histogram, BucketsCoverEveryValueInOrder) {
  EXPECT_EQ(Histogram::bucket_of(0), 0u);
  EXPECT_EQ(Histogram::bucket_of(127), 127u);
  EXPECT_EQ(Histogram::bucket_of(~std::uint64_t{0}), Histogram::kBuckets - 1);
  std::mt19937_64 rng(7);
  for (int i = 0; i < 100000; ++i) {
    const std::uint64_t v = rng() >> (rng() % 64);
    const unsigned b = Histogram::bucket_of(v);
    ASSERT_LT(b, Histogram::kBuckets);
    ASSERT_LE(Histogram::bucket_low(b), v);
    ASSERT_GE(Histogram::bucket_high(b), v);
    // 1/64 relative precision above the exact range.
    if (v >= 128) {
      ASSERT_LE(Histogram::bucket_high(b) - Histogram::bucket_low(b), v / 64) << v;
    }
  }
  for (unsigned b = 1; b < Histogram::kBuckets; ++b) {
    ASSERT_EQ(Histogram::bucket_low(b), Histogram::bucket_high(b - 1) + 1) << b;
  }
}

TEST(Histogram, ExactForSmallValues) {
  Histogram h;
  for (std::uint64_t v = 1; v <= 100; ++v) h.record(v);
  EXPECT_EQ(h.count(), 100u);
  EXPECT_EQ(h.min(), 1u);
  EXPECT_EQ(h.max(), 100u);
  EXPECT_EQ(h.percentile(50), 50u);
  EXPECT_EQ(h.percentile(90), 90u);
  EXPECT_EQ(h.percentile(99), 99u);
  EXPECT_EQ(h.percentile(100), 100u);
  EXPECT_EQ(h.percentile(0), 1u);
  EXPECT_DOUBLE_EQ(h.mean(), 50.5);
}

TEST(Histogram, PercentilesWithinPrecision) {
  Histogram h;
  for (std::uint64_t v = 1; v <= 1000000; ++v) h.record(v * 1000);  // 1 us .. 1 s in ns
  for (const double p : {50.0, 90.0, 99.0, 99.9}) {
    const double exact = p / 100.0 * 1e6 * 1000;
    const double got = static_cast<double>(h.percentile(p));
    EXPECT_NEAR(got, exact, exact / 64) << p;
    EXPECT_GE(got, exact * 0.999) << p;  // never below the true value
  }
  EXPECT_EQ(h.percentile(100), 1000000u * 1000);
}

TEST(Histogram, SkewedSamples) {
  Histogram h;
  for (int i = 0; i < 990; ++i) h.record(1000);
  for (int i = 0; i < 10; ++i) h.record(5000000);
  EXPECT_NEAR(static_cast<double>(h.percentile(50)), 1000, 1000.0 / 64);
  EXPECT_NEAR(static_cast<double>(h.percentile(99)), 1000, 1000.0 / 64);
  EXPECT_EQ(h.percentile(99.5), 5000000u);
  EXPECT_EQ(h.max(), 5000000u);
}

TEST(Histogram, MergeAddsUp) {
  Histogram a, b;
  for (int i = 0; i < 100; ++i) a.record(10);
  for (int i = 0; i < 100; ++i) b.record(1000000);
  a.merge(b);
  EXPECT_EQ(a.count(), 200u);
  EXPECT_EQ(a.min(), 10u);
  EXPECT_EQ(a.max(), 1000000u);
  EXPECT_EQ(a.percentile(50), 10u);
  EXPECT_NEAR(static_cast<double>(a.percentile(51)), 1e6, 1e6 / 64);
}

TEST(Histogram, EmptyReportsZero) {
  Histogram h;
  EXPECT_EQ(h.count(), 0u);
  EXPECT_EQ(h.min(), 0u);
  EXPECT_EQ(h.max(), 0u);
  EXPECT_EQ(h.percentile(99), 0u);
  EXPECT_EQ(h.mean(), 0.0);
  Histogram other;
  h.merge(other);
  EXPECT_EQ(h.min(), 0u);
}

}  // namespace
}  // namespace ringftpd::ftpsload
