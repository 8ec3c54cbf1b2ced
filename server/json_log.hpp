// The JSON-lines log ([log] json): the session log's events, one JSON object
// per line, for log shippers (Vector, Filebeat, fluent-bit) that would
// otherwise parse the text log with regular expressions:
//
//   {"time":"2026-11-23T10:00:00.123Z","level":"warn","process":"worker 1",
//    "pid":4242,"client":"203.0.113.7:51234","event":"login_failed",
//    "user":"alice","reason":"bad credentials","msg":"login failed (...): user alice"}
//
// Every session-log line has its object ("event":"log" when it is not one of
// the structured events listed in docs/configuration.md), written when the
// text line is, at the same level. "client" is the peer of a client's
// session; lines of the processes themselves carry "source" ("master",
// "worker 1", "authd", ...) instead. "msg" comes last and is the text line's
// text, so nothing is lost to a shipper that reads only the JSON.
//
// Owned by Log (log.hpp), which writes both. Written through its own
// LineSink (line_sink.hpp), so it shares the text log's guarantees: never
// blocking, whole lines in one write, a bounded queue, dropped lines counted.
// A line is built to fit LineSink::kMaxLineBytes (json_line.hpp), so the sink
// never cuts one. A forked child calls after_fork() before its first line.
#pragma once

#include <sys/types.h>
#include <chrono>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "config/config.hpp"
#include "server/line_sink.hpp"
#include "server/log_event.hpp"

namespace ringftpd::server {

class JsonLog {
 public:
  JsonLog() = default;  // disabled
  // path empty = disabled. Throws std::system_error naming the path if it
  // cannot be opened. The process is "master" until after_fork() names it.
  explicit JsonLog(const std::string& path);
  // Takes a sink as it is (tests).
  explicit JsonLog(LineSink sink);

  [[nodiscard]] bool enabled() const noexcept { return sink_.enabled(); }
  // `who` is what the text line shows in brackets: a client's address
  // ("192.0.2.1:5000", "[2001:db8::1]:5000") or a process's name.
  void write(config::LogLevel level, std::string_view who, std::string_view text,
             std::string_view event, std::span<const LogField> fields) noexcept;

  // The line write() would make, at `now` in process `process` (pid `pid`).
  [[nodiscard]] static std::string format(std::chrono::system_clock::time_point now,
                                          config::LogLevel level, std::string_view process,
                                          pid_t pid, std::string_view who, std::string_view text,
                                          std::string_view event, std::span<const LogField> fields);

  [[nodiscard]] int fd() const noexcept { return sink_.fd(); }
  void flush() noexcept { sink_.flush(); }
  bool drain(std::chrono::milliseconds budget) noexcept { return sink_.drain(budget); }
  [[nodiscard]] std::uint64_t take_dropped() noexcept { return sink_.take_dropped(); }
  // In a forked child, before its first line: forget the parent's queue and
  // name this process ("worker 1", "authd"; cut to 31 bytes).
  void after_fork(std::string_view process) noexcept;

 private:
  void name_process(std::string_view process) noexcept;

  LineSink sink_;
  char process_[32] = {};
  std::size_t process_size_ = 0;
  pid_t pid_ = 0;
};

}  // namespace ringftpd::server
