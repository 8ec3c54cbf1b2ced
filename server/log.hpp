// The session log: one line per event, "2026-11-23T10:00:00Z info [127.0.0.1:5000] text",
// and, when [log] json names a file, the same event as one JSON object there
// (json_log.hpp), with the typed fields of a structured event (event()).
//
// One Log per process, created at start-up and passed by reference (no global
// mutable state, so fork keeps working; a forked child calls after_fork()).
// Not thread-safe: only the thread that runs the process's loop writes it;
// other threads (authd's auth service) hand lines over through a LogQueue
// (log_queue.hpp).
// Lines go through a LineSink (line_sink.hpp): never blocking, whole lines
// in one write each (so lines from several processes sharing a file or pipe
// never interleave), a bounded queue when the reader is slow, and whole lines
// dropped and counted when it is full. Whoever runs a loop calls flush() on
// it regularly and adds take_dropped() to the `log_lines_dropped` counter.
// Passwords are never handed to it: callers log "PASS <hidden>" at most.
#pragma once

#include <initializer_list>
#include <string>
#include <string_view>

#include "config/config.hpp"
#include "server/json_log.hpp"
#include "server/line_sink.hpp"
#include "server/log_event.hpp"

namespace ringftpd::server {

class Log {
 public:
  // path empty = stderr; json_path empty = no JSON log. Throws
  // std::system_error naming the file if one cannot be opened.
  Log(config::LogLevel level, const std::string& path, const std::string& json_path = {});
  // Takes sinks as they are (tests).
  Log(config::LogLevel level, LineSink sink, JsonLog json = {});

  [[nodiscard]] bool enabled(config::LogLevel level) const noexcept { return level <= level_; }
  void write(config::LogLevel level, std::string_view who, std::string_view text) noexcept;
  // A structured event: the text line as write() makes it, and in the JSON
  // log an object with "event": `event` and `fields` besides.
  void event(config::LogLevel level, std::string_view who, std::string_view text,
             std::string_view event, std::initializer_list<LogField> fields) noexcept;
  // The descriptors lines go to (-1: none), for the fork hygiene's keep-list.
  [[nodiscard]] int fd() const noexcept { return sink_.fd(); }
  [[nodiscard]] int json_fd() const noexcept { return json_.fd(); }

  // Writes queued lines as far as the descriptors take them now.
  void flush() noexcept {
    sink_.flush();
    json_.flush();
  }
  // Before exit: waits up to `budget` for queued lines; the rest are dropped.
  bool drain(std::chrono::milliseconds budget) noexcept;
  // Lines dropped (queue full, broken descriptor) since the last call, in
  // both logs.
  [[nodiscard]] std::uint64_t take_dropped() noexcept {
    return sink_.take_dropped() + json_.take_dropped();
  }
  // In a forked child, before its first line: forget the parent's queues;
  // `process` names the child in the JSON log ("worker 1", "authd").
  void after_fork(std::string_view process) noexcept {
    sink_.after_fork();
    json_.after_fork(process);
  }

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
  void write_text(config::LogLevel level, std::string_view who, std::string_view text) noexcept;

  config::LogLevel level_;
  LineSink sink_;
  JsonLog json_;
};

}  // namespace ringftpd::server
