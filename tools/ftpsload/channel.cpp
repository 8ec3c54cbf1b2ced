#include "tools/ftpsload/channel.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <new>
#include <utility>

namespace ringftpd::ftpsload {

Channel::Channel(std::uint8_t channel, std::size_t recv_bytes, std::size_t plain_bytes) noexcept
    : channel_(channel), recv_bytes_(recv_bytes), plain_bytes_(plain_bytes) {}

std::uint64_t Channel::tag_of(ChannelOp op) const noexcept {
  io::OpTag tag = base_;
  tag.op = static_cast<std::uint8_t>(channel_ << 4 | static_cast<std::uint8_t>(op));
  return tag.pack();
}

io_uring_sqe* Channel::sqe(ChannelOp op) noexcept {
  ++in_flight_;
  pending_ |= static_cast<std::uint8_t>(1u << static_cast<unsigned>(op));
  return ring_->sqe(tag_of(op));
}

void Channel::reset_connection_state() noexcept {
  closing_ = false;
  has_socket_ = false;
  listener_.reset();  // idle: no accept of it is in flight
  eof_ = false;
  error_ = 0;
  error_op_ = "";
  tls_error_ = false;
  clear_ready_ = 0;
  recv_armed_ = false;
  send_armed_ = false;
  shutdown_wanted_ = false;
  queued_.clear();
  sending_.clear();
  wire_ = {};
  wire_off_ = 0;
  tls_.reset();
}

bool Channel::ensure_recv_buffer() noexcept {
  if (!recv_buf_) recv_buf_.reset(new (std::nothrow) std::byte[recv_bytes_]);
  return recv_buf_ != nullptr;
}

int Channel::adopt(io::UniqueFd fd) noexcept {
  const int one = 1;
  (void)::setsockopt(fd.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (fixed_slot_ >= 0) {
    // Into our slot of the ring's table; `fd` itself closes on return.
    int raw = fd.get();
    const int rc =
        io_uring_register_files_update(ring_->raw(), static_cast<unsigned>(fixed_slot_), &raw, 1);
    if (rc < 0) return rc;
  } else {
    fd_ = std::move(fd);
  }
  has_socket_ = true;
  return 0;
}

int Channel::connect(const io::SocketAddress& peer, const io::SocketAddress* source) noexcept {
  reset_connection_state();
  if (!ensure_recv_buffer()) return -ENOMEM;
  io::UniqueFd fd(::socket(peer.family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd) return -errno;
  if (source != nullptr) {
    // The port is picked at connect time, for the whole 4-tuple: one source
    // address then serves ~28000 connections to each server port.
    const int one = 1;
    (void)::setsockopt(fd.get(), IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
    if (::bind(fd.get(), source->get(), source->length) != 0) return -errno;
  }
  if (const int rc = adopt(std::move(fd)); rc < 0) return rc;
  open_ = true;
  peer_ = peer;  // the kernel reads it when the SQE is submitted, later
  io_uring_sqe* s = sqe(ChannelOp::Connect);
  io_uring_prep_connect(s, target(), peer_.get(), peer_.length);
  aim(s);
  return 0;
}

void Channel::accept(io::UniqueFd listener) noexcept {
  reset_connection_state();
  listener_ = std::move(listener);
  open_ = true;
  if (!ensure_recv_buffer()) {
    error_ = ENOMEM;
    error_op_ = "accept";
    return;
  }
  // The listener is an ordinary fd (one per transfer, briefly), never a
  // fixed slot: no aim().
  io_uring_prep_accept(sqe(ChannelOp::Accept), listener_.get(), nullptr, nullptr,
                       SOCK_NONBLOCK | SOCK_CLOEXEC);
}

bool Channel::start_tls(const tls::ClientContext& ctx, WOLFSSL_SESSION* resume) noexcept {
  tls_ = tls::Session::client(ctx);
  if (!tls_) return false;
  if (resume != nullptr) (void)tls_->resume_from(resume);  // refused: a full handshake
  if (!plain_buf_) {
    plain_buf_.reset(new (std::nothrow) std::byte[plain_bytes_]);
    if (!plain_buf_) {
      tls_.reset();
      return false;
    }
  }
  if (clear_ready_ > 0) {  // arrived before TLS started: the server's first TLS bytes
    tls_->feed_ciphertext(std::span<const std::byte>(recv_buf_.get(), clear_ready_));
    clear_ready_ = 0;
  }
  if (tls_->handshake() == tls::HandshakeStatus::Failed)
    tls_error_ = true;  // owner checks failed()
  flush();
  arm_recv();
  return true;
}

void Channel::close() noexcept {
  if (!open_) return;
  open_ = false;
  closing_ = true;
  // Cancel first, then close, in submission order. Cancelled operations
  // complete with -ECANCELED and are counted down like any other.
  for (const ChannelOp op : {ChannelOp::Connect, ChannelOp::Accept, ChannelOp::Recv,
                             ChannelOp::Send, ChannelOp::Shutdown}) {
    if (pending_ & (1u << static_cast<unsigned>(op))) {
      io_uring_prep_cancel64(ring_->sqe(io::kIgnoredTag), tag_of(op), 0);
    }
  }
  if (!std::exchange(has_socket_, false)) {
    // Still accepting: no socket to close; the listener goes when the
    // cancelled accept comes back (or now, if none is in flight).
    if ((pending_ & (1u << static_cast<unsigned>(ChannelOp::Accept))) == 0) listener_.reset();
  } else if (fixed_slot_ >= 0) {
    io_uring_prep_close_direct(sqe(ChannelOp::Close), static_cast<unsigned>(fixed_slot_));
  } else {
    io_uring_prep_close(sqe(ChannelOp::Close), fd_.release());
  }
  tls_.reset();  // sends in flight use sending_, never the Session's buffers
}

void Channel::shutdown_write() noexcept {
  if (tls_ && tls_->shutdown() == tls::IoStatus::Failed) tls_error_ = true;
  shutdown_wanted_ = true;
  flush();
}

void Channel::completed(ChannelOp op) noexcept {
  --in_flight_;
  pending_ &= static_cast<std::uint8_t>(~(1u << static_cast<unsigned>(op)));
}

bool Channel::on_connect(int res) noexcept {
  completed(ChannelOp::Connect);
  if (closing_) return false;
  if (res < 0) {
    error_ = -res;
    error_op_ = "connect";
    return true;
  }
  arm_recv();
  return true;
}

bool Channel::on_accept(int res) noexcept {
  completed(ChannelOp::Accept);
  // Nothing of the kernel's refers to the listener any more.
  listener_.reset();
  io::UniqueFd accepted(res >= 0 ? res : -1);
  if (closing_) return false;  // `accepted` closes with this scope
  if (res < 0) {
    error_ = -res;
    error_op_ = "accept";
    return true;
  }
  if (const int rc = adopt(std::move(accepted)); rc < 0) {
    error_ = -rc;
    error_op_ = "accept";
    return true;
  }
  arm_recv();
  return true;
}

bool Channel::on_recv(int res) noexcept {
  completed(ChannelOp::Recv);
  recv_armed_ = false;
  if (closing_) return false;
  if (res > 0) {
    const std::span<const std::byte> got(recv_buf_.get(), static_cast<std::size_t>(res));
    if (tls_) {
      tls_->feed_ciphertext(got);
    } else {
      clear_ready_ = got.size();
    }
  } else if (res == 0) {
    eof_ = true;
  } else if (res == -EINTR || res == -EAGAIN) {
    arm_recv();
    return false;
  } else {
    error_ = -res;
    error_op_ = "recv";
  }
  return true;
}

bool Channel::on_send(int res) noexcept {
  completed(ChannelOp::Send);
  send_armed_ = false;
  if (closing_) return false;
  if (res == -EINTR || res == -EAGAIN) {
    submit_send();
    return false;
  }
  if (res < 0) {
    error_ = -res;
    error_op_ = "send";
    return true;
  }
  wire_off_ += static_cast<std::size_t>(res);
  if (wire_off_ < wire_.size()) {  // a short send: the rest, from where it stopped
    submit_send();
    return true;
  }
  wire_ = {};
  wire_off_ = 0;
  sending_.clear();
  flush();
  return true;
}

void Channel::on_other(ChannelOp op) noexcept {
  completed(op);
}

void Channel::arm_recv() noexcept {
  if (recv_armed_ || !open_ || !has_socket_ || closing_ || eof_ || error_ != 0) return;
  recv_armed_ = true;
  io_uring_sqe* s = sqe(ChannelOp::Recv);
  io_uring_prep_recv(s, target(), recv_buf_.get(), recv_bytes_, 0);
  aim(s);
}

void Channel::submit_send() noexcept {
  send_armed_ = true;
  io_uring_sqe* s = sqe(ChannelOp::Send);
  io_uring_prep_send(s, target(), wire_.data() + wire_off_, wire_.size() - wire_off_, MSG_NOSIGNAL);
  aim(s);
}

void Channel::flush() noexcept {
  if (send_armed_ || !open_ || !has_socket_ || closing_ || error_ != 0) return;
  if (tls_ && !tls_->pending_ciphertext().empty()) {
    // The sealed bytes move out whole; the buffer of the previous send
    // becomes the Session's next outbound buffer (no allocation).
    sending_ = tls_->take_ciphertext(std::move(sending_));
  } else if (!tls_ && !queued_.empty()) {
    std::swap(sending_, queued_);
    queued_.clear();
  } else {
    if (shutdown_wanted_) {
      shutdown_wanted_ = false;
      io_uring_sqe* s = sqe(ChannelOp::Shutdown);
      io_uring_prep_shutdown(s, target(), SHUT_WR);
      aim(s);
    }
    return;
  }
  wire_ = sending_;
  wire_off_ = 0;
  submit_send();
}

Channel::Chunk Channel::read() noexcept {
  if (tls_) return read_tls();
  if (clear_ready_ > 0) {
    const std::size_t n = std::exchange(clear_ready_, 0);
    return {Read::Data, std::span<const std::byte>(recv_buf_.get(), n)};
  }
  if (error_ != 0) return {Read::Failed, {}};
  if (eof_) return {Read::Closed, {}};
  arm_recv();
  return {Read::NeedMore, {}};
}

Channel::Chunk Channel::read_tls() noexcept {
  tls::Session& s = *tls_;
  if (!s.is_handshake_done()) {
    const tls::HandshakeStatus st = s.handshake();
    flush();
    if (st == tls::HandshakeStatus::Done) return {Read::HandshakeDone, {}};
    if (st == tls::HandshakeStatus::Failed) {
      tls_error_ = true;
      return {Read::Failed, {}};
    }
  } else {
    const tls::IoResult r = s.read_plaintext(std::span<std::byte>(plain_buf_.get(), plain_bytes_));
    flush();
    switch (r.status) {
      case tls::IoStatus::Ok:
        return {Read::Data, std::span<const std::byte>(plain_buf_.get(), r.bytes)};
      case tls::IoStatus::Closed:
        return {Read::Closed, {}};
      case tls::IoStatus::Failed:
        tls_error_ = true;
        return {Read::Failed, {}};
      case tls::IoStatus::WantIO:
        break;
    }
  }
  if (error_ != 0 || failed()) return {Read::Failed, {}};
  if (eof_) return {Read::Truncated, {}};
  arm_recv();
  return {Read::NeedMore, {}};
}

bool Channel::send(std::span<const std::byte> plaintext) noexcept {
  if (!open_ || closing_) return false;
  if (tls_) {
    const tls::IoResult r = tls_->write_plaintext(plaintext);
    if (r.status != tls::IoStatus::Ok || r.bytes != plaintext.size()) {
      tls_error_ = true;
      return false;
    }
  } else {
    try {
      queued_.insert(queued_.end(), plaintext.begin(), plaintext.end());
    } catch (const std::bad_alloc&) {
      error_ = ENOMEM;
      error_op_ = "send";
      return false;
    }
  }
  flush();
  return true;
}

void Channel::send_borrowed(std::span<const std::byte> bytes) noexcept {
  if (!open_ || !has_socket_ || closing_ || send_armed_ || bytes.empty()) return;
  wire_ = bytes;
  wire_off_ = 0;
  submit_send();
}

std::size_t Channel::unsent() const noexcept {
  const std::size_t in_wire = wire_.size() - wire_off_;
  return in_wire + (tls_ ? tls_->pending_ciphertext().size() : queued_.size());
}

std::string Channel::error_text() const {
  if (tls_error_ && tls_) return "TLS " + tls_->last_error_text();
  if (tls_error_) return "TLS failure";
  if (error_ != 0) return std::string(error_op_) + ": " + std::strerror(error_);
  return "no error";
}

}  // namespace ringftpd::ftpsload
