// The sandbox of a serving worker, defence in depth beneath openat2
// (DESIGN.md §6, README "Trust boundaries"): a restricted ring, Landlock and
// a seccomp allowlist.
//
// Who runs what:
// - the master, when it loads a configuration (start-up and each reload),
//   computes sandbox_roots() from the accounts authd will serve, so a worker
//   learns every root and whether it is writable without ever seeing a
//   password hash or the users file;
// - a forked worker makes its ring with worker_ring_restrictions(), and once
//   everything else is set up (listeners inherited, privileges dropped, TLS
//   context, ring, buffers, signalfd) calls enter_sandbox(), which cannot be
//   undone. The worker must be single-threaded then.
#pragma once

#include <span>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "io/ring.hpp"
#include "server/process/landlock.hpp"

namespace ringftpd::server {

// Every directory an account may be rooted at: each user's root (writable if
// any of write, delete, rename or mkdir is granted) and the anonymous root
// (writable if anonymous_write). One entry per path, writable if any
// account writes there.
[[nodiscard]] std::vector<SandboxRoot> sandbox_roots(const config::Config& config,
                                                     std::span<const config::User> users);

// Exactly the opcodes, SQE flags and registrations the worker and its
// sessions use. An operation added to the worker must be added here too:
// anything else completes with -EACCES.
[[nodiscard]] io::RingRestrictions worker_ring_restrictions();

struct SandboxReport {
  std::size_t syscalls = 0;  // allowed by the seccomp filter
  std::size_t ring_ops = 0;  // opcodes the ring accepts
  LandlockOutcome landlock;

  // "sandbox: seccomp on (N syscalls), ring restricted to M ops, landlock
  // ABI vA on K roots" (or "landlock unavailable on this kernel").
  [[nodiscard]] std::string summary() const;
};

// Closes the calling worker in: reads the time zone (the transfer log's
// local times) while files may still be opened, then Landlock on `roots`
// plus /dev/urandom (wolfSSL's seed), then the seccomp filter. `ring` must
// have been made with worker_ring_restrictions(). Throws std::runtime_error
// or std::system_error; the worker must not serve then.
[[nodiscard]] SandboxReport enter_sandbox(std::span<const SandboxRoot> roots, const io::Ring& ring);

}  // namespace ringftpd::server
