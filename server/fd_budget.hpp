// A worker's session capacity, from its file descriptor budget (DESIGN.md
// §6a: "at capacity, new connections get 421 at accept; a login never fails
// because a descriptor could not be had").
//
//   reserve   = descriptors open when the worker starts serving (stdio, logs,
//               listeners, ring, signalfd, auth socket, …: counted, not
//               guessed) + kSpareFds for short-lived ones (wolfSSL seeds each
//               TLS object's RNG from /dev/urandom; file-system commands open
//               and close a file);
//   budget    = RLIMIT_NOFILE - reserve;
//   transfers = a fifth of the budget (at least kMinTransfers transfers of
//               kFdsPerTransfer: passive listener, data socket, file, pipe
//               pair), kept for data connections;
//   capacity  = (budget - transfers) / kFdsPerIdleSession (control socket and
//               the user's root directory fd), at most max_sessions.
//
// Sessions beyond `capacity` are refused at accept with 421. Transfers share
// the worker-wide headroom: when more run at once than it holds, the one that
// cannot get a descriptor fails with its own reply (425/451), never a login.
#pragma once

#include <cstdint>
#include <string>

namespace ringftpd::server {

struct FdBudget {
  static constexpr std::uint32_t kFdsPerIdleSession = 2;
  static constexpr std::uint32_t kFdsPerTransfer = 5;
  static constexpr std::uint32_t kMinTransfers = 2;
  static constexpr std::uint32_t kSpareFds = 16;

  std::uint64_t limit = 0;              // RLIMIT_NOFILE (soft) in force
  std::uint32_t open_at_start = 0;      // counted
  std::uint64_t reserve = 0;            // open_at_start + kSpareFds
  std::uint64_t transfer_headroom = 0;  // descriptors kept for data connections
  std::uint32_t capacity = 0;           // sessions this worker takes
  bool limited_by_max_sessions = false;

  // "capacity 9987 sessions from 20000 fds (12 open at start, 16 spare,
  // 3994 for transfers, 2 per idle session)".
  [[nodiscard]] std::string describe() const;
};

// Pure: the plan for a worker with `limit` descriptors, `open_now` of them in
// use, and the server-wide max_sessions.
[[nodiscard]] FdBudget plan_fd_budget(std::uint64_t limit, std::uint32_t open_now,
                                      std::uint32_t max_sessions) noexcept;

// Descriptors open in this process now (/proc/self/fd; without /proc, the
// highest open descriptor + 1, a safe overestimate).
[[nodiscard]] std::uint32_t count_open_fds() noexcept;

// The soft RLIMIT_NOFILE now (after the worker raised it).
[[nodiscard]] std::uint64_t nofile_limit() noexcept;

}  // namespace ringftpd::server
