#include "server/control_session.hpp"

#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

#include "server/ftp/command.hpp"
#include "server/ftp/reply.hpp"

namespace ringftpd::server {
namespace {

// Bytes a client may pipeline while a command is being carried out (a login
// check, a filesystem operation). Past this the session is closed.
constexpr std::size_t kMaxPipelinedBytes = 64 * 1024;

ftp::HostPort to_host_port(const io::SocketAddress& a) {
  ftp::HostPort hp;
  if (a.family() == AF_INET6) {
    hp.family = ftp::AddressFamily::Ipv6;
    std::memcpy(hp.address.data(), &reinterpret_cast<const sockaddr_in6*>(&a.storage)->sin6_addr,
                16);
  } else {
    std::memcpy(hp.address.data(), &reinterpret_cast<const sockaddr_in*>(&a.storage)->sin_addr, 4);
  }
  hp.port = a.port();
  return hp;
}

io::SocketAddress to_socket_address(const ftp::HostPort& hp) {
  io::SocketAddress a;
  if (hp.family == ftp::AddressFamily::Ipv6) {
    auto* v6 = reinterpret_cast<sockaddr_in6*>(&a.storage);
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(hp.port);
    std::memcpy(&v6->sin6_addr, hp.address.data(), 16);
    a.length = sizeof(sockaddr_in6);
  } else {
    auto* v4 = reinterpret_cast<sockaddr_in*>(&a.storage);
    v4->sin_family = AF_INET;
    v4->sin_port = htons(hp.port);
    std::memcpy(&v4->sin_addr, hp.address.data(), 4);
    a.length = sizeof(sockaddr_in);
  }
  return a;
}

bool is_data_op(Op op) {
  return static_cast<std::uint8_t>(op) >= static_cast<std::uint8_t>(Op::DataAccept) &&
         static_cast<std::uint8_t>(op) <= static_cast<std::uint8_t>(Op::FileStat);
}

}  // namespace

ControlSession::ControlSession(SessionEnv env, io::OpTag tag, io::UniqueFd fd,
                               io::SocketAddress peer, io::SocketAddress local, bool implicit_tls)
    : env_(std::move(env)),
      tag_(tag),
      submit_(env_.ring, tag),
      fd_(std::move(fd)),
      peer_(peer),
      local_(local),
      who_(peer.to_string()),
      policy_(ftp::Policy::from(*env_.config, env_.tls_context != nullptr)),
      fs_job_(submit_),
      data_(submit_, *env_.config, env_.passive_ports, env_.log, who_, env_.tls_context),
      splitter_(env_.config->limits.max_line_bytes) {
  state_.peer = to_host_port(peer_);
  implicit_tls_ = implicit_tls && env_.tls_context != nullptr;
  data_.count_into(env_.counters);
}

void ControlSession::touch() noexcept {
  // Until login the shorter login timeout applies: a connection that never
  // logs in holds a slot only briefly.
  const auto& limits = env_.config->limits;
  const auto secs =
      state_.is_logged_in() ? limits.idle_timeout_seconds : limits.login_timeout_seconds;
  deadline_ = Clock::now() + std::chrono::seconds(secs);
}

void ControlSession::start() noexcept {
  env_.log.info(who_, "connected to " + local_.to_string());
  touch();
  if (implicit_tls_) {
    start_tls();  // the banner follows the handshake
  } else {
    reply(ftp::Reply{ftp::kReplyServiceReady, env_.config->banner});
  }
  arm_recv();
}

// AUTH TLS (after its 234 was queued in clear) or an implicit-TLS accept.
void ControlSession::start_tls() noexcept {
  tls_ending_ = false;
  // Draft §4 / STARTTLS lesson: anything the client pipelined behind AUTH in
  // clear is discarded, never executed under the protection that follows.
  splitter_.discard_buffered();
  input_.clear();
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
  tls_ending_ = true;
  if (!keep_login && root_) io_uring_prep_close(submit_.sqe(Op::RootClose), root_.release());
  env_.log.info(who_,
                std::string(keep_login ? "CCC" : "REIN") + ": TLS ended, continuing in clear");
  flush();
}

void ControlSession::on_ciphertext(std::span<const std::byte> bytes) noexcept {
  tls::Session& t = *tls_;
  t.feed_ciphertext(bytes);
  if (tls_ending_) {
    // Only the client's close_notify is expected; whatever else comes under
    // the old protection is dropped, never executed in the clear session.
    std::span<std::byte> sink = env_.scratch;
    tls::IoResult r;
    do {
      r = t.read_plaintext(sink);
    } while (r.status == tls::IoStatus::Ok);
    if (r.status != tls::IoStatus::WantIO) {
      tls_.reset();
      tls_ending_ = false;
    }
    return;
  }
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
    if (implicit_tls_) reply(ftp::Reply{ftp::kReplyServiceReady, env_.config->banner});
  }
  std::span<std::byte> buf = env_.scratch;
  for (;;) {
    const tls::IoResult r = t.read_plaintext(buf);
    if (r.status == tls::IoStatus::Ok) {
      if (input_.size() + r.bytes > kMaxPipelinedBytes) {
        reply(ftp::Reply{ftp::kReplyServiceNotAvailable, "Too much pipelined input, closing."});
        close_after_flush();
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

void ControlSession::arm_recv() noexcept {
  io_uring_sqe* sqe = submit_.sqe(Op::ControlRecv);
  io_uring_prep_recv_multishot(sqe, fd_.get(), nullptr, 0, 0);
  sqe->flags |= IOSQE_BUFFER_SELECT;
  sqe->buf_group = env_.recv_buffers.group_id();
  recv_armed_ = true;
}

void ControlSession::on_completion(Op op, int res, std::uint32_t flags) noexcept {
  submit_.completed(flags);
  if (is_data_op(op)) {
    for (DataEvent e = data_.on_completion(op, res, flags); e.kind != DataEvent::Kind::None;
         e = data_.next_event()) {
      on_data_event(e);
    }
  } else {
    switch (op) {
      case Op::ControlRecv:
        on_recv(res, flags);
        break;
      case Op::ControlSend:
        on_send(res);
        break;
      case Op::ControlClose:
        phase_ = Phase::Closed;
        break;
      case Op::RootOpen:
        on_root_opened(res);
        break;
      case Op::RootClose:
        break;
      case Op::AuthSend:
        if (res < 0 && auth_in_flight_) {
          auth_in_flight_ = false;
          env_.log.error(who_, std::string("auth service unreachable: ") + std::strerror(-res));
          run(ftp::on_auth_result(state_, policy_, {ftp::AuthOutcome::Result::Unavailable, {}, 0}));
        }
        auth::wipe(auth_buffer_);  // it held a password
        break;
      case Op::FsOpen:
      case Op::FsAct:
      case Op::FsClose:
        if (auto outcome = fs_job_.on_completion(op, res)) {
          if (phase_ == Phase::Open) run(ftp::on_fs_result(state_, fs_job_.current(), *outcome));
        }
        break;
      default:
        env_.log.error(who_, "bug: unexpected completion for a control session");
        break;
    }
  }
  if (phase_ == Phase::Open) process_input();
  maybe_finish_close();
}

void ControlSession::on_recv(int res, std::uint32_t flags) noexcept {
  if (!(flags & IORING_CQE_F_MORE)) recv_armed_ = false;
  const auto buffer = env_.recv_buffers.buffer_id(flags);
  if (res > 0 && buffer) {
    const auto bytes = env_.recv_buffers.bytes(*buffer, static_cast<std::size_t>(res));
    if (phase_ == Phase::Open && !close_requested_) {
      if (tls_) {
        on_ciphertext(bytes);
        flush();  // handshake messages, alerts
      } else if (input_.size() + bytes.size() > kMaxPipelinedBytes) {
        reply(ftp::Reply{ftp::kReplyServiceNotAvailable, "Too much pipelined input, closing."});
        close_after_flush();
      } else {
        input_.append(reinterpret_cast<const char*>(bytes.data()), bytes.size());
      }
    }
    env_.recv_buffers.recycle(*buffer);
  } else if (res == 0) {
    begin_close("client closed the connection");
    return;
  } else if (res < 0 && res != -ENOBUFS && res != -ECANCELED) {
    begin_close(std::string("receive failed: ") + std::strerror(-res));
    return;
  }
  // Multishot receive ends on -ENOBUFS (buffers are back by now) or when the
  // kernel decides to stop; re-arm while the session is open.
  if (!recv_armed_ && phase_ == Phase::Open && !close_requested_) arm_recv();
}

bool ControlSession::is_busy() const noexcept {
  return auth_in_flight_ || pending_login_.has_value() || fs_job_.busy() ||
         delayed_step_.has_value() || close_requested_ || phase_ != Phase::Open;
}

// Commands are carried out one at a time, in order: while one waits for I/O
// (a password check, a filesystem operation) the next stays buffered.
// Transfers do not block the control connection (ABOR, STAT, NOOP go on).
void ControlSession::process_input() noexcept {
  while (!is_busy()) {
    const ftp::LineSplitter::Result r = splitter_.next();
    if (r.kind == ftp::LineSplitter::Kind::NeedMore) {
      if (input_.empty()) return;
      const std::size_t used = splitter_.feed(input_);
      input_.erase(0, used);
      if (used == 0) return;
      continue;
    }
    if (r.kind == ftp::LineSplitter::Kind::TooLong) {
      ++errors_;
      reply(ftp::Reply{ftp::kReplySyntaxError, "Command line too long."});
    } else {
      handle_line(r.line);
    }
    if (errors_ >= env_.config->limits.error_budget && !close_requested_) {
      env_.log.warn(who_, "error budget spent; closing");
      reply(ftp::Reply{ftp::kReplyServiceNotAvailable, "Too many bad commands, closing."});
      close_after_flush();
    }
  }
}

void ControlSession::handle_line(std::string_view line) noexcept {
  touch();
  const ftp::Command cmd = ftp::parse(line);
  if (env_.log.enabled(config::LogLevel::Debug)) {
    const bool secret = cmd.verb == ftp::Verb::Pass;
    env_.log.debug(who_, "> " + std::string(secret ? "PASS <hidden>" : line));
  }
  ftp::Step step = ftp::on_command(state_, policy_, cmd);
  const bool port_like = cmd.verb == ftp::Verb::Port || cmd.verb == ftp::Verb::Eprt;
  const bool pasv_like = cmd.verb == ftp::Verb::Pasv || cmd.verb == ftp::Verb::Epsv;
  if ((port_like || pasv_like) && tls_ && state_.tls_active && !step.counts_as_error) {
    // TLS 1.3 tickets arrive after the handshake; clients that wait for one
    // (GnuTLS) or spend each once (curl 8.12+, Java) get a fresh one now,
    // before the reply that leads to the data connection.
    if (tls_->send_ticket() == tls::IoStatus::Failed) {
      begin_close("TLS error: " + tls_->last_error_text());
      return;
    }
  }
  if (port_like && state_.data_mode == ftp::DataMode::Active && state_.active_target) {
    data_.set_active(to_socket_address(*state_.active_target));
  }
  run(std::move(step));
}

void ControlSession::run(ftp::Step step) noexcept {
  if (step.counts_as_error) ++errors_;
  for (const ftp::Reply& r : step.replies) reply(r);
  carry_out(std::move(step.effect));
}

void ControlSession::carry_out(ftp::Effect effect) noexcept {
  namespace fx = ftp::effect;
  if (auto* a = std::get_if<fx::Authenticate>(&effect)) {
    ++auth_sequence_;
    auth::Request req{auth_request_tag().pack(),
                      a->by_certificate ? auth::Kind::LookupUser : auth::Kind::VerifyPassword,
                      a->user, a->password, peer_.ip()};
    auth_by_certificate_ = a->by_certificate;
    auth::wipe(a->password);
    const bool sent = req.user.size() <= auth::kMaxUserBytes &&
                      req.password.size() <= auth::kMaxPasswordBytes &&
                      env_.auth.send(submit_, req, auth_buffer_);
    auth::wipe(req.password);
    if (!sent) {
      run(ftp::on_auth_result(state_, policy_, {ftp::AuthOutcome::Result::Denied, {}, 0}));
      return;
    }
    auth_in_flight_ = true;
    auth_sent_at_ = Clock::now();
  } else if (auto* f = std::get_if<fx::Fs>(&effect)) {
    if (auto outcome = fs_job_.start(root_.get(), state_.permissions, std::move(*f))) {
      run(ftp::on_fs_result(state_, fs_job_.current(), *outcome));
    }
  } else if (auto* p = std::get_if<fx::OpenPassive>(&effect)) {
    run(ftp::on_passive_result(state_, *p, data_.open_passive(local_, peer_)));
  } else if (auto* t = std::get_if<fx::Transfer>(&effect)) {
    transfer_ = *t;
    transfer_started_ = Clock::now();
    data_.start(root_.get(), state_.permissions, *t,
                tls_ && state_.tls_active ? tls_->data_origin() : tls::ExpectedOrigin{},
                control_certificate_);
    for (DataEvent e = data_.next_event(); e.kind != DataEvent::Kind::None;
         e = data_.next_event()) {
      on_data_event(e);
    }
  } else if (std::holds_alternative<fx::Abort>(effect)) {
    data_.abort();
    for (DataEvent e = data_.next_event(); e.kind != DataEvent::Kind::None;
         e = data_.next_event()) {
      on_data_event(e);
    }
  } else if (std::holds_alternative<fx::Close>(effect)) {
    close_after_flush();
  } else if (std::holds_alternative<fx::StartTls>(effect)) {
    start_tls();
  } else if (auto* e = std::get_if<fx::EndTls>(&effect)) {
    end_tls(e->keep_login);
  }
}

io::OpTag ControlSession::auth_request_tag() const noexcept {
  // The op byte carries the login's sequence number: a reply to an earlier
  // request (one given up on when the auth service restarted) must not
  // complete this one, which may be for another user.
  return io::OpTag{tag_.slot, tag_.generation, auth_sequence_};
}

void ControlSession::on_auth_service_lost() noexcept {
  if (!auth_in_flight_) return;
  auth_in_flight_ = false;
  env_.counters.add(Counter::LoginsFailed);
  env_.log.warn(who_, "login of user " + state_.user + " refused: the auth service restarted");
  run(ftp::on_auth_result(state_, policy_, {ftp::AuthOutcome::Result::Unavailable, {}, 0}));
  maybe_shut_down_now();
}

void ControlSession::on_auth_reply(const auth::Reply& r) noexcept {
  if (!auth_in_flight_ || r.request_id != auth_request_tag().pack()) return;
  auth_in_flight_ = false;
  using R = ftp::AuthOutcome::Result;
  if (r.result == auth::Result::Allowed) {
    // The root is opened through the ring; login completes when it is open.
    pending_login_ = r;
    root_path_ = r.root;
    io_uring_prep_openat(submit_.sqe(Op::RootOpen), AT_FDCWD, root_path_.c_str(),
                         O_PATH | O_DIRECTORY | O_CLOEXEC, 0);
    return;
  }
  // A short Throttled is the service's back-off between guesses: answered
  // like a wrong password, late. Only the long cool-down ends the session.
  constexpr std::uint32_t kLongestDelayMs = 30'000;
  const bool backoff = r.result == auth::Result::Throttled && r.retry_after_ms <= kLongestDelayMs;
  const R result = (r.result == auth::Result::Denied || backoff) ? R::Denied
                   : r.result == auth::Result::Throttled         ? R::Throttled
                                                                 : R::Unavailable;
  env_.counters.add(Counter::LoginsFailed);
  env_.log.info(who_, "login failed for user " + state_.user +
                          (result == R::Throttled ? " (address throttled)" : ""));
  ftp::Step step = ftp::on_auth_result(state_, policy_, {result, {}, 0});
  if (result == R::Denied && r.retry_after_ms > 0) {
    // Repeated guessing: the 530 is held back, and so are further commands.
    delayed_step_ = std::move(step);
    delayed_until_ = Clock::now() + std::chrono::milliseconds(r.retry_after_ms);
    return;
  }
  run(std::move(step));
}

void ControlSession::on_root_opened(int res) noexcept {
  const auth::Reply login = *pending_login_;
  pending_login_.reset();
  if (phase_ != Phase::Open) {
    if (res >= 0) io_uring_prep_close(submit_.sqe(Op::RootClose), res);
    return;
  }
  if (res < 0) {
    env_.log.error(who_, "cannot open root directory " + login.root + " of user " + state_.user +
                             ": " + std::strerror(-res));
    run(ftp::on_auth_result(state_, policy_, {ftp::AuthOutcome::Result::Unavailable, {}, 0}));
    maybe_shut_down_now();
    return;
  }
  root_.reset(res);
  env_.counters.add(Counter::LoginsOk);
  env_.log.info(who_, "login ok: user " + state_.user);
  run(ftp::on_auth_result(
      state_, policy_,
      {ftp::AuthOutcome::Result::Allowed, login.root, login.permissions, auth_by_certificate_}));
  touch();
  maybe_shut_down_now();
}

void ControlSession::on_data_event(const DataEvent& e) noexcept {
  if (!transfer_) return;
  if (e.kind == DataEvent::Kind::Starting) {
    if (phase_ == Phase::Open) reply(ftp::transfer_starting(state_, *transfer_, e.size));
    return;
  }
  const ftp::effect::Transfer t = *transfer_;
  transfer_.reset();
  const auto elapsed =
      std::chrono::duration_cast<std::chrono::seconds>(Clock::now() - transfer_started_);
  const bool upload = t.kind == ftp::effect::TransferKind::Stor ||
                      t.kind == ftp::effect::TransferKind::Appe ||
                      t.kind == ftp::effect::TransferKind::Stou;
  const bool listing = !upload && t.kind != ftp::effect::TransferKind::Retr;
  const bool ok = e.outcome.result == ftp::TransferOutcome::Result::Done;
  if (!listing) {
    env_.xferlog.write(TransferRecord{elapsed.count(), peer_.ip(), e.outcome.bytes, t.vpath,
                                      t.type == ftp::TransferType::Image, upload,
                                      state_.is_anonymous(), state_.user, ok});
  }
  env_.log.info(who_, std::string(upload    ? "upload "
                                  : listing ? "listing "
                                            : "download ") +
                          t.vpath + (ok ? " ok, " : " failed, ") + std::to_string(e.outcome.bytes) +
                          " bytes");
  env_.counters.add(ok ? Counter::TransfersOk : Counter::TransfersFailed);
  env_.counters.add(upload ? Counter::BytesReceived : Counter::BytesSent, e.outcome.bytes);
  ftp::Step step = ftp::on_transfer_result(state_, t, e.outcome);
  if (phase_ == Phase::Open) run(std::move(step));
  touch();
  maybe_shut_down_now();
}

void ControlSession::reply(const ftp::Reply& r) noexcept {
  // Once TLS is set up every reply is sealed; before it, replies (the 234 of
  // AUTH TLS included) go out as they are.
  ftp::format(r, (tls_ && !tls_ending_) ? plain_outbound_ : clear_outbound_);
  flush();
}

// One send in flight at a time: clear bytes first (they were queued before
// TLS began), then sealed replies and TLS's own records.
void ControlSession::flush() noexcept {
  if (send_in_flight_ || phase_ != Phase::Open) return;
  if (sending_.size() == sent_) {
    sending_.clear();
    sent_ = 0;
    if (!clear_outbound_.empty()) {
      sending_.swap(clear_outbound_);
    } else if (tls_) {
      if (tls_->is_handshake_done() && !plain_outbound_.empty()) {
        const auto* p = reinterpret_cast<const std::byte*>(plain_outbound_.data());
        const tls::IoResult w = tls_->write_plaintext({p, plain_outbound_.size()});
        plain_outbound_.clear();
        if (w.status == tls::IoStatus::Failed) {
          begin_close("TLS error: " + tls_->last_error_text());
          return;
        }
      }
      const auto ct = tls_->pending_ciphertext();
      sending_.assign(reinterpret_cast<const char*>(ct.data()), ct.size());
      tls_->consume_ciphertext(ct.size());
    }
    if (sending_.empty() && close_requested_ && tls_ && tls_->is_handshake_done() &&
        !tls_close_sent_) {
      // Our close_notify goes out before the TCP close.
      tls_close_sent_ = true;
      (void)tls_->shutdown();
      const auto ct = tls_->pending_ciphertext();
      sending_.assign(reinterpret_cast<const char*>(ct.data()), ct.size());
      tls_->consume_ciphertext(ct.size());
    }
    if (sending_.empty()) {
      if (close_requested_) begin_close("session ended");
      return;
    }
  }
  io_uring_prep_send(submit_.sqe(Op::ControlSend), fd_.get(), sending_.data() + sent_,
                     sending_.size() - sent_, MSG_NOSIGNAL);
  send_in_flight_ = true;
}

void ControlSession::on_send(int res) noexcept {
  send_in_flight_ = false;
  if (res < 0) {
    if (phase_ == Phase::Open) begin_close(std::string("send failed: ") + std::strerror(-res));
    return;
  }
  sent_ += static_cast<std::size_t>(res);  // a short send resumes where it stopped
  flush();
}

void ControlSession::close_after_flush() noexcept {
  close_requested_ = true;
  flush();
}

void ControlSession::begin_close(std::string_view reason) noexcept {
  if (phase_ != Phase::Open) return;
  phase_ = Phase::Closing;
  env_.log.info(who_, std::string("disconnected: ") + std::string(reason));
  data_.abort();  // a transfer in progress ends; its fds close through the ring
  if (recv_armed_ || send_in_flight_) {
    // Every operation on the fd must complete before the fd is closed and the
    // slot freed: the kernel may still be writing into our buffers.
    io_uring_prep_cancel_fd(submit_.untracked_sqe(), fd_.get(), IORING_ASYNC_CANCEL_ALL);
  }
  if (root_) io_uring_prep_close(submit_.sqe(Op::RootClose), root_.release());
  maybe_finish_close();
}

void ControlSession::maybe_finish_close() noexcept {
  if (phase_ != Phase::Closing || close_submitted_ || submit_.in_flight() > 0) return;
  io_uring_prep_close(submit_.sqe(Op::ControlClose), fd_.release());
  close_submitted_ = true;
}

void ControlSession::on_tick(Clock::time_point now) noexcept {
  if (phase_ != Phase::Open) return;
  // A request the auth service never answers (it died holding it, and the
  // restart notice was missed) must not hold the session forever.
  constexpr auto kAuthAnswerLimit = std::chrono::seconds(60);
  if (auth_in_flight_ && now - auth_sent_at_ > kAuthAnswerLimit) on_auth_service_lost();
  if (delayed_step_ && now >= delayed_until_) {
    ftp::Step step = std::move(*delayed_step_);
    delayed_step_.reset();
    run(std::move(step));
    process_input();
  }
  for (DataEvent e = data_.on_tick(now); e.kind != DataEvent::Kind::None; e = data_.next_event()) {
    on_data_event(e);
  }
  if (transfer_) return;  // a moving transfer keeps the control connection alive
  if (now < deadline_) return;
  if (close_requested_) {
    begin_close("timed out while sending");  // the peer stopped reading
    return;
  }
  env_.log.info(who_, "idle timeout");
  reply(ftp::Reply{ftp::kReplyServiceNotAvailable, "Timeout, closing control connection."});
  close_after_flush();
  deadline_ = now + std::chrono::seconds(5);  // a grace period for the 421
}

void ControlSession::shut_down_when_idle(std::string_view reason) noexcept {
  shutdown_reason_ = reason;
  maybe_shut_down_now();
}

void ControlSession::maybe_shut_down_now() noexcept {
  if (shutdown_reason_.empty() || transfer_ || auth_in_flight_ || pending_login_) return;
  shut_down(shutdown_reason_);
}

void ControlSession::shut_down(std::string_view reason) noexcept {
  if (phase_ != Phase::Open) return;
  if (!close_requested_) {
    reply(ftp::Reply{ftp::kReplyServiceNotAvailable, std::string(reason)});
  }
  close_after_flush();
  deadline_ = Clock::now() + std::chrono::seconds(2);
}

}  // namespace ringftpd::server
