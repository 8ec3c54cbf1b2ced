#include "io/unique_fd.hpp"

#include <unistd.h>

namespace ringftpd::io {

void UniqueFd::reset(int fd) noexcept {
  if (fd_ >= 0) ::close(fd_);  // EINTR on Linux still closes the fd: no retry
  fd_ = fd;
}

}  // namespace ringftpd::io
