#include "server/log.hpp"

#include <algorithm>
#include <ctime>
#include <utility>

namespace ringftpd::server {

Log::Log(config::LogLevel level, const std::string& path, const std::string& json_path)
    : level_(level),
      sink_(path.empty() ? LineSink::for_stderr() : LineSink::open_append(path)),
      json_(json_path) {}

Log::Log(config::LogLevel level, LineSink sink, JsonLog json)
    : level_(level), sink_(std::move(sink)), json_(std::move(json)) {}

void Log::write(config::LogLevel level, std::string_view who, std::string_view text) noexcept {
  if (!enabled(level)) return;
  write_text(level, who, text);
  json_.write(level, who, text, {}, {});
}

void Log::event(config::LogLevel level, std::string_view who, std::string_view text,
                std::string_view event, std::initializer_list<LogField> fields) noexcept {
  if (!enabled(level)) return;
  write_text(level, who, text);
  json_.write(level, who, text, event, std::span<const LogField>(fields.begin(), fields.size()));
}

bool Log::drain(std::chrono::milliseconds budget) noexcept {
  const auto deadline = std::chrono::steady_clock::now() + budget;
  const bool text = sink_.drain(budget);
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      deadline - std::chrono::steady_clock::now());
  return json_.drain(std::max(left, std::chrono::milliseconds(0))) && text;
}

void Log::write_text(config::LogLevel level, std::string_view who, std::string_view text) noexcept {
  char stamp[32];
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  const std::size_t n = std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%SZ", &tm);
  std::string line;
  line.reserve(n + who.size() + text.size() + 16);
  line.append(stamp, n).append(" ").append(log_level_name(level)).append(" ");
  if (!who.empty()) line.append("[").append(who).append("] ");
  for (char c : text) line.push_back((c == '\n' || c == '\r') ? ' ' : c);  // one event, one line
  line.push_back('\n');
  sink_.write_line(line);
}

}  // namespace ringftpd::server
