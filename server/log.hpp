// The session log: one line per event, "2026-11-23T10:00:00Z info [127.0.0.1:5000] text".
//
// One Log per process, created at start-up and passed by reference (no global
// mutable state, so fork keeps working; a forked child calls after_fork()).
// Lines go through a LineSink (line_sink.hpp): never blocking, whole lines
// in one write each (so lines from several processes sharing a file or pipe
// never interleave), a bounded queue when the reader is slow, and whole lines
// dropped and counted when it is full. Whoever runs a loop calls flush() on
// it regularly and adds take_dropped() to the `log_lines_dropped` counter.
// Passwords are never handed to it: callers log "PASS <hidden>" at most.
#pragma once

#include <string>
#include <string_view>

#include "config/config.hpp"
#include "server/line_sink.hpp"

namespace ringftpd::server {

class Log {
 public:
  // path empty = stderr. Throws std::system_error if the file cannot be opened.
  Log(config::LogLevel level, const std::string& path);
  // Takes a sink as it is (tests).
  Log(config::LogLevel level, LineSink sink);

  [[nodiscard]] bool enabled(config::LogLevel level) const noexcept { return level <= level_; }
  void write(config::LogLevel level, std::string_view who, std::string_view text) noexcept;
  // The descriptor lines go to (-1: none), for the fork hygiene's keep-list.
  [[nodiscard]] int fd() const noexcept { return sink_.fd(); }

  // Writes queued lines as far as the descriptor takes them now.
  void flush() noexcept { sink_.flush(); }
  // Before exit: waits up to `budget` for queued lines; the rest are dropped.
  bool drain(std::chrono::milliseconds budget) noexcept { return sink_.drain(budget); }
  // Lines dropped (queue full, broken descriptor) since the last call.
  [[nodiscard]] std::uint64_t take_dropped() noexcept { return sink_.take_dropped(); }
  // In a forked child, before its first line: forget the parent's queue.
  void after_fork() noexcept { sink_.after_fork(); }

  void error(std::string_view who, std::string_view text) noexcept {
    write(config::LogLevel::Error, who, text);
  }
  void warn(std::string_view who, std::string_view text) noexcept {
    write(config::LogLevel::Warn, who, text);
  }
  void info(std::string_view who, std::string_view text) noexcept {
    write(config::LogLevel::Info, who, text);
  }
  void debug(std::string_view who, std::string_view text) noexcept {
    write(config::LogLevel::Debug, who, text);
  }

 private:
  config::LogLevel level_;
  LineSink sink_;
};

}  // namespace ringftpd::server
