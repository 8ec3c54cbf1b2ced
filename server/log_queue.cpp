#include "server/log_queue.hpp"

#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <string>
#include <system_error>
#include <utility>

namespace ringftpd::server {

LogQueue::LogQueue(std::size_t max_bytes)
    : max_bytes_(max_bytes), ready_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {
  if (!ready_) throw std::system_error(errno, std::generic_category(), "log queue: eventfd");
}

void LogQueue::push(std::string_view line) noexcept {
  std::lock_guard lock(mu_);
  const bool was_idle = lines_.empty() && dropped_ == 0;
  bool queued = false;
  if (bytes_ + line.size() <= max_bytes_) {
    try {
      lines_.emplace_back(line);
      bytes_ += line.size();
      queued = true;
    } catch (...) {  // out of memory: counted like a full queue
    }
  }
  if (!queued) ++dropped_;
  if (was_idle) {
    // Only when it had nothing to take: take() resets the counter under the
    // same lock, so nothing waits without the descriptor being readable.
    const std::uint64_t one = 1;
    [[maybe_unused]] const ssize_t n = ::write(ready_.get(), &one, sizeof one);
  }
}

LogQueue::Taken LogQueue::take() noexcept {
  Taken out;
  std::lock_guard lock(mu_);
  out.lines.swap(lines_);
  out.dropped = std::exchange(dropped_, 0);
  bytes_ = 0;
  std::uint64_t count = 0;
  [[maybe_unused]] const ssize_t n = ::read(ready_.get(), &count, sizeof count);
  return out;
}

std::uint64_t LogQueue::forward_to(Log& log, std::string_view who) noexcept {
  const Taken taken = take();
  for (const std::string& line : taken.lines) log.info(who, line);
  if (taken.dropped > 0) {
    try {
      log.warn(who, std::to_string(taken.dropped) + " log lines dropped (too many at once)");
    } catch (...) {  // std::to_string's allocation: the count is lost, not the process
    }
  }
  return taken.dropped;
}

}  // namespace ringftpd::server
