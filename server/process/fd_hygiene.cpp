#include "server/process/fd_hygiene.hpp"

#include <linux/close_range.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <system_error>

namespace ringftpd::server {

void close_all_fds_except(std::vector<int> keep) {
  std::sort(keep.begin(), keep.end());
  unsigned first = 3;
  for (int fd : keep) {
    if (fd < static_cast<int>(first)) continue;
    const auto u = static_cast<unsigned>(fd);
    if (u > first && close_range(first, u - 1, 0) != 0) {
      throw std::system_error(errno, std::generic_category(), "close_range");
    }
    first = u + 1;
  }
  if (close_range(first, UINT_MAX, 0) != 0) {
    throw std::system_error(errno, std::generic_category(), "close_range");
  }
}

}  // namespace ringftpd::server
