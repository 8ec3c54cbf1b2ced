// ControlSession: TLS on the control connection (AUTH TLS, implicit TLS,
// REIN/CCC shutdown, fresh tickets for data connections).
#include "server/control_session.hpp"
#include "server/ftp/reply.hpp"
#include "tls/client_hello.hpp"

namespace ringftpd::server {
namespace {

// How long a ClientHello may wait for Redis (through sharedd). A resumed
// handshake saves a few milliseconds of CPU; waiting longer than this for
// a chance of one costs the client more than a full handshake would.
constexpr std::chrono::milliseconds kLookupWait{10};
// The ClientHello's record and what follows it while we wait: a TLS record
// is at most 16 KiB + 5; a client that sends more before our answer is not
// doing a handshake.
constexpr std::size_t kMaxHeldHello = 16384 + 5 + 2048;

}  // namespace

// AUTH TLS (after its 234 was queued in clear) or an implicit-TLS accept.
void ControlSession::start_tls() noexcept {
  // Draft §4 / STARTTLS lesson: anything the client pipelined behind AUTH in
  // clear is discarded, never executed under the protection that follows.
  splitter_.discard_buffered();
  input_.clear();
  tls_close_sent_ = false;
  hello_peeked_ = false;
  tls_ = tls::Session::server(*env_.tls_context);
  if (!tls_) {
    begin_close("out of memory for TLS");
    return;
  }
  // Every ticket and session ID this connection issues carries its origin,
  // which its data connections must present again (draft §10.2).
  tls_->set_origin(env_.tls_context->new_origin());
  const auto secs = env_.config->limits.handshake_timeout_seconds;
  deadline_ = Clock::now() + std::chrono::seconds(secs);
  enter(Phase::TlsHandshake);
}

// REIN or CCC on a protected connection: seal what is queued (the 220 or
// 200), add our close_notify, and send everything after it in clear. After
// REIN the user logs in anew; after CCC the login stays.
void ControlSession::end_tls(bool keep_login) noexcept {
  if (!plain_outbound_.empty()) {
    const auto* p = reinterpret_cast<const std::byte*>(plain_outbound_.data());
    (void)tls_->write_plaintext({p, plain_outbound_.size()});
    plain_outbound_.clear();
  }
  (void)tls_->shutdown();
  const auto ct = tls_->pending_ciphertext();
  clear_outbound_.append(reinterpret_cast<const char*>(ct.data()), ct.size());
  tls_->consume_ciphertext(ct.size());
  // Commands pipelined under the old protection are not carried out in the
  // clear session that follows.
  splitter_.discard_buffered();
  input_.clear();
  enter(Phase::TlsShutdown);
  env_.log.info(who_,
                std::string(keep_login ? "CCC" : "REIN") + ": TLS ended, continuing in clear");
  flush();
}

void ControlSession::refresh_ticket() noexcept {
  if (!tls_ || !tls_->is_handshake_done()) return;
  if (tls_->send_ticket() == tls::IoStatus::Failed) {
    begin_close("TLS error: " + tls_->last_error_text());
  }
}

// REIN/CCC: only the client's close_notify is expected under the old
// protection; whatever else comes in records before it is dropped, never
// executed in the clear session. Bytes after it are the clear session's.
void ControlSession::on_shutdown_bytes(std::span<const std::byte> bytes) noexcept {
  constexpr std::size_t kHeader = 5;
  constexpr std::size_t kMaxRecord = 16384 + 2048;  // RFC 8446 §5.2 upper bound
  shutdown_records_.insert(shutdown_records_.end(), bytes.begin(), bytes.end());
  std::size_t used = 0;
  while (shutdown_records_.size() - used >= kHeader) {
    const std::byte* h = shutdown_records_.data() + used;
    const std::size_t length =
        (std::to_integer<std::size_t>(h[3]) << 8) | std::to_integer<std::size_t>(h[4]);
    if (length > kMaxRecord) {
      begin_close("malformed TLS record while ending TLS");
      return;
    }
    if (shutdown_records_.size() - used < kHeader + length) break;
    tls_->feed_ciphertext({h, kHeader + length});
    used += kHeader + length;
    std::span<std::byte> sink = env_.scratch;
    tls::IoResult r;
    do {
      r = tls_->read_plaintext(sink);
    } while (r.status == tls::IoStatus::Ok);
    if (r.status == tls::IoStatus::WantIO) continue;
    // close_notify (or a broken record): TLS is over, the rest is clear.
    std::vector<std::byte> rest(shutdown_records_.begin() + static_cast<std::ptrdiff_t>(used),
                                shutdown_records_.end());
    std::vector<std::byte>().swap(shutdown_records_);
    tls_.reset();
    clear_outbound_ += after_tls_;
    std::string().swap(after_tls_);
    enter(Phase::Commands);
    flush();
    if (!rest.empty()) take_input(rest);
    return;
  }
  shutdown_records_.erase(shutdown_records_.begin(),
                          shutdown_records_.begin() + static_cast<std::ptrdiff_t>(used));
}

// A TLS 1.2 client resuming by a session ID this host does not hold: the
// ClientHello is held back and sharedd asked to fetch the session from
// Redis into the shared cache; wolfSSL's synchronous lookup then finds it
// there. The loop never waits: the session polls the answer every
// 250 µs (on_lookup_poll) and gives up at kLookupWait (a miss).
bool ControlSession::start_lookup_if_useful(std::span<const std::byte> bytes) noexcept {
  hello_peeked_ = true;
  if (env_.lookup_waiters == nullptr || env_.tls_context == nullptr) return false;
  const tls::HelloPeek peek = tls::peek_session_id(bytes);
  if (peek.kind != tls::HelloPeek::Kind::SessionId) return false;
  tls::SharedTlsState& shared = env_.tls_context->resumption()->shared_state();
  const std::span<const std::uint8_t> id(peek.id, peek.id_len);
  const auto now = Clock::now();
  if (shared.contains_session(id, now)) return false;  // the first level has it
  lookup_ = shared.request_lookup(id, now);
  if (!lookup_) return false;  // every lookup slot busy: a full handshake at worst
  try {
    held_hello_.assign(bytes.begin(), bytes.end());
  } catch (...) {
    shared.cancel_lookup(*lookup_);
    lookup_.reset();
    return false;
  }
  lookup_deadline_ = now + kLookupWait;
  enter(Phase::TlsLookup);
  env_.lookup_waiters->wait(tag_);
  return true;
}

void ControlSession::on_lookup_poll() noexcept {
  if (phase_ != Phase::TlsLookup || !lookup_) return;
  tls::SharedTlsState& shared = env_.tls_context->resumption()->shared_state();
  const tls::LookupState state = shared.poll_lookup(*lookup_);
  if (state == tls::LookupState::Pending && Clock::now() < lookup_deadline_) {
    env_.lookup_waiters->wait(tag_);
    return;
  }
  if (state == tls::LookupState::Pending) shared.cancel_lookup(*lookup_);  // too late: a miss
  env_.counters.add(state == tls::LookupState::Found ? Counter::SharedLookupHits
                                                     : Counter::SharedLookupMisses);
  end_lookup();
}

void ControlSession::end_lookup() noexcept {
  lookup_.reset();
  enter(Phase::TlsHandshake);
  std::vector<std::byte> held = std::move(held_hello_);
  held_hello_.clear();
  // As if it had just arrived: fed, answered (flush), then commands.
  take_input(held);
  process_input();
}

void ControlSession::on_ciphertext(std::span<const std::byte> bytes) noexcept {
  if (phase_ == Phase::TlsShutdown) {
    on_shutdown_bytes(bytes);
    return;
  }
  if (phase_ == Phase::TlsLookup) {
    if (held_hello_.size() + bytes.size() > kMaxHeldHello) {
      begin_close("too many bytes before the TLS handshake");
      return;
    }
    held_hello_.insert(held_hello_.end(), bytes.begin(), bytes.end());
    return;
  }
  if (phase_ == Phase::TlsHandshake && !hello_peeked_ && start_lookup_if_useful(bytes)) return;
  tls::Session& t = *tls_;
  t.feed_ciphertext(bytes);
  if (!t.is_handshake_done()) {
    const tls::HandshakeStatus hs = t.handshake();
    if (hs == tls::HandshakeStatus::Failed) {
      // Draft §10.1: not TLS at all -> an unprotected 421; a failure midway
      // -> just drop the connection.
      const bool garbage = t.received_non_tls();
      env_.log.info(who_, "TLS handshake failed: " + t.last_error_text());
      tls_.reset();
      if (garbage && !implicit_tls_) {
        ftp::format(ftp::Reply{ftp::kReplyServiceNotAvailable, "TLS negotiation failed."},
                    clear_outbound_);
        close_after_flush();
      } else {
        begin_close("TLS handshake failed");
      }
      return;
    }
    if (hs == tls::HandshakeStatus::WantIO) return;
    on_handshake_progress();
  }
  std::span<std::byte> buf = env_.scratch;
  for (;;) {
    const tls::IoResult r = t.read_plaintext(buf);
    if (r.status == tls::IoStatus::Ok) {
      if (buffered_input() + r.bytes > 2 * budget().input_bytes) {
        shut_down("Too much pipelined input, closing.");
        return;
      }
      input_.append(reinterpret_cast<const char*>(buf.data()), r.bytes);
      continue;
    }
    if (r.status == tls::IoStatus::Closed) {
      begin_close("client ended TLS on the control connection");
    } else if (r.status == tls::IoStatus::Failed) {
      begin_close("TLS error: " + t.last_error_text());
    }
    return;
  }
}

void ControlSession::on_handshake_progress() noexcept {
  tls::Session& t = *tls_;
  state_.tls_active = true;
  if (t.has_verified_peer_certificate()) {
    // Draft §4.1.2 note: a verified certificate may stand in for PASS for
    // the user it names; data connections must not present another one.
    state_.certificate_user = t.peer_certificate_field(env_.config->tls.client_cert_user_field);
    control_certificate_ = t.peer_certificate_fingerprint();
    env_.log.info(who_, "client certificate for \"" + state_.certificate_user + "\"");
  }
  env_.counters.add(t.is_resumed() ? Counter::ControlTlsResumed : Counter::ControlTlsFull);
  env_.log.info(who_, "TLS " + std::string(t.protocol_version()) + " " +
                          std::string(t.cipher_suite()) + (t.is_resumed() ? " (resumed)" : ""));
  touch();
  enter(Phase::Commands);
  if (implicit_tls_) reply(ftp::Reply{ftp::kReplyServiceReady, env_.config->banner});
}

}  // namespace ringftpd::server
