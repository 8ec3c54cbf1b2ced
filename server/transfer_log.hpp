// The transfer log: one line per transfer in the wu-ftpd xferlog format that
// operators' tools (xferstats, webalizer, fail2ban filters) read:
//   Mon Nov 23 10:00:00 2026 1 127.0.0.1 1048576 /pub/f.bin b _ o r alice ftp 0 * c
// Written through a LineSink (line_sink.hpp): one write per line on an
// O_APPEND file, so lines of several workers never interleave; never blocking
// (a FIFO read by a slow consumer queues, then drops whole lines, counted in
// `log_lines_dropped`). Disabled when no file is configured. A forked child
// calls after_fork() before its first line.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "server/ftp/interpreter.hpp"
#include "server/line_sink.hpp"

namespace ringftpd::server {

struct TransferRecord {
  std::int64_t seconds = 0;  // how long it took, rounded up
  std::string_view remote_host;
  std::uint64_t bytes = 0;
  std::string_view path;  // virtual path as the client sees it
  bool binary = true;
  bool incoming = false;  // upload
  bool anonymous = false;
  std::string_view user;
  bool complete = true;
};

class TransferLog {
 public:
  // path empty = disabled. Throws std::system_error if it cannot be opened.
  explicit TransferLog(const std::string& path);
  void write(const TransferRecord& r) noexcept;
  // Takes a sink as it is (tests).
  explicit TransferLog(LineSink sink);
  // -1 when disabled; for the fork hygiene's keep-list.
  [[nodiscard]] int fd() const noexcept { return sink_.fd(); }
  void flush() noexcept { sink_.flush(); }
  bool drain(std::chrono::milliseconds budget) noexcept { return sink_.drain(budget); }
  [[nodiscard]] std::uint64_t take_dropped() noexcept { return sink_.take_dropped(); }
  void after_fork() noexcept { sink_.after_fork(); }
  [[nodiscard]] static std::string format(const TransferRecord& r, std::int64_t now);

 private:
  LineSink sink_;
};

// Why a transfer failed, for the session log's line (every failure line
// says why: "upload /big.bin failed, 3457024 bytes: storage full: No space
// left on device").
[[nodiscard]] std::string transfer_failure_reason(const ftp::TransferOutcome& o);

}  // namespace ringftpd::server
