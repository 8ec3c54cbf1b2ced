#include "server/data_tls_link.hpp"

#include <sys/socket.h>

#include <cerrno>

namespace ringftpd::server {

using Result = ftp::TransferOutcome::Result;

std::optional<TransferEnd> DataTlsLink::begin() {
  if (setup_.context == nullptr) return TransferEnd{Result::TlsFailed, EPROTONOSUPPORT};
  // server_data: bound to the control connection's origin, and sends no
  // tickets (an upload client never reads; an unread record would turn its
  // close into a reset and cost it the tail of the upload).
  session_ = tls::Session::server_data(*setup_.context, setup_.expected);
  if (!session_) return TransferEnd{Result::LocalError, ENOMEM};
  handshake_in_.resize(kHandshakeBytes);
  return std::nullopt;
}

bool DataTlsLink::is_handshake_done() const noexcept {
  return session_ && session_->is_handshake_done();
}

std::size_t DataTlsLink::pending() const noexcept {
  return session_ ? session_->pending_ciphertext().size() : 0;
}

std::size_t DataTlsLink::memory_bytes() const noexcept {
  return handshake_in_.capacity() + cipher_send_.capacity() + pending();
}

void DataTlsLink::handshake_step() {
  flush();
  if (receive_in_flight_) return;
  io_uring_prep_recv(core_.sqe(Op::DataRecv), data_.get(), handshake_in_.data(),
                     handshake_in_.size(), 0);
  receive_in_flight_ = true;
}

std::optional<TransferEnd> DataTlsLink::on_handshake_bytes(int res) {
  receive_in_flight_ = false;
  if (core_.has_ended()) return std::nullopt;
  if (res < 0) return TransferEnd{Result::TlsFailed, -res};
  // TCP EOF mid-handshake: the client gave up.
  if (res == 0) return TransferEnd{Result::TlsFailed, ECONNRESET};
  core_.progress();
  session_->feed_ciphertext({handshake_in_.data(), static_cast<std::size_t>(res)});
  const tls::HandshakeStatus hs = session_->handshake();
  const TransferEnv& env = core_.env();
  if (hs == tls::HandshakeStatus::Failed) {
    env.log.info(env.who, "data TLS handshake failed: " + session_->last_error_text());
    return TransferEnd{Result::TlsFailed, EPROTO};
  }
  if (hs != tls::HandshakeStatus::Done) return std::nullopt;
  env.log.debug(env.who, "data TLS " + std::string(session_->protocol_version()) +
                             (session_->is_resumed() ? " (resumed)" : " (full handshake)"));
  std::vector<std::byte>().swap(handshake_in_);
  return check_resumption();
}

// Draft §10.2, required session reuse: a protected data connection must
// resume a TLS session of its own control connection.
std::optional<TransferEnd> DataTlsLink::check_resumption() {
  const TransferEnv& env = core_.env();
  if (setup_.counters != nullptr) {
    setup_.counters->add(session_->is_resumed() ? Counter::DataTlsResumed : Counter::DataTlsFull);
  }
  // A resumed data connection carries no certificate; one that does a full
  // handshake with a certificate must show the control connection's.
  if (session_->has_verified_peer_certificate() &&
      session_->peer_certificate_fingerprint() != setup_.control_certificate) {
    env.log.info(env.who,
                 "refused data connection: client certificate differs "
                 "from the control's");
    return TransferEnd{Result::TlsFailed, EPERM};
  }
  const tls::ResumeCheck check =
      env.cfg.data.require_session_reuse ? session_->check_resumption() : tls::ResumeCheck::Ok;
  if (check == tls::ResumeCheck::Ok) {
    // Ready for payload.
    if (setup_.counters != nullptr) {
      setup_.counters->observe(Histogram::DataSetupSeconds,
                               std::chrono::steady_clock::now() - setup_.requested_at);
    }
    return std::nullopt;
  }
  if (setup_.counters != nullptr) {
    setup_.counters->add(check == tls::ResumeCheck::NotResumed      ? Counter::DataRefusedNotResumed
                         : check == tls::ResumeCheck::ForeignOrigin ? Counter::DataRefusedForeign
                                                                    : Counter::DataRefusedUnknown);
  }
  env.log.info(env.who, "refused data connection: " + std::string(tls::describe(check)));
  return TransferEnd{Result::ReuseRequired, EPERM};
}

std::optional<TransferEnd> DataTlsLink::on_sent(int res) {
  send_in_flight_ = false;
  if (core_.has_ended()) return std::nullopt;
  if (res < 0) {
    return TransferEnd{is_handshake_done() ? Result::ConnectionLost : Result::TlsFailed, -res};
  }
  if (res == 0) return TransferEnd{Result::ConnectionLost, EPIPE};
  core_.progress();
  cipher_sent_ += static_cast<std::size_t>(res);
  return std::nullopt;
}

void DataTlsLink::flush() {
  if (send_in_flight_ || core_.has_ended()) return;
  if (cipher_sent_ >= cipher_send_.size()) {
    if (session_->pending_ciphertext().empty()) return;
    cipher_send_ = session_->take_ciphertext(std::move(cipher_send_));
    cipher_sent_ = 0;
  }
  // MSG_WAITALL: the ring retries a short send itself.
  io_uring_prep_send(core_.sqe(Op::DataSend), data_.get(), cipher_send_.data() + cipher_sent_,
                     cipher_send_.size() - cipher_sent_, MSG_NOSIGNAL | MSG_WAITALL);
  send_in_flight_ = true;
}

bool DataTlsLink::seal(std::string_view plaintext) {
  if (plaintext.empty()) return true;
  const auto* p = reinterpret_cast<const std::byte*>(plaintext.data());
  if (session_->write_plaintext({p, plaintext.size()}).status == tls::IoStatus::Failed) {
    core_.env().log.warn(core_.env().who, "data TLS: " + session_->last_error_text());
    return false;
  }
  return true;
}

void DataTlsLink::send_close_notify() {
  close_notify_sent_ = true;
  (void)session_->shutdown();
  flush();
}

}  // namespace ringftpd::server
