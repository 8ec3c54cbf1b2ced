#include "server/control_session.hpp"

#include <sys/socket.h>

#include <cerrno>
#include <cstring>

#include "server/ftp/command.hpp"
#include "server/ftp/reply.hpp"

namespace ringftpd::server {

ControlSession::ControlSession(SessionEnv env, io::OpTag tag, io::UniqueFd fd,
                               io::SocketAddress peer, io::SocketAddress local)
    : env_(std::move(env)),
      tag_(tag),
      fd_(std::move(fd)),
      peer_(peer),
      local_(local),
      who_(peer.to_string()),
      splitter_(env_.config->limits.max_line_bytes) {}

std::uint64_t ControlSession::tag(Op op) const noexcept {
  io::OpTag t = tag_;
  t.op = static_cast<std::uint8_t>(op);
  return t.pack();
}

void ControlSession::touch() noexcept {
  // Until login, the shorter login timeout applies (a connection that never
  // logs in holds a slot for little time).
  const auto& limits = env_.config->limits;
  deadline_ = Clock::now() + std::chrono::seconds(limits.login_timeout_seconds);
}

void ControlSession::start() noexcept {
  env_.log.info(who_, "connected to " + local_.to_string());
  touch();
  reply(ftp::kReplyServiceReady, env_.config->banner);
  arm_recv();
}

void ControlSession::arm_recv() noexcept {
  io_uring_sqe* sqe = env_.ring.sqe(tag(Op::ControlRecv));
  io_uring_prep_recv_multishot(sqe, fd_.get(), nullptr, 0, 0);
  sqe->flags |= IOSQE_BUFFER_SELECT;
  sqe->buf_group = env_.recv_buffers.group_id();
  recv_armed_ = true;
}

void ControlSession::on_completion(Op op, int res, std::uint32_t flags) noexcept {
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
    default:
      env_.log.error(who_, "bug: unexpected completion for a control session");
      break;
  }
  maybe_finish_close();
}

void ControlSession::on_recv(int res, std::uint32_t flags) noexcept {
  if (!(flags & IORING_CQE_F_MORE)) recv_armed_ = false;
  const auto buffer = env_.recv_buffers.buffer_id(flags);
  if (res > 0 && buffer) {
    const auto bytes = env_.recv_buffers.bytes(*buffer, static_cast<std::size_t>(res));
    std::span<const char> rest{reinterpret_cast<const char*>(bytes.data()), bytes.size()};
    // The splitter holds at most one line: feed what fits, drain the lines,
    // repeat. Bytes after QUIT or a fatal error are dropped.
    while (!rest.empty() && phase_ == Phase::Open && !close_requested_) {
      rest = rest.subspan(splitter_.feed(rest));
      drain_lines();
    }
    env_.recv_buffers.recycle(*buffer);  // the splitter copied what it keeps
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

void ControlSession::drain_lines() noexcept {
  while (phase_ == Phase::Open && !close_requested_) {
    const ftp::LineSplitter::Result r = splitter_.next();
    if (r.kind == ftp::LineSplitter::Kind::NeedMore) return;
    if (r.kind == ftp::LineSplitter::Kind::TooLong) {
      ++errors_;
      reply(ftp::kReplySyntaxError, "Command line too long.");
    } else {
      handle_line(r.line);
    }
    if (errors_ >= env_.config->limits.error_budget && !close_requested_) {
      reply(ftp::kReplyServiceNotAvailable, "Too many bad commands, closing.");
      close_after_flush();
    }
  }
}

void ControlSession::handle_line(std::string_view line) noexcept {
  touch();
  const ftp::Command cmd = ftp::parse(line);
  switch (cmd.verb) {
    case ftp::Verb::Quit:
      reply(ftp::kReplyClosing, "Goodbye.");
      close_after_flush();
      return;
    case ftp::Verb::Noop:
      reply(ftp::kReplyOk, "NOOP ok.");
      return;
    case ftp::Verb::Unknown:
      ++errors_;
      reply(ftp::kReplySyntaxError, "Syntax error, command unrecognized.");
      return;
    default:
      ++errors_;
      reply(ftp::kReplyNotImplemented, "Command not implemented.");
      return;
  }
}

void ControlSession::reply(int code, std::string_view text) noexcept {
  ftp::format(ftp::Reply{code, std::string(text)}, outbound_);
  flush();
}

void ControlSession::flush() noexcept {
  if (send_in_flight_ || phase_ == Phase::Closed || close_submitted_) return;
  if (sending_.size() == sent_) {
    if (outbound_.empty()) {
      if (close_requested_) begin_close("session ended");
      return;
    }
    sending_.swap(outbound_);
    outbound_.clear();
    sent_ = 0;
  }
  io_uring_sqe* sqe = env_.ring.sqe(tag(Op::ControlSend));
  io_uring_prep_send(sqe, fd_.get(), sending_.data() + sent_, sending_.size() - sent_,
                     MSG_NOSIGNAL);
  send_in_flight_ = true;
}

void ControlSession::on_send(int res) noexcept {
  send_in_flight_ = false;
  if (res < 0) {
    if (phase_ == Phase::Open) begin_close(std::string("send failed: ") + std::strerror(-res));
    return;
  }
  sent_ += static_cast<std::size_t>(res);  // a short send resumes where it stopped
  if (phase_ == Phase::Open) flush();
}

void ControlSession::close_after_flush() noexcept {
  close_requested_ = true;
  flush();
}

void ControlSession::begin_close(std::string_view reason) noexcept {
  if (phase_ != Phase::Open) return;
  phase_ = Phase::Closing;
  env_.log.info(who_, std::string("disconnected: ") + std::string(reason));
  if (recv_armed_ || send_in_flight_) {
    // Every operation on the fd must complete before the fd is closed and the
    // slot freed: the kernel may still be writing into our buffers.
    io_uring_sqe* sqe = env_.ring.sqe(io::kIgnoredTag);
    io_uring_prep_cancel_fd(sqe, fd_.get(), IORING_ASYNC_CANCEL_ALL);
  }
  maybe_finish_close();
}

void ControlSession::maybe_finish_close() noexcept {
  if (phase_ != Phase::Closing || close_submitted_ || recv_armed_ || send_in_flight_) return;
  io_uring_sqe* sqe = env_.ring.sqe(tag(Op::ControlClose));
  io_uring_prep_close(sqe, fd_.release());
  close_submitted_ = true;
}

void ControlSession::on_tick(Clock::time_point now) noexcept {
  if (phase_ != Phase::Open || now < deadline_) return;
  if (close_requested_) {
    begin_close("timed out while sending");  // the peer stopped reading
    return;
  }
  reply(ftp::kReplyServiceNotAvailable, "Timeout, closing control connection.");
  close_after_flush();
  // Give the 421 a grace period, then close regardless.
  deadline_ = now + std::chrono::seconds(5);
}

void ControlSession::shut_down(std::string_view reason) noexcept {
  if (phase_ != Phase::Open) return;
  if (!close_requested_) reply(ftp::kReplyServiceNotAvailable, reason);
  close_after_flush();
  deadline_ = Clock::now() + std::chrono::seconds(2);
}

}  // namespace ringftpd::server
