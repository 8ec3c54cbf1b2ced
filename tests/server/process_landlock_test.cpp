// Landlock against the real kernel, in forked children (it cannot be lifted):
// a restricted process is refused files outside its roots whether it asks by
// open(2), by openat2 through io_uring (inline or on an io-wq worker made
// before the restriction), and gets what its roots allow inside them.
#include "server/process/landlock.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <liburing.h>
#include <linux/openat2.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>

#include "io/ring.hpp"
#include "tests/server/child_process.hpp"

namespace ringftpd::server {
namespace {

using test_support::ChildEnd;
using test_support::run_in_child;
using test_support::say;

class LandlockTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (landlock_abi() == 0) GTEST_SKIP() << "this kernel has no Landlock";
    char tmpl[] = "/tmp/ringftpd-landlock-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    base_ = tmpl;
    for (const char* d : {"ro", "rw", "outside"}) std::filesystem::create_directory(base_ / d);
    for (const char* f : {"ro/in.txt", "rw/in.txt", "outside/secret.txt"}) {
      std::ofstream(base_ / f) << "data of " << f;
    }
  }
  void TearDown() override {
    if (!base_.empty()) std::filesystem::remove_all(base_);
  }
  std::string path(const char* rel) const { return (base_ / rel).string(); }

  std::filesystem::path base_;
};

// The errno of open(2), 0 on success (the fd is closed).
int open_errno(const std::string& p, int flags) {
  const int fd = ::open(p.c_str(), flags | O_CLOEXEC, 0600);
  if (fd < 0) return errno;
  close(fd);
  return 0;
}

// The result of openat2 through the ring: an fd (closed, reported as 0) or -errno.
int ring_open(io::Ring& ring, int dir_fd, const std::string& p, bool async, std::uint64_t resolve) {
  open_how how{};
  how.flags = O_RDONLY | O_CLOEXEC;
  how.resolve = resolve;
  io_uring_sqe* sqe = ring.sqe(7);
  io_uring_prep_openat2(sqe, dir_fd, p.c_str(), &how);
  if (async) sqe->flags |= IOSQE_ASYNC;  // on an io-wq worker, not inline
  int res = 1;
  for (int i = 0; i < 50 && res == 1; ++i) {
    ring.submit_and_wait(100);
    ring.for_each_completion([&](std::uint64_t, int r, std::uint32_t) { res = r; });
  }
  if (res >= 0) {
    close(res);
    return 0;
  }
  return res;
}

// The child's checks: each failure is one line of output.
struct Checks {
  int out;
  int failures = 0;
  void expect(bool ok, const std::string& what) {
    if (ok) return;
    ++failures;
    say(out, what + "\n");
  }
};

