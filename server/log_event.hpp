// The vocabulary shared by the session log (log.hpp) and its JSON-lines twin
// (json_log.hpp): level names, and the typed fields a structured event
// carries beside its text ("user", "path", "bytes", ...).
//
// A LogField only views its key and text: both must outlive the call that
// takes the field (in practice, fields are built in the argument list).
#pragma once

#include <cstdint>
#include <string_view>

#include "config/config.hpp"

namespace ringftpd::server {

[[nodiscard]] constexpr std::string_view log_level_name(config::LogLevel level) noexcept {
  switch (level) {
    case config::LogLevel::Error:
      return "error";
    case config::LogLevel::Warn:
      return "warn";
    case config::LogLevel::Info:
      return "info";
    case config::LogLevel::Debug:
      return "debug";
  }
  return "?";
}

struct LogField {
  enum class Kind : std::uint8_t { Text, Number, Boolean };
  std::string_view key;  // ours, a literal: [a-z_]+
  Kind kind = Kind::Text;
  std::string_view text;    // Kind::Text; may be anything the client sent
  std::int64_t number = 0;  // Kind::Number, Kind::Boolean (0 or 1)
};

// Named makers rather than overloads: a string literal would otherwise pick
// a bool overload (a pointer converts to bool before it becomes a string_view).
[[nodiscard]] constexpr LogField text_field(std::string_view key, std::string_view text) noexcept {
  return {key, LogField::Kind::Text, text, 0};
}
[[nodiscard]] constexpr LogField number_field(std::string_view key, std::int64_t n) noexcept {
  return {key, LogField::Kind::Number, {}, n};
}
[[nodiscard]] constexpr LogField bool_field(std::string_view key, bool b) noexcept {
  return {key, LogField::Kind::Boolean, {}, b ? 1 : 0};
}

}  // namespace ringftpd::server
