// ClearSpliceDownload with fake completions: the order and sizes of splice
// completions are chosen by a seed; the pipe accounting, the file offsets and
// the one-of-each rule are checked at every step.
#include "server/data_splice_download.hpp"

#include "tests/server/data_transfer_fixture.hpp"

namespace ringftpd::server {
namespace {

using Result = ftp::TransferOutcome::Result;
using testing::FakeKernel;
using testing::TransferTest;

class ClearSpliceDownloadTest : public TransferTest {};

TEST_F(ClearSpliceDownloadTest, EveryByteGoesThroughThePipeInOrder) {
  for (unsigned seed = 1; seed <= 20; ++seed) {
    rng_.seed(seed);
    std::ofstream(path("f")) << "x";
    const std::uint64_t offset = 1000 * seed;
    const std::uint64_t size = (3u << 20) + seed * 4099;
    ClearSpliceDownload t(env(), data_, open_file("f", O_RDONLY), offset, size);
    t.begin();
    std::uint64_t spliced_in = 0;
    std::uint64_t spliced_out = 0;
    for (unsigned guard = 0; guard < 100000 && !t.core().has_ended(); ++guard) {
      ASSERT_LE(kernel_.count(Op::SpliceIn), 1u);
      ASSERT_LE(kernel_.count(Op::SpliceOut), 1u);
      const bool out_first = (rng_() & 1) != 0;
      auto s = kernel_.take(out_first ? Op::SpliceOut : Op::SpliceIn);
      if (!s) s = kernel_.take(out_first ? Op::SpliceIn : Op::SpliceOut);
      ASSERT_TRUE(s.has_value()) << "nothing in flight before the end";
      const int n = static_cast<int>(1 + rng_() % s->len);  // short splices too
      if (FakeKernel::op_of(*s) == Op::SpliceIn) {
        EXPECT_EQ(s->splice_off_in, offset + spliced_in)
            << "reads continue where the last one ended";
        spliced_in += static_cast<std::uint64_t>(n);
        complete(t, Op::SpliceIn, n);
      } else {
        EXPECT_LE(s->len, spliced_in - spliced_out) << "never more than the pipe holds";
        spliced_out += static_cast<std::uint64_t>(n);
        complete(t, Op::SpliceOut, n);
      }
    }
    ASSERT_TRUE(t.core().end().has_value());
    EXPECT_EQ(t.core().end()->result, Result::Done);
    EXPECT_EQ(spliced_in, size);
    EXPECT_EQ(spliced_out, size);
    EXPECT_EQ(t.core().bytes(), size);
    retire(t);
  }
  expect_fds_back();
}

TEST_F(ClearSpliceDownloadTest, AResetCancelsTheOtherSpliceAndDrains) {
  std::ofstream(path("f")) << "x";
  ClearSpliceDownload t(env(), data_, open_file("f", O_RDONLY), 0, 8u << 20);
  t.begin();
  const auto in = kernel_.take(Op::SpliceIn);
  ASSERT_TRUE(in.has_value());
  complete(t, Op::SpliceIn,
           static_cast<int>(in->len / 2));  // room for the next one
  ASSERT_EQ(kernel_.count(Op::SpliceOut), 1u);
  ASSERT_EQ(kernel_.count(Op::SpliceIn), 1u);
  ASSERT_TRUE(kernel_.take(Op::SpliceOut).has_value());
  complete(t, Op::SpliceOut, -ECONNRESET);
  ASSERT_TRUE(t.core().has_ended());
  EXPECT_EQ(t.core().end()->result, Result::ConnectionLost);
  EXPECT_EQ(t.core().end()->error, ECONNRESET);
  EXPECT_FALSE(t.core().is_drained()) << "the SpliceIn is still in flight";
  retire(t);  // its -ECANCELED, then the closes
  expect_fds_back();
}

TEST_F(ClearSpliceDownloadTest, AFileThatShrinksIsALocalError) {
  std::ofstream(path("f")) << "x";
  ClearSpliceDownload t(env(), data_, open_file("f", O_RDONLY), 0, 1000);
  t.begin();
  ASSERT_TRUE(kernel_.take(Op::SpliceIn).has_value());
  complete(t, Op::SpliceIn, 0);
  ASSERT_TRUE(t.core().has_ended());
  EXPECT_EQ(t.core().end()->result, Result::LocalError);
  retire(t);
  expect_fds_back();
}

TEST_F(ClearSpliceDownloadTest, StopFromOutsideEndsOnceAndKeepsTheFirstReason) {
  std::ofstream(path("f")) << "x";
  ClearSpliceDownload t(env(), data_, open_file("f", O_RDONLY), 0, 1 << 20);
  t.begin();
  t.stop(Result::Aborted, ECANCELED);
  t.stop(Result::ConnectionLost, ETIMEDOUT);
  EXPECT_EQ(t.core().end()->result, Result::Aborted);
  retire(t);
  expect_fds_back();
}

TEST_F(ClearSpliceDownloadTest, ABandwidthLimitCapsTheSplicesAndWaitsForThePaceTick) {
  std::ofstream(path("f")) << "x";
  Pacer pacer;
  Throttle throttle(20'000, &pacer, submit_.tag());  // 16 KiB now, the next in 0.8 s
  TransferEnv limited = env();
  limited.throttle = &throttle;
  ClearSpliceDownload t(limited, data_, open_file("f", O_RDONLY), 0, 1 << 20);
  t.begin();
  const auto in = kernel_.take(Op::SpliceIn);
  ASSERT_TRUE(in.has_value());
  EXPECT_EQ(in->len, std::uint32_t{TokenBucket::kMinBurstBytes});
  complete(t, Op::SpliceIn, static_cast<int>(in->len));
  const auto out = kernel_.take(Op::SpliceOut);
  ASSERT_TRUE(out.has_value());
  complete(t, Op::SpliceOut, static_cast<int>(out->len));
  EXPECT_EQ(kernel_.count(Op::SpliceIn), 0u) << "the bucket is empty: nothing submitted";
  EXPECT_FALSE(t.core().has_ended());
  EXPECT_TRUE(pacer.has_waiters());
  (void)pacer.take();
  throttle.on_pace();
  t.resume();  // too early: still nothing, and it waits again
  EXPECT_EQ(kernel_.count(Op::SpliceIn), 0u);
  EXPECT_TRUE(pacer.has_waiters());
  t.stop(Result::Aborted, ECANCELED);
  retire(t);
  expect_fds_back();
}

}  // namespace
}  // namespace ringftpd::server
