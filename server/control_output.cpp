// ControlSession: replies out, one send in flight at a time, and the
// memory the session holds.
#include <sys/socket.h>

#include <cstring>

#include "server/control_session.hpp"
#include "server/ftp/reply.hpp"

namespace ringftpd::server {
namespace {

// A buffer that grew for one large reply (STAT of a big directory) is given
// back once it has been sent, so an idle session holds little.
constexpr std::size_t kKeptBufferBytes = 16 * 1024;

void shrink_if_empty(std::string& s) {
  if (s.empty() && s.capacity() > kKeptBufferBytes) std::string().swap(s);
}

// Headroom above the budget that one step may add: the longest reply (a STAT
// listing) and a TLS record or two being sent.
constexpr std::size_t kSlackBytes = 512 * 1024;

}  // namespace

std::size_t ControlSession::queued_output() const noexcept {
  return clear_outbound_.size() + plain_outbound_.size() + after_tls_.size() +
         (sending_.size() - sent_) + (tls_ ? tls_->pending_ciphertext().size() : 0);
}

std::size_t ControlSession::memory_bytes() const noexcept {
  return input_.capacity() + splitter_.buffered_bytes() + shutdown_records_.capacity() +
         clear_outbound_.capacity() + plain_outbound_.capacity() + after_tls_.capacity() +
         sending_.capacity() + auth_buffer_.capacity() +
         (tls_ ? tls_->pending_ciphertext().size() : 0) + data_.memory_bytes();
}

std::size_t ControlSession::memory_cap() const noexcept {
  const SessionBudget b = session_budget(true, splitter_.max_line_bytes());
  return 2 * b.input_bytes + b.output_bytes + kSlackBytes + data_.memory_bytes();
}

void ControlSession::reply(const ftp::Reply& r) noexcept {
  if (phase_ == Phase::Closing || phase_ == Phase::Closed) return;
  // Once TLS is set up every reply is sealed; before it (the 234 of AUTH TLS
  // included) and after REIN/CCC, replies go out as they are.
  std::string& out = phase_ == Phase::TlsShutdown ? after_tls_
                     : tls_                       ? plain_outbound_
                                                  : clear_outbound_;
  ftp::format(r, out);
  flush();
}

// Clear bytes first (they were queued before TLS began, or are the sealed
// tail of a TLS that ended), then sealed replies and TLS's own records.
// Returns whether there is something to send.
bool ControlSession::take_next_send() noexcept {
  if (sending_.size() > sent_) return true;
  sending_.clear();
  sent_ = 0;
  shrink_if_empty(sending_);
  if (!clear_outbound_.empty()) {
    sending_.swap(clear_outbound_);
    return true;
  }
  if (!tls_) return false;
  if (tls_->is_handshake_done() && !plain_outbound_.empty()) {
    const auto* p = reinterpret_cast<const std::byte*>(plain_outbound_.data());
    const tls::IoResult w = tls_->write_plaintext({p, plain_outbound_.size()});
    plain_outbound_.clear();
    shrink_if_empty(plain_outbound_);
    if (w.status == tls::IoStatus::Failed) {
      begin_close("TLS error: " + tls_->last_error_text());
      return false;
    }
  }
  if (sending_.empty() && tls_->pending_ciphertext().empty() && phase_ == Phase::Draining &&
      tls_->is_handshake_done() && !tls_close_sent_) {
    // Our close_notify goes out before the TCP close.
    tls_close_sent_ = true;
    (void)tls_->shutdown();
  }
  const auto ct = tls_->pending_ciphertext();
  sending_.assign(reinterpret_cast<const char*>(ct.data()), ct.size());
  tls_->consume_ciphertext(ct.size());
  return !sending_.empty();
}

void ControlSession::flush() noexcept {
  if (send_in_flight_ || phase_ == Phase::Closing || phase_ == Phase::Closed) return;
  if (!take_next_send()) {
    if (phase_ == Phase::Draining) begin_close("session ended");
    return;
  }
  io_uring_prep_send(submit_.sqe(Op::ControlSend), fd_.get(), sending_.data() + sent_,
                     sending_.size() - sent_, MSG_NOSIGNAL);
  send_in_flight_ = true;
  send_progress_at_ = Clock::now();
}

void ControlSession::on_send(int res) noexcept {
  send_in_flight_ = false;
  if (res < 0) {
    begin_close(std::string("send failed: ") + std::strerror(-res));
    return;
  }
  sent_ += static_cast<std::size_t>(res);  // a short send resumes where it stopped
  sent_since_tick_ = true;
  flush();
}

}  // namespace ringftpd::server
