#include "server/process/sandbox.hpp"

#include <time.h>

#include <fstream>
#include <stdexcept>
#include <string>

#include "server/process/seccomp_filter.hpp"

namespace ringftpd::server {
namespace {

// What the worker and its sessions submit (grep io_uring_prep_ in server/):
// accept (multishot too), recv (multishot too), send, read, write, writev,
// splice, openat (the root), openat2 (everything beneath it), statx, close,
// connect, timeout, async_cancel, renameat, unlinkat, mkdirat; nop is what
// Ring::sqe() prepares before its caller does.
constexpr std::uint8_t kWorkerOps[] = {
    IORING_OP_NOP,      IORING_OP_ACCEPT,  IORING_OP_RECV,         IORING_OP_SEND,
    IORING_OP_READ,     IORING_OP_WRITE,   IORING_OP_WRITEV,       IORING_OP_SPLICE,
    IORING_OP_OPENAT,   IORING_OP_OPENAT2, IORING_OP_STATX,        IORING_OP_CLOSE,
    IORING_OP_CONNECT,  IORING_OP_TIMEOUT, IORING_OP_ASYNC_CANCEL, IORING_OP_RENAMEAT,
    IORING_OP_UNLINKAT, IORING_OP_MKDIRAT,
};

// Provided buffers for control input and uploads; hard links keep a close
// behind its cancel. No fixed files, no forced async, no drain.
constexpr std::uint8_t kWorkerSqeFlags = IOSQE_BUFFER_SELECT | IOSQE_IO_HARDLINK;

// wolfSSL (built without getrandom support) reads its seed from here for
// every new RNG, that is every TLS session.
constexpr const char* kRandomDevice = "/dev/urandom";

int thread_count() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("Threads:", 0) == 0) return std::stoi(line.substr(8));
  }
  return 1;  // no /proc: nothing to check against
}

}  // namespace

std::vector<SandboxRoot> sandbox_roots(const config::Config& config,
                                       std::span<const config::User> users) {
  constexpr std::uint8_t kWrites =
      config::kPermWrite | config::kPermDelete | config::kPermRename | config::kPermMkdir;
  std::vector<SandboxRoot> roots;
  const auto add = [&roots](const std::string& path, bool writable) {
    for (SandboxRoot& r : roots) {
      if (r.path == path) {
        r.writable = r.writable || writable;
        return;
      }
    }
    roots.push_back({path, writable});
  };
  for (const config::User& u : users) add(u.root, (u.permissions & kWrites) != 0);
  if (config.users.anonymous) add(config.users.anonymous_root, config.users.anonymous_write);
  return roots;
}

io::RingRestrictions worker_ring_restrictions() {
  io::RingRestrictions r;
  r.sqe_ops.assign(std::begin(kWorkerOps), std::end(kWorkerOps));
  r.register_ops = {IORING_REGISTER_PBUF_RING, IORING_UNREGISTER_PBUF_RING};
  r.sqe_flags = kWorkerSqeFlags;
  return r;
}

std::string SandboxReport::summary() const {
  std::string s = "sandbox: seccomp on (" + std::to_string(syscalls) +
                  " syscalls), ring restricted to " + std::to_string(ring_ops) + " ops, ";
  if (landlock.abi == 0) return s + "landlock unavailable on this kernel";
  return s + "landlock ABI v" + std::to_string(landlock.abi) + " on " +
         std::to_string(landlock.trees) + " root" + (landlock.trees == 1 ? "" : "s");
}

SandboxReport enter_sandbox(std::span<const SandboxRoot> roots, const io::Ring& ring) {
  if (!ring.is_restricted()) throw std::runtime_error("sandbox: the ring is not restricted");
  if (const int n = thread_count(); n != 1) {
    throw std::runtime_error("sandbox: " + std::to_string(n) +
                             " threads; Landlock would hold one of them only");
  }
  // localtime_r reads /etc/localtime on first use: do it now, before the
  // file system closes.
  tzset();
  SandboxReport report;
  report.ring_ops = std::size(kWorkerOps);
  const std::string random_device = kRandomDevice;
  report.landlock = restrict_file_access(roots, std::span<const std::string>(&random_device, 1));
  report.syscalls = install_worker_seccomp_filter();
  return report;
}

}  // namespace ringftpd::server
