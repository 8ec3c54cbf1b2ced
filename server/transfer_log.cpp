#include "server/transfer_log.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <ctime>
#include <system_error>

namespace ringftpd::server {

TransferLog::TransferLog(const std::string& path) {
  if (path.empty()) return;
  fd_.reset(::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640));
  if (!fd_) throw std::system_error(errno, std::generic_category(), path);
}

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
  if (!fd_) return;
  const std::string line = format(r, std::time(nullptr));
  [[maybe_unused]] const ssize_t rc = ::write(fd_.get(), line.data(), line.size());
}

}  // namespace ringftpd::server
