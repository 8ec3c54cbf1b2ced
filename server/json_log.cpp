#include "server/json_log.hpp"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <utility>

#include "server/json_line.hpp"

namespace ringftpd::server {
namespace {

// RFC 3339 in UTC with milliseconds: "2026-11-23T10:00:00.123Z".
std::string rfc3339(std::chrono::system_clock::time_point now) {
  const auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
  const auto seconds = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  char stamp[40];
  std::size_t n = std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
  n += static_cast<std::size_t>(
      std::snprintf(stamp + n, sizeof stamp - n, ".%03dZ", static_cast<int>(ms % 1000)));
  return std::string(stamp, n);
}

// Session lines name their client by address; process lines by a name that
// never starts with a digit or '[' ("master", "worker 1", "authd").
bool is_client_address(std::string_view who) noexcept {
  return !who.empty() && (who.front() == '[' || (who.front() >= '0' && who.front() <= '9'));
}

}  // namespace

JsonLog::JsonLog(const std::string& path)
    : sink_(path.empty() ? LineSink() : LineSink::open_append(path)) {
  name_process("master");
}

JsonLog::JsonLog(LineSink sink) : sink_(std::move(sink)) {
  name_process("master");
}

void JsonLog::name_process(std::string_view process) noexcept {
  process_size_ = std::min(process.size(), sizeof process_ - 1);
  std::copy_n(process.data(), process_size_, process_);
  pid_ = getpid();
}

void JsonLog::after_fork(std::string_view process) noexcept {
  sink_.after_fork();
  name_process(process);
}

std::string JsonLog::format(std::chrono::system_clock::time_point now, config::LogLevel level,
                            std::string_view process, pid_t pid, std::string_view who,
                            std::string_view text, std::string_view event,
                            std::span<const LogField> fields) {
  JsonLine line(LineSink::kMaxLineBytes);
  line.raw("time", "\"" + rfc3339(now) + "\"");
  line.raw("level", "\"" + std::string(log_level_name(level)) + "\"");
  line.text("process", process);
  line.number("pid", pid);
  if (!who.empty()) line.text(is_client_address(who) ? "client" : "source", who);
  line.text("event", event.empty() ? std::string_view("log") : event);
  for (const LogField& f : fields) {
    switch (f.kind) {
      case LogField::Kind::Text:
        line.text(f.key, f.text);
        break;
      case LogField::Kind::Number:
        line.number(f.key, f.number);
        break;
      case LogField::Kind::Boolean:
        line.boolean(f.key, f.number != 0);
        break;
    }
  }
  line.text("msg", text);  // last: if anything is cut for room, it is this copy
  return line.finish();
}

void JsonLog::write(config::LogLevel level, std::string_view who, std::string_view text,
                    std::string_view event, std::span<const LogField> fields) noexcept {
  if (!sink_.enabled()) return;
  try {
    sink_.write_line(format(std::chrono::system_clock::now(), level,
                            std::string_view(process_, process_size_), pid_, who, text, event,
                            fields));
  } catch (...) {  // out of memory: the line is lost, the session goes on
  }
}

}  // namespace ringftpd::server