TEST_F(LandlockTest, RefusesEverythingOutsideTheRootsWhateverTheWay) {
  const ChildEnd end = run_in_child([this](int out) {
    Checks c{out};
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return 2;
    // The ring exists before the restriction, as in a worker, and has
    // already run an operation on an io-wq worker thread.
    io::Ring ring(16);
    c.expect(ring_open(ring, AT_FDCWD, path("outside/secret.txt"), true, 0) == 0,
             "before Landlock the file opens");
    const SandboxRoot roots[] = {{path("ro"), false}, {path("rw"), true}};
    LandlockOutcome got;
    try {
      got = restrict_file_access(roots, {});
    } catch (const std::exception& e) {
      say(out, std::string("restrict_file_access threw: ") + e.what() + "\n");
      return 3;
    }
    c.expect(got.trees == 2 && got.files == 0 && got.skipped.empty(), "two trees allowed");
    // Outside: refused by open(2), by the ring inline and by an io-wq worker.
    c.expect(open_errno(path("outside/secret.txt"), O_RDONLY) == EACCES, "open outside");
    c.expect(ring_open(ring, AT_FDCWD, path("outside/secret.txt"), false, 0) == -EACCES,
             "ring openat2 outside");
    c.expect(ring_open(ring, AT_FDCWD, path("outside/secret.txt"), true, 0) == -EACCES,
             "ring openat2 outside on io-wq");
    c.expect(open_errno("/etc/passwd", O_RDONLY) == EACCES, "open /etc/passwd");
    c.expect(open_errno(path("outside"), O_RDONLY | O_DIRECTORY) == EACCES, "list outside");
    // Inside: what the root allows, by every way, including the sessions'
    // own (an O_PATH root and RESOLVE_IN_ROOT beneath it).
    c.expect(open_errno(path("ro/in.txt"), O_RDONLY) == 0, "read inside ro");
    c.expect(ring_open(ring, AT_FDCWD, path("ro/in.txt"), true, 0) == 0, "ring read inside ro");
    const int root = ::open(path("ro").c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
    c.expect(root >= 0, "O_PATH root opens");
    c.expect(ring_open(ring, root, "in.txt", false, RESOLVE_IN_ROOT) == 0, "beneath the root");
    c.expect(ring_open(ring, root, "../outside/secret.txt", false, 0) == -EACCES,
             "dot-dot out of the root (no RESOLVE_IN_ROOT)");
    close(root);
    c.expect(open_errno(path("ro/in.txt"), O_WRONLY) == EACCES, "write inside ro");
    c.expect(open_errno(path("ro/new.txt"), O_WRONLY | O_CREAT) == EACCES, "create inside ro");
    c.expect(mkdir(path("ro/sub").c_str(), 0700) != 0 && errno == EACCES, "mkdir inside ro");
    c.expect(unlink(path("ro/in.txt").c_str()) != 0 && errno == EACCES, "unlink inside ro");
    c.expect(open_errno(path("rw/in.txt"), O_WRONLY | O_TRUNC) == 0, "write+truncate inside rw");
    c.expect(open_errno(path("rw/new.txt"), O_WRONLY | O_CREAT) == 0, "create inside rw");
    c.expect(mkdir(path("rw/sub").c_str(), 0700) == 0, "mkdir inside rw");
    c.expect(rename(path("rw/new.txt").c_str(), path("rw/sub/moved.txt").c_str()) == 0,
             "rename across directories inside rw");
    c.expect(unlink(path("rw/sub/moved.txt").c_str()) == 0, "unlink inside rw");
    c.expect(rmdir(path("rw/sub").c_str()) == 0, "rmdir inside rw");
    c.expect(rename(path("rw/in.txt").c_str(), path("outside/stolen.txt").c_str()) != 0,
             "rename out of the roots");
    // Never, even in a writable root: links that could point anywhere, devices.
    c.expect(symlink("/etc/passwd", path("rw/link").c_str()) != 0 && errno == EACCES,
             "symlink inside rw");
    c.expect(mkfifo(path("rw/fifo").c_str(), 0600) != 0 && errno == EACCES, "fifo inside rw");
    return c.failures == 0 ? 0 : 1;
  });
  EXPECT_TRUE(end.exited_ok()) << "status " << end.status << "\n" << end.output;
}

TEST_F(LandlockTest, SingleFilesAreReadableAndNothingElse) {
  const ChildEnd end = run_in_child([this](int out) {
    Checks c{out};
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return 2;
    const std::string files[] = {"/dev/urandom", path("outside/secret.txt")};
    const LandlockOutcome got = restrict_file_access({}, files);
    c.expect(got.trees == 0 && got.files == 2, "two files allowed");
    c.expect(open_errno("/dev/urandom", O_RDONLY) == 0, "read /dev/urandom");
    c.expect(open_errno(path("outside/secret.txt"), O_RDONLY) == 0, "read the listed file");
    c.expect(open_errno(path("outside/secret.txt"), O_WRONLY) == EACCES, "write the listed file");
    c.expect(open_errno("/dev/random", O_RDONLY) == EACCES, "read a file not listed");
    return c.failures == 0 ? 0 : 1;
  });
  EXPECT_TRUE(end.exited_ok()) << "status " << end.status << "\n" << end.output;
}

TEST_F(LandlockTest, MissingRootIsSkippedAndStaysUnreachable) {
  const ChildEnd end = run_in_child([this](int out) {
    Checks c{out};
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return 2;
    const SandboxRoot roots[] = {{path("later"), true}, {path("ro"), false}};
    const LandlockOutcome got = restrict_file_access(roots, {});
    c.expect(got.trees == 1, "one tree allowed");
    c.expect(got.skipped.size() == 1 && got.skipped[0].find("later") != std::string::npos,
             "the missing root is named");
    // Created afterwards by someone else, it is still out of reach.
    c.expect(mkdir(path("later").c_str(), 0700) != 0, "cannot make it either");
    return c.failures == 0 ? 0 : 1;
  });
  EXPECT_TRUE(end.exited_ok()) << "status " << end.status << "\n" << end.output;
}

}  // namespace
}  // namespace ringftpd::server
