// Throttle: the bandwidth limits that apply to one session's transfers.
//
// limits.bandwidth_bytes_per_second is a TokenBucket per session, kept
// across its transfers (a new transfer does not start with a fresh burst).
// A transfer asks allow() before each read, splice or write of file data and
// spend()s what moved; listings are not limited. When allow() gives 0 the
// transfer submits nothing and is woken by the worker's Pacer.
#pragma once

#include <cstddef>
#include <cstdint>

#include "io/op_tag.hpp"
#include "server/pacer.hpp"
#include "server/token_bucket.hpp"

namespace ringftpd::server {

class Throttle {
 public:
  using Clock = TokenBucket::Clock;

  // pacer may be null only when nothing is limited (tests).
  Throttle(std::uint64_t bytes_per_second, Pacer* pacer, io::OpTag session)
      : pacer_(pacer), session_(session) {
    if (bytes_per_second > 0 && pacer != nullptr) {
      session_bucket_ = TokenBucket(bytes_per_second, Clock::now());
    }
  }

  [[nodiscard]] bool limited() const noexcept { return session_bucket_.limited(); }

  // A grant is at least this big (or all that is wanted): a transfer that
  // has spent its tokens waits for the pace tick rather than splicing the
  // few bytes that trickled in since, one tiny operation after another.
  static constexpr std::uint64_t kMinGrantBytes = 16 * 1024;

  // How much of `want` bytes may move now; 0: wait to be woken (on_pace).
  [[nodiscard]] std::size_t allow(std::size_t want) {
    if (!limited() || want == 0) return want;
    const std::uint64_t available = session_bucket_.available(Clock::now());
    if (available < std::min<std::uint64_t>(want, kMinGrantBytes)) {
      if (!waiting_) {
        waiting_ = true;
        pacer_->wait(session_);
      }
      return 0;
    }
    return static_cast<std::size_t>(std::min<std::uint64_t>(want, available));
  }
  void spend(std::uint64_t n) noexcept {
    if (limited()) session_bucket_.spend(n);
  }
  // The pace tick: the caller resumes its transfer, which asks again.
  void on_pace() noexcept { waiting_ = false; }

 private:
  Pacer* pacer_;
  io::OpTag session_;
  TokenBucket session_bucket_;
  bool waiting_ = false;  // registered with the pacer
};

}  // namespace ringftpd::server
