#include "server/process/pid_file.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <stdexcept>
#include <system_error>

namespace ringftpd::server {

PidFile::PidFile(std::string path) : path_(std::move(path)) {
  fd_.reset(::open(path_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644));
  if (!fd_) throw std::system_error(errno, std::generic_category(), path_);
  if (flock(fd_.get(), LOCK_EX | LOCK_NB) != 0) {
    const pid_t other = read_live_pid(path_);
    throw std::runtime_error(path_ + ": another ringftpd" +
                             (other > 0 ? " (pid " + std::to_string(other) + ")" : "") +
                             " is running with this pid file");
  }
  owner_ = getpid();
  const std::string text = std::to_string(owner_) + "\n";
  if (ftruncate(fd_.get(), 0) != 0 ||
      pwrite(fd_.get(), text.data(), text.size(), 0) != static_cast<ssize_t>(text.size())) {
    throw std::system_error(errno, std::generic_category(), path_);
  }
}

PidFile::~PidFile() {
  if (owner_ == getpid()) ::unlink(path_.c_str());
}

pid_t PidFile::read_live_pid(const std::string& path) {
  std::ifstream in(path);
  long pid = 0;
  if (!(in >> pid) || pid <= 0) return 0;
  if (kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH) return 0;
  return static_cast<pid_t>(pid);
}

}  // namespace ringftpd::server
