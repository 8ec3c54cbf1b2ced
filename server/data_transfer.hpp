// What every transfer kind of a DataChannel shares (DESIGN.md §5, §6a).
//
// A transfer kind (data_splice_download.hpp, data_clear_upload.hpp,
// data_buffered_transfer.hpp, data_tls_download.hpp, data_tls_upload.hpp) is
// made by its DataChannel once the data connection is up and the file (or
// directory) is open, and lives in the channel's std::variant until it has
// drained. Each one:
// - owns its buffers and its fds (file, pipe pair); borrows the data socket,
//   which the channel owns and closes after the transfer has drained;
// - submits its own operations through a TransferCore, which counts them;
// - consumes the completions of those operations (SpliceIn, SpliceOut,
//   DataSend, DataRecv, FileRead, FileWrite), never any other;
// - ends once (TransferCore::finish); stop() ends it from outside (ABOR, a
//   stall) and cancels what it has in flight. It is drained when it has ended
//   and nothing of it is in flight: only then does the channel take its fds
//   (release_fds) to close them through the ring, and destroy it.
// Nothing here touches a ring directly, so each kind is unit-tested against
// a recording io::SubmissionQueue with fake completions
// (tests/server/fake_kernel.hpp).
#pragma once

#include <liburing.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "config/config.hpp"
#include "io/unique_fd.hpp"
#include "server/ftp/interpreter.hpp"
#include "server/log.hpp"
#include "server/ops.hpp"
#include "server/throttle.hpp"

namespace ringftpd::server {

// What a transfer borrows from its channel; all of it outlives the transfer.
struct TransferEnv {
  OpSubmitter& submit;
  const config::Config& cfg;
  Log& log;
  const std::string& who;
  Throttle* throttle = nullptr;  // null: no bandwidth limit
};

struct TransferEnd {
  ftp::TransferOutcome::Result result = ftp::TransferOutcome::Result::Done;
  int error = 0;
};

// fds a drained transfer hands back to be closed, with the Op of their close.
using FdsToClose = std::vector<std::pair<io::UniqueFd, Op>>;

// ENOSPC -> 452, EDQUOT/EFBIG -> 552, anything else -> 451.
[[nodiscard]] inline ftp::TransferOutcome::Result storage_result(int error) {
  return (error == ENOSPC || error == EDQUOT || error == EFBIG)
             ? ftp::TransferOutcome::Result::StorageFull
             : ftp::TransferOutcome::Result::LocalError;
}

// The bookkeeping of one transfer: operations in flight, bytes moved, time
// of the last progress, and the end.
class TransferCore {
 public:
  using Clock = std::chrono::steady_clock;
  using Result = ftp::TransferOutcome::Result;

  explicit TransferCore(TransferEnv env) : env_(env), last_progress_(Clock::now()) {}

  [[nodiscard]] io_uring_sqe* sqe(Op op) {
    ++in_flight_;
    return env_.submit.sqe(op);
  }
  // First thing for every completion of this transfer's operations.
  void completed(std::uint32_t flags) noexcept {
    if (!(flags & IORING_CQE_F_MORE) && in_flight_ > 0) --in_flight_;
  }
  // Asks the kernel to end every operation naming fd (they complete with
  // -ECANCELED, or with what they had done).
  void cancel(const io::UniqueFd& fd) {
    if (fd && in_flight_ > 0) {
      io_uring_prep_cancel_fd(env_.submit.untracked_sqe(), fd.get(), IORING_ASYNC_CANCEL_ALL);
    }
  }
  // The first end wins; false when the transfer had ended already.
  bool finish(Result r, int error) {
    if (end_) return false;
    end_ = TransferEnd{r, error};
    return true;
  }
  void progress() noexcept { last_progress_ = Clock::now(); }
  // Bandwidth (throttle.hpp): how much of `want` bytes of file data may move
  // now (0: submit nothing, the transfer's resume() comes on the pace tick),
  // and what did move.
  [[nodiscard]] std::size_t allow(std::size_t want) {
    return env_.throttle != nullptr ? env_.throttle->allow(want) : want;
  }
  void spend(std::uint64_t n) noexcept {
    if (env_.throttle != nullptr) env_.throttle->spend(n);
  }
  void count(std::uint64_t n) noexcept { bytes_ += n; }

  [[nodiscard]] bool has_ended() const noexcept { return end_.has_value(); }
  [[nodiscard]] bool is_drained() const noexcept { return end_ && in_flight_ == 0; }
  [[nodiscard]] const std::optional<TransferEnd>& end() const noexcept { return end_; }
  [[nodiscard]] unsigned in_flight() const noexcept { return in_flight_; }
  [[nodiscard]] std::uint64_t bytes() const noexcept { return bytes_; }
  [[nodiscard]] Clock::time_point last_progress() const noexcept { return last_progress_; }
  [[nodiscard]] const TransferEnv& env() const noexcept { return env_; }

 private:
  TransferEnv env_;
  unsigned in_flight_ = 0;
  std::uint64_t bytes_ = 0;
  Clock::time_point last_progress_;
  std::optional<TransferEnd> end_;
};

// ASCII (RFC 959 TYPE A) conversions. Downloads: LF -> CRLF. Uploads: CRLF ->
// LF; a CR that ends a chunk waits, in cr_pending, for the next byte to tell
// whether it starts a CRLF.
void append_ascii_download(std::string& out, std::string_view in);
void append_ascii_upload(std::string& out, std::string_view in, bool& cr_pending);

}  // namespace ringftpd::server
