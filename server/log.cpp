#include "server/log.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <ctime>
#include <system_error>

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

Log::Log(config::LogLevel level, const std::string& path) : level_(level) {
  if (path.empty()) return;
  file_.reset(::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640));
  if (!file_) throw std::system_error(errno, std::generic_category(), path);
}

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
  const int fd = file_ ? file_.get() : STDERR_FILENO;
  [[maybe_unused]] const ssize_t rc = ::write(fd, line.data(), line.size());
}

}  // namespace ringftpd::server
