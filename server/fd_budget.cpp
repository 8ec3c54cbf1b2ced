#include "server/fd_budget.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>

namespace ringftpd::server {

std::string FdBudget::describe() const {
  return "capacity " + std::to_string(capacity) + " sessions from " + std::to_string(limit) +
         " fds (" + std::to_string(open_at_start) + " open at start, " + std::to_string(kSpareFds) +
         " spare, " + std::to_string(transfer_headroom) + " for transfers, " +
         std::to_string(kFdsPerIdleSession) + " per idle session)" +
         (limited_by_max_sessions ? "; limited by max_sessions" : "");
}

FdBudget plan_fd_budget(std::uint64_t limit, std::uint32_t open_now,
                        std::uint32_t max_sessions) noexcept {
  FdBudget b;
  b.limit = limit;
  b.open_at_start = open_now;
  b.reserve = std::uint64_t{open_now} + FdBudget::kSpareFds;
  const std::uint64_t budget = limit > b.reserve ? limit - b.reserve : 0;
  const std::uint64_t min_headroom =
      std::uint64_t{FdBudget::kFdsPerTransfer} * FdBudget::kMinTransfers;
  // Whole transfers only: a fifth of the budget, rounded down to a multiple.
  const std::uint64_t fifth = budget / 5 / FdBudget::kFdsPerTransfer * FdBudget::kFdsPerTransfer;
  b.transfer_headroom = std::min(budget, std::max(min_headroom, fifth));
  const std::uint64_t sessions = (budget - b.transfer_headroom) / FdBudget::kFdsPerIdleSession;
  if (sessions >= max_sessions) {
    b.capacity = max_sessions;
    b.limited_by_max_sessions = true;
  } else {
    b.capacity = static_cast<std::uint32_t>(sessions);
  }
  return b;
}

std::uint32_t count_open_fds() noexcept {
  if (DIR* d = opendir("/proc/self/fd")) {
    std::uint32_t n = 0;
    while (const dirent* e = readdir(d)) {
      if (e->d_name[0] != '.') ++n;
    }
    closedir(d);
    return n - 1;  // the directory's own descriptor
  }
  // No /proc: count up to the highest descriptor in use.
  const long top = std::min<long>(sysconf(_SC_OPEN_MAX), 1 << 20);
  std::uint32_t highest = 0;
  for (long fd = 0; fd < top; ++fd) {
    if (fcntl(static_cast<int>(fd), F_GETFD) >= 0) highest = static_cast<std::uint32_t>(fd) + 1;
  }
  return highest;
}

std::uint64_t nofile_limit() noexcept {
  rlimit lim{};
  if (getrlimit(RLIMIT_NOFILE, &lim) != 0) return 1024;
  return lim.rlim_cur == RLIM_INFINITY ? (std::uint64_t{1} << 20) : lim.rlim_cur;
}

}  // namespace ringftpd::server
