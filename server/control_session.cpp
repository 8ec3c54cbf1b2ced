// ControlSession: the state machine, input, effects and ending. Login is in
// control_login.cpp, TLS in control_tls.cpp, output in control_output.cpp.
#include "server/control_session.hpp"

#include <linux/sockios.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "server/ftp/command.hpp"
#include "server/ftp/reply.hpp"

namespace ringftpd::server {
namespace {

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

constexpr int kControlSendBufferBytes = 32 * 1024;  // the kernel doubles it

bool is_data_op(Op op) {
  return static_cast<std::uint8_t>(op) >= static_cast<std::uint8_t>(Op::DataAccept) &&
         static_cast<std::uint8_t>(op) <= static_cast<std::uint8_t>(Op::DataProxyRecv);
}

// Phases in which the client's bytes are wanted: everything but the end.
bool reads_input(ControlSession::Phase p) {
  using P = ControlSession::Phase;
  return p != P::EndingTransfer && p != P::Draining && p != P::Closing && p != P::Closed;
}

}  // namespace

SessionBudget session_budget(bool logged_in, std::size_t max_line_bytes) noexcept {
  // Input: two full command lines (pipelining clients such as lftp queue a
  // few short commands). Output: before login a client gets short replies;
  // after it, room for a STAT or FEAT reply. Every connection costs at most
  // these (plus one reply in progress), which is what bounds a worker under
  // clients that pipeline and never read.
  const std::size_t input = std::max<std::size_t>(2 * max_line_bytes, 8192);
  return SessionBudget{input, logged_in ? std::size_t{16 * 1024} : std::size_t{4096}};
}

std::string_view ControlSession::phase_name(Phase p) noexcept {
  switch (p) {
    case Phase::TlsHandshake:
      return "tls-handshake";
    case Phase::TlsLookup:
      return "tls-lookup";
    case Phase::Commands:
      return "commands";
    case Phase::Authenticating:
      return "authenticating";
    case Phase::OpeningRoot:
      return "opening-root";
    case Phase::LoginDelayed:
      return "login-delayed";
    case Phase::FsWork:
      return "fs-work";
    case Phase::AwaitingTransferEnd:
      return "awaiting-transfer-end";
    case Phase::TlsShutdown:
      return "tls-shutdown";
    case Phase::EndingTransfer:
      return "ending-transfer";
    case Phase::Draining:
      return "draining";
    case Phase::Closing:
      return "closing";
    case Phase::Closed:
      return "closed";
  }
  return "?";
}

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
      data_(submit_, *env_.config, env_.passive_ports, env_.log, who_, env_.tls_context,
            &env_.pacer),
      splitter_(env_.config->limits.max_line_bytes) {
  state_.peer = to_host_port(peer_);
  implicit_tls_ = implicit_tls && env_.tls_context != nullptr;
  data_.count_into(env_.counters);
}

// The one place the phase changes. Whether the client is read depends on
// the phase, so the receive is brought in line here too.
void ControlSession::enter(Phase next) noexcept {
  if (phase_ == next) return;
  if (env_.log.enabled(config::LogLevel::Debug)) {
    env_.log.debug(
        who_, "phase " + std::string(phase_name(phase_)) + " -> " + std::string(phase_name(next)));
  }
  phase_ = next;
  update_receive();
}

SessionBudget ControlSession::budget() const noexcept {
  return session_budget(state_.is_logged_in(), splitter_.max_line_bytes());
}

std::size_t ControlSession::buffered_input() const noexcept {
  return input_.size() + splitter_.buffered_bytes();
}

void ControlSession::touch() noexcept {
  // Until login the shorter login timeout applies: a connection that never
  // logs in holds a slot only briefly.
  const auto& limits = env_.config->limits;
  const auto secs =
      state_.is_logged_in() ? limits.idle_timeout_seconds : limits.login_timeout_seconds;
  deadline_ = Clock::now() + std::chrono::seconds(secs);
}

void ControlSession::start(std::span<const std::byte> early_input) noexcept {
  const std::string local = local_.to_string();
  env_.log.event(config::LogLevel::Info, who_, "connected to " + local, "connect",
                 {text_field("server", local)});
  // Replies are small. A bounded kernel send buffer bounds the kernel memory a
  // never-reading client can pin, and makes its stall visible to the send
  // timeout soon (an autotuned buffer absorbs megabytes of replies first).
  const int sndbuf = kControlSendBufferBytes;
  (void)::setsockopt(fd_.get(), SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
  touch();
  if (implicit_tls_) {
    start_tls();  // the banner follows the handshake
  } else {
    reply(ftp::Reply{ftp::kReplyServiceReady, env_.config->banner});
  }
  if (early_input.empty()) {
    update_receive();
    return;
  }
  take_input(early_input);  // arms the receive as after any input
  process_input();
}

void ControlSession::on_completion(Op op, int res, std::uint32_t flags) noexcept {
  submit_.completed(flags);
  if (is_data_op(op)) {
    drain_data_events(data_.on_completion(op, res, flags));
  } else {
    switch (op) {
      case Op::ControlRecv:
        on_recv(res, flags);
        break;
      case Op::ControlSend:
        on_send(res);
        break;
      case Op::ControlClose:
        enter(Phase::Closed);
        break;
      case Op::RootOpen:
        on_root_opened(res);
        break;
      case Op::RootClose:
        break;
      case Op::AuthSend:
        on_auth_send(res);
        break;
      case Op::FsOpen:
      case Op::FsAct:
      case Op::FsClose:
        if (auto outcome = fs_job_.on_completion(op, res)) {
          if (phase_ == Phase::FsWork) {
            enter(Phase::Commands);
            run(ftp::on_fs_result(state_, fs_job_.current(), *outcome));
          }
        }
        break;
      default:
        env_.log.error(who_, "bug: unexpected completion for a control session");
        break;
    }
  }
  release_root_when_unused();
  process_input();
  maybe_finish_close();
}

// ---------------------------------------------------------------- input

// Reads while the phase wants input and the buffered input is under the
// budget; otherwise the multishot receive is cancelled, and the client's
// bytes wait in its socket (TCP flow control), not in our memory.
void ControlSession::update_receive() noexcept {
  // A client that does not read its replies is not read either.
  const SessionBudget b = budget();
  const bool wanted =
      reads_input(phase_) && buffered_input() < b.input_bytes && queued_output() < b.output_bytes;
  if (wanted && receive_ == Receive::Idle) {
    io_uring_sqe* sqe = submit_.sqe(Op::ControlRecv);
    io_uring_prep_recv_multishot(sqe, fd_.get(), nullptr, 0, 0);
    sqe->flags |= IOSQE_BUFFER_SELECT;
    sqe->buf_group = env_.recv_buffers.group_id();
    receive_ = Receive::Armed;
  } else if (!wanted && receive_ == Receive::Armed) {
    io_uring_prep_cancel64(submit_.untracked_sqe(), submit_.user_data(Op::ControlRecv), 0);
    receive_ = Receive::Cancelling;
  }
}

void ControlSession::on_recv(int res, std::uint32_t flags) noexcept {
  const bool last = !(flags & IORING_CQE_F_MORE);
  if (last) receive_ = Receive::Idle;
  const auto buffer = env_.recv_buffers.buffer_id(flags);
  if (res > 0 && buffer) {
    // Bytes that arrive while the receive is being cancelled are still
    // taken: they were received, and dropping them would lose commands.
    if (reads_input(phase_)) take_input(env_.recv_buffers.bytes(*buffer, std::size_t(res)));
    env_.recv_buffers.recycle(*buffer);
  } else if (res == 0) {
    begin_close("client closed the connection");
    return;
  } else if (res < 0 && res != -ENOBUFS && res != -ECANCELED) {
    begin_close(std::string("receive failed: ") + std::strerror(-res));
    return;
  }
  // Multishot receive ends on -ENOBUFS (buffers are back by now), on our
  // cancel, or when the kernel decides to stop: re-arm if still wanted.
  if (last) update_receive();
}

void ControlSession::take_input(std::span<const std::byte> bytes) noexcept {
  if (tls_) {
    on_ciphertext(bytes);
    flush();  // handshake messages, alerts
  } else if (buffered_input() + bytes.size() > 2 * budget().input_bytes) {
    // Only a client that ignores flow control gets here (the receive was
    // cancelled at the budget, and a few buffers may still arrive).
    shut_down("Too much pipelined input, closing.");
    return;
  } else {
    input_.append(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  }
  update_receive();
}

// Commands are carried out one at a time, in order: while one waits for I/O
// (a password check, a filesystem operation, an aborted transfer) the next
// stays buffered. Transfers do not block the control connection (ABOR, STAT,
// NOOP go on). While the client has not read enough of its replies, no
// further command is carried out (back-pressure).
void ControlSession::process_input() noexcept {
  while (phase_ == Phase::Commands && queued_output() < budget().output_bytes) {
    const ftp::LineSplitter::Result r = splitter_.next();
    if (r.kind == ftp::LineSplitter::Kind::NeedMore) {
      if (input_.empty()) break;
      const std::size_t used = splitter_.feed(input_);
      input_.erase(0, used);
      if (used == 0) break;
      continue;
    }
    if (r.kind == ftp::LineSplitter::Kind::TooLong) {
      ++errors_;
      reply(ftp::Reply{ftp::kReplySyntaxError, "Command line too long."});
    } else {
      handle_line(r.line);
    }
    if (errors_ >= env_.config->limits.error_budget && !is_ending()) {
      env_.log.warn(who_, "error budget spent; closing");
      shut_down("Too many bad commands, closing.");
    }
  }
  if (input_.empty() && input_.capacity() > 4096) std::string().swap(input_);
  update_receive();  // input may have drained below the budget
}

void ControlSession::handle_line(std::string_view line) noexcept {
  touch();
  const ftp::Command cmd = ftp::parse(line);
  if (env_.log.enabled(config::LogLevel::Debug)) {
    const bool secret = cmd.verb == ftp::Verb::Pass;
    env_.log.debug(who_, "> " + std::string(secret ? "PASS <hidden>" : line));
  }
  run(ftp::on_command(state_, policy_, cmd));
}

// ---------------------------------------------------------------- effects

// A Step runs in order: its prelude (what must be in place before the client
// reads the replies), its replies, then its effects. Once the session is
// closing nothing more is carried out.
void ControlSession::run(ftp::Step step) noexcept {
  if (step.counts_as_error) ++errors_;
  for (ftp::Effect& e : step.prelude) {
    if (is_ending()) return;
    carry_out(e);
  }
  for (const ftp::Reply& r : step.replies) reply(r);
  for (ftp::Effect& e : step.effects) {
    if (phase_ == Phase::Closing || phase_ == Phase::Closed) return;
    carry_out(e);
  }
}

void ControlSession::carry_out(ftp::Effect& effect) noexcept {
  namespace fx = ftp::effect;
  if (auto* a = std::get_if<fx::Authenticate>(&effect)) {
    authenticate(*a);
  } else if (auto* f = std::get_if<fx::Fs>(&effect)) {
    if (auto outcome = fs_job_.start(root_.get(), state_.permissions, std::move(*f))) {
      run(ftp::on_fs_result(state_, fs_job_.current(), *outcome));
    } else {
      enter(Phase::FsWork);
    }
  } else if (auto* p = std::get_if<fx::OpenPassive>(&effect)) {
    run(ftp::on_passive_result(state_, *p, data_.open_passive(local_, peer_)));
  } else if (auto* t = std::get_if<fx::Transfer>(&effect)) {
    start_transfer(*t);
  } else if (std::holds_alternative<fx::Abort>(effect)) {
    data_.abort();
    drain_data_events(data_.next_event());
  } else if (std::holds_alternative<fx::AwaitTransferEnd>(effect)) {
    if (transfer_) enter(Phase::AwaitingTransferEnd);  // else it has reported already
  } else if (std::holds_alternative<fx::RefreshTicket>(effect)) {
    refresh_ticket();
  } else if (auto* u = std::get_if<fx::UseActiveTarget>(&effect)) {
    data_.set_active(to_socket_address(u->target));
  } else if (std::holds_alternative<fx::EndLogin>(effect)) {
    end_login();
  } else if (std::holds_alternative<fx::Close>(effect)) {
    close_after_flush();
  } else if (std::holds_alternative<fx::StartTls>(effect)) {
    start_tls();
  } else if (auto* e = std::get_if<fx::EndTls>(&effect)) {
    end_tls(e->keep_login);
  }
}

void ControlSession::start_transfer(const ftp::effect::Transfer& t) noexcept {
  // The interpreter allows one transfer at a time and only after login, and
  // ABOR/REIN wait for the transfer's report; the channel refuses a start
  // while a previous transfer still drains. Either refusal is answered 425
  // and never overwrites the running transfer's state.
  const bool started =
      !transfer_ && root_ &&
      data_.start(root_.get(), state_.permissions, t,
                  tls_ && state_.tls_active ? tls_->data_origin() : tls::ExpectedOrigin{},
                  control_certificate_);
  if (!started) {
    env_.log.error(who_, "bug: transfer requested while the data channel is busy");
    run(ftp::on_transfer_result(state_, t,
                                {ftp::TransferOutcome::Result::NoConnection, EBUSY, 0, {}}));
    return;
  }
  transfer_ = t;
  transfer_started_ = Clock::now();
  drain_data_events(data_.next_event());
}

void ControlSession::drain_data_events(DataEvent first) noexcept {
  for (DataEvent e = first; e.kind != DataEvent::Kind::None; e = data_.next_event()) {
    on_data_event(e);
  }
}

void ControlSession::on_data_event(const DataEvent& e) noexcept {
  if (!transfer_) return;
  if (e.kind == DataEvent::Kind::Starting) {
    if (!is_ending()) reply(ftp::transfer_starting(state_, *transfer_, e.size));
    return;
  }
  const ftp::effect::Transfer t = std::move(*transfer_);
  transfer_.reset();
  log_transfer(t, e);  // in every phase: each transfer is logged exactly once
  ftp::Step step = ftp::on_transfer_result(state_, t, e.outcome);
  if (phase_ == Phase::EndingTransfer) {
    // Only the transfer's replies: the session is closing, so nothing the
    // step would start (REIN's reset, say) matters any more.
    for (const ftp::Reply& r : step.replies) reply(r);
    close_with_421(shutdown_reason_);
    release_root_when_unused();
    return;
  }
  if (phase_ == Phase::AwaitingTransferEnd) enter(Phase::Commands);
  if (!is_ending()) run(std::move(step));
  touch();
  release_root_when_unused();
  maybe_shut_down_now();
}

void ControlSession::log_transfer(const ftp::effect::Transfer& t, const DataEvent& e) noexcept {
  using Kind = ftp::effect::TransferKind;
  const auto elapsed_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - transfer_started_);
  const auto elapsed = std::chrono::duration_cast<std::chrono::seconds>(elapsed_ms);
  const bool upload = t.kind == Kind::Stor || t.kind == Kind::Appe || t.kind == Kind::Stou;
  const bool listing = !upload && t.kind != Kind::Retr;
  const bool ok = e.outcome.result == ftp::TransferOutcome::Result::Done;
  if (!listing) {
    // xferlog (wu-ftpd format) records file transfers, as other servers do.
    env_.xferlog.write(TransferRecord{elapsed.count(), peer_.ip(), e.outcome.bytes, t.vpath,
                                      t.type == ftp::TransferType::Image, upload,
                                      state_.is_anonymous(), state_.user, ok});
  }
  const std::string_view direction = upload ? "upload" : listing ? "listing" : "download";
  std::string line = std::string(direction) + " " + t.vpath + (ok ? " ok, " : " failed, ") +
                     std::to_string(e.outcome.bytes) + " bytes";
  const std::string reason = ok ? std::string() : transfer_failure_reason(e.outcome);
  if (!ok) line += ": " + reason;  // every failure says why
  env_.log.event(
      config::LogLevel::Info, who_, line, "transfer",
      {text_field("direction", direction), text_field("path", t.vpath),
       text_field("user", state_.user),
       number_field("bytes", static_cast<std::int64_t>(e.outcome.bytes)),
       number_field("duration_ms", elapsed_ms.count()), text_field("result", ok ? "ok" : "failed"),
       text_field("reason", reason), number_field("errno", e.outcome.error)});
  env_.counters.add(ok ? Counter::TransfersOk : Counter::TransfersFailed);
  env_.counters.add(upload ? Counter::BytesReceived : Counter::BytesSent, e.outcome.bytes);
}

// ---------------------------------------------------------------- ending

void ControlSession::close_after_flush() noexcept {
  if (is_ending()) return;
  enter(Phase::Draining);
  flush();
}

void ControlSession::begin_close(std::string_view reason) noexcept {
  if (phase_ == Phase::Closing || phase_ == Phase::Closed) return;
  enter(Phase::Closing);
  env_.log.event(config::LogLevel::Info, who_, "disconnected: " + std::string(reason), "disconnect",
                 {text_field("reason", reason)});
  data_.abort();  // a transfer in progress ends (and is logged); fds close through the ring
  drain_data_events(data_.next_event());
  if (receive_ == Receive::Armed || send_in_flight_) {
    // Every operation on the fd must complete before the fd is closed and the
    // slot freed: the kernel may still be writing into our buffers.
    io_uring_prep_cancel_fd(submit_.untracked_sqe(), fd_.get(), IORING_ASYNC_CANCEL_ALL);
    if (receive_ == Receive::Armed) receive_ = Receive::Cancelling;
  }
  if (root_) root_retiring_ = true;
  release_root_when_unused();
  maybe_finish_close();
}

void ControlSession::maybe_finish_close() noexcept {
  if (phase_ != Phase::Closing || close_submitted_ || submit_.in_flight() > 0) return;
  if (root_) return;  // still named by a job; released when that ends
  close_submitted_ = submit_.close(std::move(fd_), Op::ControlClose);
  if (!close_submitted_) enter(Phase::Closed);
}

void ControlSession::on_tick(Clock::time_point now) noexcept {
  if (phase_ == Phase::Closing || phase_ == Phase::Closed) return;
  const auto& limits = env_.config->limits;
  // A client that does not read its replies: the send makes no progress.
  auto send_timeout = std::chrono::seconds(limits.send_timeout_seconds);
  if (!state_.is_logged_in()) {
    send_timeout = std::min(send_timeout, std::chrono::seconds(limits.login_timeout_seconds));
  }
  if (send_in_flight_ ? now - send_progress_at_ > send_timeout
                      : kernel_queue_stalled(now, send_timeout)) {
    env_.counters.add(Counter::SessionsSendTimedOut);
    begin_close("send timed out: the client stopped reading");
    return;
  }
  // A request the auth service never answers (it died holding it, and the
  // restart notice was missed) must not hold the session forever.
  constexpr auto kAuthAnswerLimit = std::chrono::seconds(60);
  if (phase_ == Phase::Authenticating && now - auth_sent_at_ > kAuthAnswerLimit) {
    on_auth_service_lost();
  }
  if (phase_ == Phase::LoginDelayed && now >= delayed_until_) {
    ftp::Step step = std::move(*delayed_step_);
    delayed_step_.reset();
    enter(Phase::Commands);
    run(std::move(step));
    process_input();
  }
  drain_data_events(data_.on_tick(now));
  if (phase_ == Phase::Closing) return;
  if (transfer_) return;  // a moving transfer keeps the control connection alive
  if (now < deadline_) return;
  if (phase_ == Phase::Draining) {
    begin_close("timed out while sending");  // the peer stopped reading
    return;
  }
  if (phase_ == Phase::TlsHandshake || phase_ == Phase::TlsLookup) {
    begin_close("TLS handshake timed out");
    return;
  }
  env_.log.info(who_, "idle timeout");
  reply(ftp::Reply{ftp::kReplyServiceNotAvailable, "Timeout, closing control connection."});
  close_after_flush();
  deadline_ = now + std::chrono::seconds(5);  // a grace period for the 421
}

void ControlSession::on_pace() noexcept {
  if (phase_ == Phase::Closed) return;
  drain_data_events(data_.on_pace());
  maybe_finish_close();
}

// With no send of ours in flight, replies may still sit in the kernel's send
// queue because the client's window is closed: it stopped reading while the
// session waits (a delayed 530, say). Asked only of sessions that sent since
// the last tick or still had bytes queued then, so idle sessions cost nothing.
bool ControlSession::kernel_queue_stalled(Clock::time_point now,
                                          std::chrono::seconds limit) noexcept {
  const bool sent = sent_since_tick_;
  sent_since_tick_ = false;
  if (!sent && kernel_queued_ == 0) return false;
  int queued = 0;
  if (::ioctl(fd_.get(), SIOCOUTQ, &queued) != 0 || queued < 0) queued = 0;
  const auto now_queued = static_cast<std::size_t>(queued);
  if (now_queued == 0 || now_queued < kernel_queued_ || kernel_queued_ == 0) {
    kernel_progress_at_ = now;  // drained, draining, or just filled
  }
  kernel_queued_ = now_queued;
  return now_queued > 0 && now - kernel_progress_at_ > limit;
}

void ControlSession::shut_down_when_idle(std::string_view reason) noexcept {
  shutdown_reason_ = reason;
  maybe_shut_down_now();
}

void ControlSession::maybe_shut_down_now() noexcept {
  if (shutdown_reason_.empty() || transfer_) return;
  if (phase_ == Phase::Authenticating || phase_ == Phase::OpeningRoot) return;
  shut_down(shutdown_reason_);
}

void ControlSession::shut_down(std::string_view reason) noexcept {
  if (is_ending() || phase_ == Phase::EndingTransfer) return;
  // During a TLS handshake or shutdown (CCC while a transfer runs) the
  // replies have a path of their own: the 421 goes straight out there.
  if (transfer_ && phase_ != Phase::TlsHandshake && phase_ != Phase::TlsLookup &&
      phase_ != Phase::TlsShutdown) {
    // The 421 waits for the transfer's own reply: a client told only "421"
    // could not know that its upload had in fact been stored (or not).
    shutdown_reason_ = std::string(reason);
    enter(Phase::EndingTransfer);
    data_.abort();
    drain_data_events(data_.next_event());  // it may report at once
    return;
  }
  close_with_421(reason);
}

void ControlSession::close_with_421(std::string_view reason) noexcept {
  reply(ftp::Reply{ftp::kReplyServiceNotAvailable, std::string(reason)});
  close_after_flush();
  deadline_ = Clock::now() + std::chrono::seconds(2);
}

}  // namespace ringftpd::server
