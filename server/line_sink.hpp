// Whole lines to a descriptor, never blocking: the session log and the
// transfer log write through one of these (issue 10: "a stalled stderr pipe
// (journald, docker) stalls the worker").
//
// A line that cannot be written now waits in a bounded queue (kQueueBytes),
// written at the next line or at flush() (the worker's one-second tick, the
// master's loop). When the queue is full, whole new lines are dropped and
// counted (take_dropped(): the `log_lines_dropped` counter); a line is never
// cut, reordered, or written twice. Lines are capped at kMaxLineBytes
// (PIPE_BUF), and every write(2) carries whole lines and at most PIPE_BUF
// bytes, so on a pipe each write lands whole or not at all, and lines of the
// master and the workers sharing that pipe never interleave.
//
// How the descriptor is made non-blocking without touching anyone else's
// (O_NONBLOCK belongs to the open file description, which the master's stderr
// shares with the shell, the service manager or the container runtime that
// started it, and setting it there would break them):
//   - a regular file: writes never wait for a reader; used as is;
//   - a socket (journald's stdout stream): send(2) with MSG_DONTWAIT, a
//     per-call flag, on the shared descriptor;
//   - a pipe, FIFO or terminal: reopened through /proc/self/fd/N with
//     O_NONBLOCK, which makes a fresh open file description that only our
//     processes share (a dup() would share the old one and its flags);
//   - if that reopen fails (no /proc, a pipe without reader): poll(2) with a
//     zero timeout before each write of at most PIPE_BUF bytes. Only a race
//     with another writer filling the pipe in between can then block, for as
//     long as that writer's one line takes to drain.
//
// One LineSink per process: a forked child inherits the parent's queue and
// must call after_fork() before writing, or it would write the parent's lines
// again. Not thread-safe: each process's loop thread alone writes; other
// threads hand their lines to it through a LogQueue (log_queue.hpp).
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "io/unique_fd.hpp"

namespace ringftpd::server {

class LineSink {
 public:
  static constexpr std::size_t kQueueBytes = 256 * 1024;
  static constexpr std::size_t kMaxLineBytes = 4096;  // PIPE_BUF on Linux

  enum class Mode : std::uint8_t {
    Write,         // write(2) on a descriptor that never blocks
    Send,          // send(2, MSG_DONTWAIT | MSG_NOSIGNAL) on a socket
    PollAndWrite,  // poll(2) for room first (fallback, see above)
  };

  LineSink() = default;  // disabled: lines go nowhere, nothing is counted
  // Takes `fd` (owned when `owned`) as it is.
  LineSink(int fd, bool owned, Mode mode);

  // The process's stderr, made non-blocking as described above.
  [[nodiscard]] static LineSink for_stderr();
  // Opens (creates) `path` for appending, non-blocking. A FIFO without a
  // reader is opened read-write so the open does not wait. Throws
  // std::system_error naming the path.
  [[nodiscard]] static LineSink open_append(const std::string& path);

  // `line` should end in '\n'; one is added if not, and a longer line is cut
  // to kMaxLineBytes (ending "...\n").
  void write_line(std::string_view line) noexcept;
  // Writes what is queued, as far as the descriptor takes it now.
  void flush() noexcept;
  // At exit: waits up to `budget` for the queue to drain; whatever is left
  // is counted as dropped. Returns true if everything was written.
  bool drain(std::chrono::milliseconds budget) noexcept;
  // Lines dropped since the last call.
  [[nodiscard]] std::uint64_t take_dropped() noexcept;
  // In a forked child: forget the parent's queue and counts.
  void after_fork() noexcept;

  [[nodiscard]] bool enabled() const noexcept { return fd_ >= 0; }
  [[nodiscard]] int fd() const noexcept { return fd_; }
  [[nodiscard]] Mode mode() const noexcept { return mode_; }
  [[nodiscard]] std::size_t queued_bytes() const noexcept { return queue_.size() - head_; }

 private:
  // One write of at most kMaxLineBytes: bytes taken, 0 if none now, -1 if the
  // descriptor is broken (EPIPE, EBADF, ...).
  [[nodiscard]] long put(const char* data, std::size_t size) noexcept;
  void enqueue(std::string_view bytes) noexcept;

  io::UniqueFd owned_;
  int fd_ = -1;
  Mode mode_ = Mode::Write;
  std::string queue_;  // [head_, size): unwritten bytes, whole lines but the first
  std::size_t head_ = 0;
  std::uint64_t dropped_ = 0;
};

}  // namespace ringftpd::server
