// The master's pid file: created at start, locked (flock) for the master's
// whole life so that a second master on the same file refuses to start
// rather than silently sharing SO_REUSEPORT listeners, and removed at a clean
// exit. Children never touch it (the lock stays with the master's open file
// description; forked children close their copy).
#pragma once

#include <string>

#include "io/unique_fd.hpp"

namespace ringftpd::server {

class PidFile {
 public:
  // Throws std::runtime_error if another process holds it, std::system_error
  // if it cannot be written.
  explicit PidFile(std::string path);
  ~PidFile();
  PidFile(const PidFile&) = delete;
  PidFile& operator=(const PidFile&) = delete;

  [[nodiscard]] int fd() const noexcept { return fd_.get(); }
  [[nodiscard]] const std::string& path() const noexcept { return path_; }

  // The pid recorded in `path`, if it names a live process. For `--status`.
  [[nodiscard]] static pid_t read_live_pid(const std::string& path);

 private:
  std::string path_;
  io::UniqueFd fd_;
  pid_t owner_ = 0;  // removes the file only in the process that wrote it
};

}  // namespace ringftpd::server
