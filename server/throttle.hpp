// Throttle: the bandwidth limits that apply to one session's transfers.
//
// limits.bandwidth_bytes_per_second is a TokenBucket per session, kept
// across its transfers (a new transfer does not start with a fresh burst).
// A transfer asks allow() before each read, splice or write of file data and
// spend()s what moved; listings are not limited. When allow() gives 0 the
// transfer submits nothing and is woken by the worker's Pacer.
//
// Two shared buckets may apply as well (shared_bucket.hpp, in the master's
// UserLimits): the logged-in user's bandwidth_bytes_per_second, spent by all
// of that user's sessions on all workers, and the listener's, spent by all
// sessions it accepted. A transfer moves min(session, user, listener) and
// spends what moved from each; it waits on the same Pacer when any is empty.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>

#include "io/op_tag.hpp"
#include "server/pacer.hpp"
#include "server/shared_bucket.hpp"
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

  [[nodiscard]] bool limited() const noexcept {
    return session_bucket_.limited() || is_limiting(user_) || is_limiting(listener_);
  }

  // The shared buckets (null: none). Ignored without a pacer. The user's is
  // set at login and cleared when the login ends, never during a transfer.
  void set_user_bucket(SharedBucket* b) noexcept { user_ = pacer_ != nullptr ? b : nullptr; }
  void set_listener_bucket(SharedBucket* b) noexcept {
    listener_ = pacer_ != nullptr ? b : nullptr;
  }

  // A grant is at least this big (or all that is wanted): a transfer that
  // has spent its tokens waits for the pace tick rather than splicing the
  // few bytes that trickled in since, one tiny operation after another.
  static constexpr std::uint64_t kMinGrantBytes = 16 * 1024;

  // How much of `want` bytes may move now; 0: wait to be woken (on_pace).
  [[nodiscard]] std::size_t allow(std::size_t want) {
    if (!limited() || want == 0) return want;
    const auto now = Clock::now();
    std::uint64_t available =
        session_bucket_.limited() ? session_bucket_.available(now) : SharedBucket::kUnlimited;
    if (is_limiting(user_)) available = std::min(available, user_->available(now));
    if (is_limiting(listener_)) available = std::min(available, listener_->available(now));
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
    if (session_bucket_.limited()) session_bucket_.spend(n);
    if (user_ != nullptr) user_->spend(n);
    if (listener_ != nullptr) listener_->spend(n);
  }
  // The pace tick: the caller resumes its transfer, which asks again.
  void on_pace() noexcept { waiting_ = false; }

 private:
  Pacer* pacer_;
  io::OpTag session_;
  static bool is_limiting(const SharedBucket* b) noexcept { return b != nullptr && b->limited(); }

  TokenBucket session_bucket_;
  SharedBucket* user_ = nullptr;      // in shared memory; outlives the session
  SharedBucket* listener_ = nullptr;  // likewise
  bool waiting_ = false;              // registered with the pacer
};

}  // namespace ringftpd::server
