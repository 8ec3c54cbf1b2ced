// The session log: one line per event, "2026-11-23T10:00:00Z info [127.0.0.1:5000] text".
//
// One Log per process, created at start-up and passed by reference (no global
// mutable state, so fork keeps working). Lines are written with one write(2)
// each, so lines from several processes sharing a file never interleave.
// Passwords are never handed to it: callers log "PASS <hidden>" at most.
#pragma once

#include <string>
#include <string_view>

#include "config/config.hpp"
#include "io/unique_fd.hpp"

namespace ringftpd::server {

class Log {
 public:
  // path empty = stderr. Throws std::system_error if the file cannot be opened.
  Log(config::LogLevel level, const std::string& path);

  [[nodiscard]] bool enabled(config::LogLevel level) const noexcept { return level <= level_; }
  void write(config::LogLevel level, std::string_view who, std::string_view text) noexcept;
  // The descriptor lines go to (2 = stderr), for the fork hygiene's keep-list.
  [[nodiscard]] int fd() const noexcept { return file_ ? file_.get() : 2; }

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
  io::UniqueFd file_;  // invalid = stderr
};

}  // namespace ringftpd::server
