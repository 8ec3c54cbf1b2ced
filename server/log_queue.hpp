// LogQueue: log lines from a process's helper threads, handed to the one
// thread that writes the process's Log.
//
// Log and its LineSinks (log.hpp, line_sink.hpp) are not thread-safe: one
// thread per process writes them, the thread that runs the process's loop and
// flushes them. A process that also runs other threads (authd: the auth
// service's socket loop and its password-hashing pool) gives those threads
// push() instead of the Log; the loop polls ready_fd() and moves the lines
// into the Log with forward_to().
//
// Bounded (max_bytes of waiting text), like the Log's own queue, so a flood of
// lines from the helper threads (a password-guessing run that throttles many
// addresses) costs bounded memory: when it is full, whole new lines are
// dropped and counted (Taken::dropped). The queue never cuts or reorders a
// line. push() holds a mutex for one copy and, when there was nothing to
// take, makes one eventfd write: it never waits for the loop or for the log's
// descriptor.
//
// Thread-safety: push() from any thread; ready_fd(), take() and forward_to()
// belong to the owner thread (the one that writes the Log). Create it before
// the threads that push and destroy it after they are joined.
#pragma once

#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "io/unique_fd.hpp"
#include "server/log.hpp"

namespace ringftpd::server {

class LogQueue {
 public:
  static constexpr std::size_t kDefaultMaxBytes = 64 * 1024;

  // Throws std::system_error if the eventfd cannot be created.
  explicit LogQueue(std::size_t max_bytes = kDefaultMaxBytes);

  LogQueue(const LogQueue&) = delete;
  LogQueue& operator=(const LogQueue&) = delete;

  // Any thread. Queues `line` (without its '\n'), or drops and counts it when
  // the queue would exceed max_bytes.
  void push(std::string_view line) noexcept;

  struct Taken {
    std::vector<std::string> lines;  // oldest first
    std::uint64_t dropped = 0;       // lines dropped since the last take()
  };

  // Owner thread. Readable (POLLIN) while take() has something to return.
  [[nodiscard]] int ready_fd() const noexcept { return ready_.get(); }
  // Owner thread. Everything waiting; ready_fd() stops being readable until
  // the next push().
  [[nodiscard]] Taken take() noexcept;
  // Owner thread. take(), then each line to `log` at Info as `who`, then,
  // if lines were dropped, one warning that counts them. Returns that count.
  std::uint64_t forward_to(Log& log, std::string_view who) noexcept;

 private:
  const std::size_t max_bytes_;
  io::UniqueFd ready_;  // eventfd: non-zero while there is something to take()

  std::mutex mu_;  // guards the members below
  std::vector<std::string> lines_;
  std::size_t bytes_ = 0;
  std::uint64_t dropped_ = 0;
};

}  // namespace ringftpd::server
