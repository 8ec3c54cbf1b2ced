#include "server/transfer_log.hpp"

#include <ctime>
#include <utility>

namespace ringftpd::server {

TransferLog::TransferLog(const std::string& path)
    : sink_(path.empty() ? LineSink() : LineSink::open_append(path)) {}

TransferLog::TransferLog(LineSink sink) : sink_(std::move(sink)) {}

std::string TransferLog::format(const TransferRecord& r, std::int64_t now) {
  char stamp[32];
  const auto t = static_cast<std::time_t>(now);
  std::tm tm{};
  localtime_r(&t, &tm);
  const std::size_t n = std::strftime(stamp, sizeof stamp, "%a %b %e %H:%M:%S %Y", &tm);
  std::string line(stamp, n);
  line += " " + std::to_string(r.seconds < 1 ? 1 : r.seconds) + " ";
  line.append(r.remote_host);
  line += " " + std::to_string(r.bytes) + " ";
  // xferlog fields are space-separated: spaces in names become underscores,
  // as wu-ftpd did; control characters never reach the log.
  for (char c : r.path)
    line.push_back((c == ' ' || static_cast<unsigned char>(c) < 0x20) ? '_' : c);
  line += r.binary ? " b _ " : " a _ ";
  line += r.incoming ? "i " : "o ";
  line += r.anonymous ? "a " : "r ";
  for (char c : r.user)
    line.push_back((c == ' ' || static_cast<unsigned char>(c) < 0x20) ? '_' : c);
  line += " ftp 0 * ";
  line += r.complete ? "c\n" : "i\n";
  return line;
}

void TransferLog::write(const TransferRecord& r) noexcept {
  if (!sink_.enabled()) return;
  sink_.write_line(format(r, std::time(nullptr)));
}

}  // namespace ringftpd::server
