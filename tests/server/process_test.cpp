// server/process/: the pieces of the master that can be tested without
// running a server (the integration suite test_processes.py runs the rest).
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <stdexcept>

#include <gtest/gtest.h>

#include "server/process/counters.hpp"
#include "server/process/fd_hygiene.hpp"
#include "server/process/master.hpp"
#include "server/process/pid_file.hpp"
#include "server/process/serving_snapshot.hpp"

namespace ringftpd::server {
namespace {

TEST(CounterRegion, ChildIncrementsAreSeenByTheParentAndSurviveTheChild) {
  CounterRegion region;
  WorkerCounters* block = region.acquire(0, 1);
  ASSERT_NE(block, nullptr);
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    for (int i = 0; i < 1000; ++i) block->add(Counter::BytesSent, 3);
    block->add(Counter::SessionsActive, 2);
    _exit(0);
  }
  region.assign(block, pid);
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  EXPECT_EQ(region.totals()[static_cast<std::size_t>(Counter::BytesSent)], 3000u);
  int live = 0;
  region.for_each_live([&](const WorkerCounterView& v) {
    ++live;
    EXPECT_EQ(v.pid, pid);
  });
  EXPECT_EQ(live, 1);
  // The master reaps the worker: its figures stay in the totals, except
  // the sessions it had open, which are gone with it.
  region.release(block);
  const CounterValues after = region.totals();
  EXPECT_EQ(after[static_cast<std::size_t>(Counter::BytesSent)], 3000u);
  EXPECT_EQ(after[static_cast<std::size_t>(Counter::SessionsActive)], 0u);
  region.for_each_live([&](const WorkerCounterView&) { ADD_FAILURE() << "released block live"; });
}

TEST(CounterRegion, BlocksRunOutAndComeBack) {
  CounterRegion region;
  std::vector<WorkerCounters*> taken;
  for (std::size_t i = 0; i < CounterRegion::kMaxBlocks; ++i) {
    taken.push_back(region.acquire(static_cast<std::uint32_t>(i), 1));
    ASSERT_NE(taken.back(), nullptr);
  }
  EXPECT_EQ(region.acquire(0, 1), nullptr);
  region.release(taken.front());
  EXPECT_NE(region.acquire(0, 2), nullptr);
}

TEST(PassiveSlice, SlicesAreDisjointAndCoverTheRange) {
  const config::PortRange all{50000, 50999};
  for (std::uint32_t workers : {1u, 2u, 3u, 7u, 256u}) {
    std::set<std::uint32_t> seen;
    for (std::uint32_t slot = 0; slot < workers; ++slot) {
      const config::PortRange s = passive_slice(all, slot, workers);
      ASSERT_LE(s.first, s.last) << workers;
      for (std::uint32_t p = s.first; p <= s.last; ++p) EXPECT_TRUE(seen.insert(p).second) << p;
    }
    EXPECT_EQ(seen.size(), all.size());
    EXPECT_EQ(*seen.begin(), 50000u);
    EXPECT_EQ(*seen.rbegin(), 50999u);
  }
  const config::PortRange one = passive_slice({2000, 2001}, 1, 2);
  EXPECT_EQ(one.first, 2001);
  EXPECT_EQ(one.last, 2001);
}

TEST(WorkerCount, NeverMoreWorkersThanPassivePorts) {
  config::Config c;
  c.passive.ports = {40000, 40000};
  EXPECT_EQ(worker_count(c), 1u);
  c.workers = 3;
  EXPECT_EQ(worker_count(c), 3u);  // explicit: validated against the range by config
}

TEST(FdHygiene, ClosesEverythingButWhatItKeeps) {
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    const int a = open("/dev/null", O_RDONLY);
    const int b = open("/dev/null", O_RDONLY);
    const int c = open("/dev/null", O_RDONLY);
    const int d = open("/dev/null", O_RDONLY);
    close_all_fds_except({b, d});
    const bool ok = fcntl(a, F_GETFD) < 0 && fcntl(b, F_GETFD) >= 0 && fcntl(c, F_GETFD) < 0 &&
                    fcntl(d, F_GETFD) >= 0 && fcntl(2, F_GETFD) >= 0;
    _exit(ok ? 0 : 1);
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

class PidFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ =
        std::filesystem::temp_directory_path() / ("ringftpd-pidfile-" + std::to_string(getpid()));
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::filesystem::path dir_;
};

TEST_F(PidFileTest, HoldsThePidRefusesASecondOwnerAndIsRemoved) {
  const std::string path = (dir_ / "r.pid").string();
  {
    PidFile first(path);
    EXPECT_EQ(PidFile::read_live_pid(path), getpid());
    // Another process (a second master) is refused while the first lives.
    const pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      try {
        PidFile second(path);
        _exit(1);
      } catch (const std::runtime_error& e) {
        _exit(std::string(e.what()).find("another ringftpd") != std::string::npos ? 0 : 2);
      }
    }
    int status = 0;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  }
  EXPECT_FALSE(std::filesystem::exists(path));
  EXPECT_EQ(PidFile::read_live_pid(path), 0);
}

TEST(DescribeExit, SaysHowAChildDied) {
  EXPECT_EQ(describe_exit(9), "killed by signal 9 (Killed)");
  EXPECT_EQ(describe_exit(1 << 8), "exited with status 1");
}

}  // namespace
}  // namespace ringftpd::server
