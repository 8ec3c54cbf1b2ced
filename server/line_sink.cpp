#include "server/line_sink.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <system_error>

namespace ringftpd::server {

LineSink::LineSink(int fd, bool owned, Mode mode) : fd_(fd), mode_(mode) {
  if (owned) owned_.reset(fd);
  // Appending below the reserved size never allocates: write_line cannot
  // throw (or fail) for want of memory.
  queue_.reserve(kQueueBytes);
}

LineSink LineSink::for_stderr() {
  struct stat st {};
  if (fstat(STDERR_FILENO, &st) != 0) return LineSink();  // no stderr at all
  if (S_ISREG(st.st_mode)) return LineSink(STDERR_FILENO, false, Mode::Write);
  if (S_ISSOCK(st.st_mode)) return LineSink(STDERR_FILENO, false, Mode::Send);
  const int fd = ::open("/proc/self/fd/2", O_WRONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
  if (fd >= 0) return LineSink(fd, true, Mode::Write);
  return LineSink(STDERR_FILENO, false, Mode::PollAndWrite);
}

LineSink LineSink::open_append(const std::string& path) {
  constexpr int kFlags = O_APPEND | O_CREAT | O_CLOEXEC | O_NONBLOCK | O_NOCTTY;
  int fd = ::open(path.c_str(), O_WRONLY | kFlags, 0640);
  // A FIFO nobody reads yet: O_WRONLY | O_NONBLOCK refuses (ENXIO); read-write
  // opens without waiting, and lines are dropped until a reader drains it.
  if (fd < 0 && errno == ENXIO) fd = ::open(path.c_str(), O_RDWR | kFlags, 0640);
  if (fd < 0) throw std::system_error(errno, std::generic_category(), path);
  return LineSink(fd, true, Mode::Write);
}

long LineSink::put(const char* data, std::size_t size) noexcept {
  for (;;) {
    ssize_t n = 0;
    switch (mode_) {
      case Mode::Send:
        n = ::send(fd_, data, size, MSG_DONTWAIT | MSG_NOSIGNAL);
        break;
      case Mode::PollAndWrite: {
        pollfd p{fd_, POLLOUT, 0};
        const int r = ::poll(&p, 1, 0);
        if (r == 0) return 0;
        if (r < 0) {
          if (errno == EINTR) continue;
          return -1;
        }
        if (p.revents & (POLLERR | POLLNVAL)) return -1;
        n = ::write(fd_, data, size);
        break;
      }
      case Mode::Write:
        n = ::write(fd_, data, size);
        break;
    }
    if (n >= 0) return n;
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return 0;
    return -1;  // EPIPE (SIGPIPE is blocked in the server), EBADF, EIO, ENOSPC...
  }
}

void LineSink::enqueue(std::string_view bytes) noexcept {
  if (queue_.size() + bytes.size() > queue_.capacity()) {
    queue_.erase(0, head_);  // moves the unwritten bytes down; no allocation
    head_ = 0;
  }
  queue_.append(bytes);
}

void LineSink::write_line(std::string_view text) noexcept {
  if (fd_ < 0) return;
  std::array<char, kMaxLineBytes> cut;
  std::string_view line = text;
  if (line.size() > kMaxLineBytes || line.empty() || line.back() != '\n') {
    constexpr std::string_view kEllipsis = "...\n";
    if (line.size() >= kMaxLineBytes) {
      const std::size_t keep = kMaxLineBytes - kEllipsis.size();
      std::memcpy(cut.data(), line.data(), keep);
      std::memcpy(cut.data() + keep, kEllipsis.data(), kEllipsis.size());
      line = std::string_view(cut.data(), kMaxLineBytes);
    } else {
      std::memcpy(cut.data(), line.data(), line.size());
      cut[line.size()] = '\n';
      line = std::string_view(cut.data(), line.size() + 1);
    }
  }
  flush();
  if (queued_bytes() == 0) {
    const long n = put(line.data(), line.size());
    if (n < 0) {
      ++dropped_;
      return;
    }
    // The rest of a line the descriptor took in part (a socket, a terminal)
    // must follow before anything else: it always fits in an empty queue.
    if (static_cast<std::size_t>(n) < line.size())
      enqueue(line.substr(static_cast<std::size_t>(n)));
    return;
  }
  if (queued_bytes() + line.size() > kQueueBytes) {
    ++dropped_;
    return;
  }
  enqueue(line);
}

void LineSink::flush() noexcept {
  while (queued_bytes() > 0) {
    const char* front = queue_.data() + head_;
    std::size_t chunk = std::min(queued_bytes(), kMaxLineBytes);
    if (chunk < queued_bytes()) {
      // Whole lines only. The first one is at most kMaxLineBytes long, so a
      // newline is always within reach.
      const std::string_view window(front, chunk);
      chunk = window.rfind('\n') + 1;
    }
    const long n = put(front, chunk);
    if (n < 0) {
      dropped_ += static_cast<std::uint64_t>(
          std::count(queue_.begin() + static_cast<std::ptrdiff_t>(head_), queue_.end(), '\n'));
      queue_.clear();
      head_ = 0;
      return;
    }
    if (n == 0) return;
    head_ += static_cast<std::size_t>(n);
  }
  queue_.clear();
  head_ = 0;
}

bool LineSink::drain(std::chrono::milliseconds budget) noexcept {
  if (fd_ < 0) return true;
  // poll(2) for room (the worker's seccomp allowlist has it for this).
  const auto deadline = std::chrono::steady_clock::now() + budget;
  for (;;) {
    flush();
    if (queued_bytes() == 0) return true;
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) break;
    pollfd p{fd_, POLLOUT, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) < 0 && errno != EINTR) break;
  }
  dropped_ += static_cast<std::uint64_t>(
      std::count(queue_.begin() + static_cast<std::ptrdiff_t>(head_), queue_.end(), '\n'));
  queue_.clear();
  head_ = 0;
  return false;
}

std::uint64_t LineSink::take_dropped() noexcept {
  const std::uint64_t n = dropped_;
  dropped_ = 0;
  return n;
}

void LineSink::after_fork() noexcept {
  queue_.clear();
  head_ = 0;
  dropped_ = 0;
}

}  // namespace ringftpd::server
