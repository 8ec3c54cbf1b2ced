#include "server/log.hpp"

#include <ctime>
#include <utility>

namespace ringftpd::server {
namespace {

std::string_view level_name(config::LogLevel level) {
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

}  // namespace

Log::Log(config::LogLevel level, const std::string& path)
    : level_(level), sink_(path.empty() ? LineSink::for_stderr() : LineSink::open_append(path)) {}

Log::Log(config::LogLevel level, LineSink sink) : level_(level), sink_(std::move(sink)) {}

void Log::write(config::LogLevel level, std::string_view who, std::string_view text) noexcept {
  if (!enabled(level)) return;
  char stamp[32];
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  const std::size_t n = std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%SZ", &tm);
  std::string line;
  line.reserve(n + who.size() + text.size() + 16);
  line.append(stamp, n).append(" ").append(level_name(level)).append(" ");
  if (!who.empty()) line.append("[").append(who).append("] ");
  for (char c : text) line.push_back((c == '\n' || c == '\r') ? ' ' : c);  // one event, one line
  line.push_back('\n');
  sink_.write_line(line);
}

}  // namespace ringftpd::server
