#include "server/fs/confined.hpp"

#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>

namespace ringftpd::server::fs {
namespace {

// EAGAIN from RESOLVE_IN_ROOT means a concurrent rename or mount; a handful of retries
// is what the kernel documentation suggests, without turning a hostile renamer's loop
// into a livelock for us.
constexpr int kMaxOpenAttempts = 8;

}  // namespace

io::UniqueFd open_root(const std::string& path, std::error_code& error) {
  const int fd = ::open(path.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) {
    error = std::error_code(errno, std::system_category());
    return io::UniqueFd{};
  }
  error.clear();
  return io::UniqueFd{fd};
}

open_how open_how_for(int flags, mode_t mode) noexcept {
  open_how how{};
  how.flags = static_cast<std::uint64_t>(static_cast<unsigned>(flags | O_CLOEXEC));
  // O_TMPFILE includes O_DIRECTORY's bit, so test the whole mask.
  const bool creates = (flags & O_CREAT) != 0 || (flags & O_TMPFILE) == O_TMPFILE;
  how.mode = creates ? static_cast<std::uint64_t>(mode) : 0;
  how.resolve = kConfinedResolve;
  return how;
}

io::UniqueFd open_in_root(int root_fd, const char* rel, int flags, mode_t mode,
                          std::error_code& error) {
  open_how how = open_how_for(flags, mode);
  int err = EAGAIN;
  for (int attempt = 0; attempt < kMaxOpenAttempts; ++attempt) {
    const long fd = ::syscall(SYS_openat2, root_fd, rel, &how, sizeof how);
    if (fd >= 0) {
      error.clear();
      return io::UniqueFd{static_cast<int>(fd)};
    }
    err = errno;
    if (err != EAGAIN && err != EINTR) break;
  }
  error = std::error_code(err, std::system_category());
  return io::UniqueFd{};
}

}  // namespace ringftpd::server::fs
