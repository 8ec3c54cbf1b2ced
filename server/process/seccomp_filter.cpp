#include "server/process/seccomp_filter.hpp"

#include <fcntl.h>
#include <liburing.h>
#include <linux/sockios.h>
#include <seccomp.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <csignal>
#include <initializer_list>
#include <memory>
#include <system_error>

namespace ringftpd::server {
namespace {

// Allowed whatever their arguments. Each line says who calls it.
constexpr const char* kPlain[] = {
    // the loop: every socket and file operation goes through the ring
    "io_uring_enter",
    // sockets the worker makes itself (socket() is checked below): passive
    // listeners, active data connections, options on accepted connections,
    // a refusal sent at accept
    "bind",
    "listen",
    "setsockopt",
    "getsockopt",
    "getsockname",
    "getpeername",
    "sendto",
    // clear downloads splice file -> pipe -> socket (fcntl is checked below)
    "pipe2",
    // listings: getdents64, lstat and readlink relative to a directory fd
    // the ring opened (Landlock still applies to any path)
    "getdents64",
    "newfstatat",
    "fstat",
    "readlinkat",
    // log and transfer-log lines; wolfSSL's seed from /dev/urandom; a log
    // sink waits (bounded) for a slow reader
    "read",
    "write",
    "writev",
    "close",
    "poll",
    // memory (mmap and mprotect are checked below)
    "brk",
    "munmap",
    "mremap",
    "madvise",
    // wolfSSL seeds and data-connection nonces; locks; clocks
    "getrandom",
    "futex",
    "clock_gettime",
    "gettimeofday",
    "time",
    // signals are read through a signalfd; these are libc's own
    "rt_sigprocmask",
    "rt_sigreturn",
    "restart_syscall",
    // abort() (a broken invariant): its own pid and thread id
    "getpid",
    "gettid",
    // leaving
    "exit",
    "exit_group",
};

struct Filter {
  scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_KILL_PROCESS);
  ~Filter() { seccomp_release(ctx); }
};

void check(int rc, const char* what) {
  if (rc < 0) throw std::system_error(-rc, std::generic_category(), what);
}

int number_of(const char* name) {
  const int nr = seccomp_syscall_resolve_name(name);
  if (nr == __NR_SCMP_ERROR) throw std::system_error(ENOSYS, std::generic_category(), name);
  return nr;
}

void allow(scmp_filter_ctx ctx, const char* name) {
  check(seccomp_rule_add(ctx, SCMP_ACT_ALLOW, number_of(name), 0), name);
}

// Allowed when argument `arg` is one of `values`.
void allow_if_one_of(scmp_filter_ctx ctx, const char* name, unsigned arg,
                     std::initializer_list<scmp_datum_t> values) {
  for (const scmp_datum_t v : values) {
    const scmp_arg_cmp cmp{arg, SCMP_CMP_EQ, v, 0};
    check(seccomp_rule_add_array(ctx, SCMP_ACT_ALLOW, number_of(name), 1, &cmp), name);
  }
}

// Allowed when none of `bits` is set in argument `arg`.
void allow_without_bits(scmp_filter_ctx ctx, const char* name, unsigned arg, scmp_datum_t bits) {
  const scmp_arg_cmp cmp{arg, SCMP_CMP_MASKED_EQ, bits, 0};
  check(seccomp_rule_add_array(ctx, SCMP_ACT_ALLOW, number_of(name), 1, &cmp), name);
}

// The allowed calls whose arguments are checked, in the order they are added.
constexpr const char* kChecked[] = {"socket", "io_uring_register", "fcntl",  "mmap", "mprotect",
                                    "openat", "utimensat",         "tgkill", "ioctl"};

void add_checked_rules(scmp_filter_ctx ctx) {
  // Internet sockets only: no unix, netlink or packet sockets.
  allow_if_one_of(ctx, "socket", 0, {AF_INET, AF_INET6});
  // Provided-buffer rings for uploads; no new files, buffers, personalities,
  // or a way to lift the ring's restrictions (those take other opcodes).
  allow_if_one_of(ctx, "io_uring_register", 1,
                  {IORING_REGISTER_PBUF_RING, IORING_UNREGISTER_PBUF_RING});
  // Pipe sizes for splices, descriptor flags; no F_DUPFD, no locks, no
  // owner changes.
  allow_if_one_of(ctx, "fcntl", 1,
                  {F_GETFD, F_SETFD, F_GETFL, F_SETFL, F_GETPIPE_SZ, F_SETPIPE_SZ});
  // No executable memory, ever.
  allow_without_bits(ctx, "mmap", 2, PROT_EXEC);
  allow_without_bits(ctx, "mprotect", 2, PROT_EXEC);
  // wolfSSL opens /dev/urandom for every new RNG: read-only opens pass, and
  // Landlock decides which paths exist. Nothing is created, written or
  // truncated by path outside the ring.
  allow_without_bits(ctx, "openat", 2,
                     O_WRONLY | O_RDWR | O_CREAT | O_TRUNC | O_APPEND | (O_TMPFILE & ~O_DIRECTORY));
  // MFMT sets a modification time on an O_PATH fd the ring opened beneath
  // the root (io_uring has no utimensat): only in that form, fd and "".
  allow_if_one_of(ctx, "utimensat", 3, {AT_EMPTY_PATH});
  // A control session asks how much of its replies the kernel still holds
  // (a client that stopped reading); no other ioctl.
  allow_if_one_of(ctx, "ioctl", 1, {SIOCOUTQ});
  // abort() raises SIGABRT at itself; no other signal, no other process.
  const scmp_arg_cmp self[] = {
      {0, SCMP_CMP_EQ, static_cast<scmp_datum_t>(getpid()), 0},
      {2, SCMP_CMP_EQ, SIGABRT, 0},
  };
  check(seccomp_rule_add_array(ctx, SCMP_ACT_ALLOW, number_of("tgkill"), 2, self), "tgkill");
}

}  // namespace

std::vector<std::string> worker_syscall_names() {
  std::vector<std::string> names(std::begin(kPlain), std::end(kPlain));
  names.insert(names.end(), std::begin(kChecked), std::end(kChecked));
  return names;
}

std::size_t install_worker_seccomp_filter() {
  Filter f;
  if (f.ctx == nullptr) throw std::system_error(ENOMEM, std::generic_category(), "seccomp_init");
  // Another architecture's system call numbers (x32, i386 via int 0x80)
  // mean something else: kill, like any unlisted call.
  check(seccomp_attr_set(f.ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS), "seccomp_attr");
  for (const char* name : kPlain) allow(f.ctx, name);
  add_checked_rules(f.ctx);
  check(seccomp_load(f.ctx), "seccomp_load");
  return std::size(kPlain) + std::size(kChecked);
}

}  // namespace ringftpd::server
