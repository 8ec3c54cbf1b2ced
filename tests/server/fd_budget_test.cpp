// server/fd_budget: a worker's session capacity from its descriptor budget.
#include "server/fd_budget.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <gtest/gtest.h>

namespace ringftpd::server {
namespace {

TEST(FdBudget, CapacityFollowsTheLimit) {
  // 20000 fds, 12 open: 19972 to spend, 3990 (798 transfers) kept for
  // transfers, 2 per idle session.
  const FdBudget b = plan_fd_budget(20000, 12, 1'000'000);
  EXPECT_EQ(b.reserve, 12u + FdBudget::kSpareFds);
  EXPECT_EQ(b.transfer_headroom, 3990u);
  EXPECT_EQ(b.capacity, (20000u - 28u - 3990u) / 2u);
  EXPECT_FALSE(b.limited_by_max_sessions);
  EXPECT_EQ(b.describe(),
            "capacity 7991 sessions from 20000 fds (12 open at start, 16 spare, 3990 for "
            "transfers, 2 per idle session)");
}

TEST(FdBudget, SessionsAndTransfersNeverExceedTheLimit) {
  for (std::uint64_t limit : {0u, 10u, 30u, 40u, 64u, 100u, 1024u, 65536u, 1048576u}) {
    for (std::uint32_t open : {0u, 9u, 50u}) {
      const FdBudget b = plan_fd_budget(limit, open, 4'000'000);
      const std::uint64_t used = b.reserve + b.transfer_headroom +
                                 std::uint64_t{b.capacity} * FdBudget::kFdsPerIdleSession;
      if (limit >= b.reserve) {
        EXPECT_LE(used, limit) << limit << " " << open;
      } else {
        EXPECT_EQ(b.capacity, 0u);  // not even the reserve: no sessions at all
      }
      EXPECT_EQ(b.transfer_headroom % FdBudget::kFdsPerTransfer, 0u);
    }
  }
}

TEST(FdBudget, SmallBudgetsKeepRoomForTwoTransfers) {
  const FdBudget b = plan_fd_budget(64, 10, 4000);
  EXPECT_EQ(b.transfer_headroom, FdBudget::kMinTransfers * FdBudget::kFdsPerTransfer);
  EXPECT_EQ(b.capacity, (64u - 26u - 10u) / 2u);
}

TEST(FdBudget, MaxSessionsCapsIt) {
  const FdBudget b = plan_fd_budget(1 << 20, 12, 4000);
  EXPECT_EQ(b.capacity, 4000u);
  EXPECT_TRUE(b.limited_by_max_sessions);
  EXPECT_NE(b.describe().find("limited by max_sessions"), std::string::npos);
}

TEST(FdBudget, CountsOpenDescriptors) {
  const std::uint32_t before = count_open_fds();
  int p[2];
  ASSERT_EQ(pipe2(p, O_CLOEXEC), 0);
  EXPECT_EQ(count_open_fds(), before + 2);
  close(p[0]);
  close(p[1]);
  EXPECT_EQ(count_open_fds(), before);
  EXPECT_GT(nofile_limit(), before);
}

}  // namespace
}  // namespace ringftpd::server
