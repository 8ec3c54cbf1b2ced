#include "server/transfer_log.hpp"

#include <cstring>
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

// Why a transfer failed, in the words an operator searches for.
std::string transfer_failure_reason(const ftp::TransferOutcome& o) {
  using R = ftp::TransferOutcome::Result;
  const std::string err = o.error != 0 ? std::string(std::strerror(o.error)) : "";
  auto with = [&](const char* what) {
    return err.empty() ? std::string(what) : what + (": " + err);
  };
  switch (o.result) {
    case R::Done:
      return "done";
    case R::NoConnection:
      return with("no data connection");
    case R::ConnectionLost:
      return with("data connection lost");
    case R::Aborted:
      return "aborted (ABOR, REIN or the session ended)";
    case R::FileError:
      return with("file error");
    case R::LocalError:
      return with("local error");
    case R::StorageFull:
      return with("storage full");
    case R::TlsFailed:
      return "data connection TLS handshake failed";
    case R::ReuseRequired:
      return "data connection did not resume the control connection's TLS session";
  }
  return "unknown";
}

}  // namespace ringftpd::server
