// The worker's seccomp allowlist against the real kernel, in forked
// children: what a serving worker does still works; each forbidden call
// kills the process with SIGSYS (not an error return it could ignore).
#include "server/process/seccomp_filter.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/io_uring.h>
#include <linux/sockios.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <functional>
#include <string>

#include "tests/server/child_process.hpp"

namespace ringftpd::server {
namespace {

// AddressSanitizer's runtime makes system calls of its own in the filtered
// child (its allocator and reports), which a worker never makes: the filter
// kills it for them. These tests of what a worker may do run in the gcc build
// (tools/test.sh); under the sanitizers they are skipped.
#if defined(__SANITIZE_ADDRESS__)
constexpr bool kUnderSanitizer = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
constexpr bool kUnderSanitizer = true;
#else
constexpr bool kUnderSanitizer = false;
#endif
#else
constexpr bool kUnderSanitizer = false;
#endif

using test_support::ChildEnd;
using test_support::run_in_child;
using test_support::say;

// Installs the filter in a child, then runs `then`; the child exits with
// then()'s status unless the filter kills it first.
ChildEnd filtered(std::function<int(int)> then) {
  return run_in_child([&then](int out) {
    try {
      if (install_worker_seccomp_filter() == 0) return 90;
    } catch (const std::exception& e) {
      say(out, std::string("install failed: ") + e.what());
      return 91;
    }
    return then(out);
  });
}

TEST(SeccompFilter, ListsEveryCallItAllowsOnce) {
  if (kUnderSanitizer) GTEST_SKIP() << "the sanitizer runtime makes calls a worker never makes";
  auto names = worker_syscall_names();
  const std::size_t n = names.size();
  std::sort(names.begin(), names.end());
  EXPECT_EQ(std::unique(names.begin(), names.end()), names.end());
  for (const char* forbidden :
       {"execve", "execveat", "ptrace", "io_uring_setup", "kill", "clone", "fork", "open",
        "connect", "prctl", "seccomp", "setuid", "mount", "unshare", "bpf"}) {
    EXPECT_FALSE(std::binary_search(names.begin(), names.end(), std::string(forbidden)))
        << forbidden;
  }
  const ChildEnd end =
      run_in_child([n](int) { return install_worker_seccomp_filter() == n ? 0 : 1; });
  EXPECT_TRUE(end.exited_ok()) << end.status << " " << end.output;
}

TEST(SeccompFilter, WhatAWorkerDoesStillWorks) {
  if (kUnderSanitizer) GTEST_SKIP() << "the sanitizer runtime makes calls a worker never makes";
  const ChildEnd end = filtered([](int out) {
    // A passive listener, a pipe for splices and its size, random bytes,
    // memory, a read-only open (wolfSSL's /dev/urandom), a log line.
    const int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (s < 0) return 10;
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(s, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || listen(s, 4) != 0) return 11;
    socklen_t len = sizeof a;
    if (getsockname(s, reinterpret_cast<sockaddr*>(&a), &len) != 0) return 12;
    close(s);
    if (socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0) < 0) return 13;
    int p[2];
    if (pipe2(p, O_CLOEXEC) != 0 || fcntl(p[1], F_SETPIPE_SZ, 1 << 16) < 0) return 14;
    unsigned char r[16];
    if (getrandom(r, sizeof r, 0) != static_cast<ssize_t>(sizeof r)) return 15;
    int queued = -1;  // a control session's check for a client that stopped reading
    if (ioctl(p[0], SIOCOUTQ, &queued) != 0 && errno != ENOTTY && errno != EINVAL) return 19;
    void* m = mmap(nullptr, 1 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED || munmap(m, 1 << 20) != 0) return 16;
    std::string big(4 << 20, 'x');  // malloc's own mmap/brk
    const int u = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    if (u < 0 || read(u, r, sizeof r) != static_cast<ssize_t>(sizeof r)) return 17;
    close(u);
    say(out, "served " + std::to_string(big.size()));
    return 0;
  });
  EXPECT_TRUE(end.exited_ok()) << "status " << end.status << " signal " << end.signal() << " "
                               << end.output;
  EXPECT_EQ(end.output, "served 4194304");
}

struct Forbidden {
  const char* name;
  std::function<void()> call;
};

TEST(SeccompFilter, EachForbiddenCallKillsTheProcessWithSIGSYS) {
  const Forbidden calls[] = {
      {"execve", [] { execl("/bin/true", "true", nullptr); }},
      {"ptrace", [] { syscall(SYS_ptrace, 0 /* PTRACE_TRACEME */, 0, 0, 0); }},
      {"io_uring_setup (an unrestricted ring)",
       [] {
         io_uring_params params{};
         syscall(SYS_io_uring_setup, 4, &params);
       }},
      {"socket(AF_UNIX)", [] { socket(AF_UNIX, SOCK_STREAM, 0); }},
      {"socket(AF_NETLINK)", [] { socket(AF_NETLINK, SOCK_RAW, 0); }},
      {"connect", [] { connect(0, nullptr, 0); }},
      {"kill another process", [] { kill(getppid(), SIGTERM); }},
      {"tgkill with another signal", [] { syscall(SYS_tgkill, getpid(), gettid(), SIGUSR1); }},
      {"mmap executable",
       [] { mmap(nullptr, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0); }},
      {"mprotect executable",
       [] {
         static char page[8192] __attribute__((aligned(4096)));
         mprotect(page, 4096, PROT_READ | PROT_EXEC);
       }},
      {"openat for writing", [] { open("/tmp/ringftpd-seccomp-test", O_WRONLY | O_CREAT, 0600); }},
      {"openat read-write", [] { open("/dev/null", O_RDWR); }},
      {"io_uring_register of files", [] { syscall(SYS_io_uring_register, 0, 2, nullptr, 0); }},
      {"fcntl F_DUPFD", [] { fcntl(1, F_DUPFD, 10); }},
      {"ioctl other than SIOCOUTQ", [] { syscall(SYS_ioctl, 0, 0x5401 /* TCGETS */, nullptr); }},
      {"prctl", [] { prctl(PR_SET_DUMPABLE, 1, 0, 0, 0); }},
      {"clone (fork)", [] { syscall(SYS_fork); }},
      {"setuid", [] { syscall(SYS_setuid, 0); }},
  };
  for (const Forbidden& f : calls) {
    const ChildEnd end = filtered([&f](int out) {
      f.call();
      say(out, "survived");
      return 0;
    });
    EXPECT_EQ(end.signal(), SIGSYS) << f.name << ": status " << end.status << " " << end.output;
  }
}

TEST(SeccompFilter, AbortStillDiesOfSIGABRT) {
  if (kUnderSanitizer) GTEST_SKIP() << "the sanitizer runtime makes calls a worker never makes";
  // A broken invariant must read as what it is in the master's log, not as
  // a forbidden call.
  const ChildEnd end = filtered([](int) {
    std::abort();
    return 0;
  });
  EXPECT_EQ(end.signal(), SIGABRT) << end.status;
}

}  // namespace
}  // namespace ringftpd::server
