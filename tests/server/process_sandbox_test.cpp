// The worker's sandbox as a whole: which roots the master hands the workers,
// the ring restrictions (exactly the worker's operations, -EACCES for the
// rest), and enter_sandbox() in a forked child with a restricted ring.
#include "server/process/sandbox.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "io/ring.hpp"
#include "tests/server/child_process.hpp"

namespace ringftpd::server {
namespace {

using test_support::ChildEnd;
using test_support::run_in_child;
using test_support::say;

config::User user(std::string name, std::string root, std::uint8_t permissions) {
  config::User u;
  u.name = std::move(name);
  u.password_hash = "$6$never-reaches-a-worker";
  u.root = std::move(root);
  u.permissions = permissions;
  return u;
}

TEST(SandboxRoots, OneEntryPerRootWritableIfAnyAccountWritesThere) {
  config::Config cfg;
  const std::vector<config::User> users = {
      user("reader", "/srv/shared", config::kPermReadOnly),
      user("writer", "/srv/shared", config::kPermReadOnly | config::kPermWrite),
      user("lister", "/srv/list", config::kPermList),
      user("cleaner", "/srv/clean", config::kPermList | config::kPermDelete),
      user("mover", "/srv/move", config::kPermList | config::kPermRename),
      user("maker", "/srv/make", config::kPermList | config::kPermMkdir),
  };
  const std::vector<SandboxRoot> want = {
      {"/srv/shared", true}, {"/srv/list", false}, {"/srv/clean", true},
      {"/srv/move", true},   {"/srv/make", true},
  };
  EXPECT_EQ(sandbox_roots(cfg, users), want);
}

TEST(SandboxRoots, AnonymousRootWhenAnonymousIsOn) {
  config::Config cfg;
  cfg.users.anonymous_root = "/srv/anon";
  EXPECT_TRUE(sandbox_roots(cfg, {}).empty());  // configured but off: not reachable
  cfg.users.anonymous = true;
  EXPECT_EQ(sandbox_roots(cfg, {}), (std::vector<SandboxRoot>{{"/srv/anon", false}}));
  cfg.users.anonymous_write = true;
  EXPECT_EQ(sandbox_roots(cfg, {}), (std::vector<SandboxRoot>{{"/srv/anon", true}}));
  const std::vector<config::User> users = {user("a", "/srv/anon", config::kPermReadOnly)};
  cfg.users.anonymous_write = false;
  EXPECT_EQ(sandbox_roots(cfg, users), (std::vector<SandboxRoot>{{"/srv/anon", false}}));
}

int first_result(io::Ring& ring) {
  int res = 1;
  for (int i = 0; i < 50 && res == 1; ++i) {
    ring.submit_and_wait(100);
    ring.for_each_completion([&](std::uint64_t, int r, std::uint32_t) { res = r; });
  }
  return res;
}

TEST(WorkerRingRestrictions, AllowTheWorkersOperationsAndRefuseOthers) {
  io::Ring ring(16, worker_ring_restrictions());
  ASSERT_TRUE(ring.is_restricted());
  // Allowed: a timeout (the worker's tick), an openat of a root.
  __kernel_timespec ts{0, 1000};
  io_uring_prep_timeout(ring.sqe(1), &ts, 0, 0);
  EXPECT_EQ(first_result(ring), -ETIME);
  io_uring_prep_openat(ring.sqe(2), AT_FDCWD, "/", O_PATH | O_DIRECTORY | O_CLOEXEC, 0);
  const int fd = first_result(ring);
  ASSERT_GE(fd, 0);
  io_uring_prep_close(ring.sqe(3), fd);
  EXPECT_EQ(first_result(ring), 0);
  // Not used by the worker: refused by the kernel.
  io_uring_prep_fsync(ring.sqe(4), STDOUT_FILENO, 0);
  EXPECT_EQ(first_result(ring), -EACCES);
  io_uring_prep_symlinkat(ring.sqe(5), "/etc/passwd", AT_FDCWD, "/tmp/ringftpd-never");
  EXPECT_EQ(first_result(ring), -EACCES);
  io_uring_prep_linkat(ring.sqe(6), AT_FDCWD, "/etc/passwd", AT_FDCWD, "/tmp/ringftpd-never", 0);
  EXPECT_EQ(first_result(ring), -EACCES);
  io_uring_prep_nop(ring.sqe(7));
  ring.sqe(8)->flags |= IOSQE_FIXED_FILE;  // a flag it never sets
  int refused = 0;
  for (int i = 0; i < 20; ++i) {
    ring.submit_and_wait(50);
    ring.for_each_completion([&](std::uint64_t d, int r, std::uint32_t) {
      if (d == 8 && r == -EACCES) ++refused;
    });
  }
  EXPECT_EQ(refused, 1);
  int fds[1] = {STDOUT_FILENO};
  EXPECT_EQ(io_uring_register_files(ring.raw(), fds, 1), -EACCES);
}

TEST(EnterSandbox, RefusesAnUnrestrictedRing) {
  io::Ring ring(8);
  EXPECT_THROW((void)enter_sandbox({}, ring), std::runtime_error);
}

class EnterSandboxTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/ringftpd-sandbox-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    base_ = tmpl;
    std::filesystem::create_directory(base_ / "root");
    std::ofstream(base_ / "root" / "file.txt") << "inside";
    std::ofstream(base_ / "outside.txt") << "outside";
  }
  void TearDown() override { std::filesystem::remove_all(base_); }
  std::filesystem::path base_;
};

TEST_F(EnterSandboxTest, ClosesTheProcessInAndSaysWhatIsActive) {
  const std::string root = (base_ / "root").string();
  const std::string outside = (base_ / "outside.txt").string();
  const ChildEnd end = run_in_child([&](int out) {
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return 2;
    io::Ring ring(16, worker_ring_restrictions());
    const SandboxRoot roots[] = {{root, false}};
    const SandboxReport report = enter_sandbox(roots, ring);
    say(out, report.summary() + "\n");
    // Landlock: the root and /dev/urandom, nothing else (seccomp lets a
    // read-only open through to Landlock).
    const int in = open((root + "/file.txt").c_str(), O_RDONLY | O_CLOEXEC);
    const int rnd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    const int out_fd = open(outside.c_str(), O_RDONLY | O_CLOEXEC);
    const int out_errno = errno;
    say(out, std::string(in >= 0 ? "inside ok" : "inside refused") +
                 (rnd >= 0 ? ", urandom ok" : ", urandom refused") +
                 (out_fd < 0 && out_errno == EACCES ? ", outside refused\n" : ", outside open\n"));
    // seccomp: a forbidden call ends it here.
    kill(getppid(), 0);
    say(out, "survived kill\n");
    return 0;
  });
  EXPECT_EQ(end.signal(), SIGSYS) << end.status << "\n" << end.output;
  EXPECT_NE(end.output.find("sandbox: seccomp on ("), std::string::npos) << end.output;
  EXPECT_NE(end.output.find("syscalls), ring restricted to 18 ops, "), std::string::npos)
      << end.output;
  EXPECT_EQ(end.output.find("survived"), std::string::npos) << end.output;
  if (landlock_abi() > 0) {
    EXPECT_NE(end.output.find("landlock ABI v" + std::to_string(landlock_abi()) + " on 1 root\n"),
              std::string::npos)
        << end.output;
    EXPECT_NE(end.output.find("inside ok, urandom ok, outside refused"), std::string::npos)
        << end.output;
  } else {
    EXPECT_NE(end.output.find("landlock unavailable"), std::string::npos) << end.output;
  }
}

}  // namespace
}  // namespace ringftpd::server
