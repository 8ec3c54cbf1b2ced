// Channel: one TCP connection of a client (its control connection or its
// current data connection), in clear or TLS (a client-side tls::Session),
// driven through the event loop's ring.
//
// Ownership and lifetime:
// - A Channel is a member of its FtpClient and lives as long as it. It owns
//   its socket, its Session and its buffers; the kernel writes into the
//   buffers only while an operation is in flight, and the channel counts those.
// - The socket is either an ordinary fd or, when the loop registered a file
//   table with its ring, a fixed slot of that table reserved for this channel:
//   the socket is made with socket(2), registered into the slot, and its fd
//   closed at once, so a connection holds no entry of the process's fd table
//   (RLIMIT_NOFILE caps each ring's table, not the sum over rings) and every
//   operation skips the fd lookup.
// - close() cancels whatever is in flight and closes the fd through the ring
//   (cancel first, then close, in submission order). Cancels name the
//   operation by its tag, which the kernel finds by hash; cancelling by fd
//   scans every pending request, and closing 20 000 idle sessions that way
//   took longer than a minute. The channel is reusable
//   (is_idle()) only when every completion has come back, so a late
//   completion never lands in a buffer that a new connection is using.
// - Buffers are allocated on the first connect and kept for every later one:
//   a download reads into the same buffers from start to end.
//
// Driving it (the owner forwards completions by op, see ChannelOp):
//   connect() ... on_connect(res) ... start_tls() (optional); or, for an
//   active-mode data connection, accept(listener) ... on_accept(res) ...;
//   on a recv completion: on_recv(res), then call read() until it returns
//   NeedMore (the receive is re-armed), Closed, Truncated or Failed;
//   send() queues plaintext (sealed under TLS) and sends it, one send in
//   flight at a time; unsent() says how much is still queued.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "io/op_tag.hpp"
#include "io/ring.hpp"
#include "io/socket.hpp"
#include "io/unique_fd.hpp"
#include "tls/context.hpp"
#include "tls/session.hpp"

namespace ringftpd::ftpsload {

// The low nibble of an op byte; the high nibble says which channel.
enum class ChannelOp : std::uint8_t { Connect = 1, Recv, Send, Shutdown, Close, Accept };

class Channel {
 public:
  enum class Read : std::uint8_t {
    Data,           // `data` holds plaintext (valid until the next call)
    HandshakeDone,  // the TLS handshake just completed
    NeedMore,       // nothing more for now; a receive is in flight
    Closed,         // clean end: TCP FIN in clear, close_notify under TLS
    Truncated,      // TLS, but the transport ended without close_notify
    Failed,         // see error_text()
  };
  struct Chunk {
    Read status = Read::NeedMore;
    std::span<const std::byte> data;
  };

  // `channel` (0..15) goes into the high nibble of every op byte.
  Channel(std::uint8_t channel, std::size_t recv_bytes, std::size_t plain_bytes) noexcept;

  // Where submissions go, how they are tagged (the owner's slot and
  // generation) and the channel's fixed file slot (-1: ordinary fds); set
  // before each connection.
  void bind_ring(io::Ring* ring, io::OpTag base, int fixed_slot) noexcept {
    ring_ = ring;
    base_ = base;
    fixed_slot_ = fixed_slot;
  }

  // Creates a non-blocking socket (bound to `source` if given) and submits
  // the connect. 0, or -errno if the socket could not be made.
  [[nodiscard]] int connect(const io::SocketAddress& peer,
                            const io::SocketAddress* source) noexcept;
  // Active mode: takes the listening socket (the channel owns it until its
  // accept completes, so the kernel never accepts on a closed fd) and submits
  // one accept; the accepted connection becomes this channel's socket.
  void accept(io::UniqueFd listener) noexcept;
  // Starts the client side of TLS on a connected channel, offering `resume`
  // (may be null). False if wolfSSL could not make the connection.
  [[nodiscard]] bool start_tls(const tls::ClientContext& ctx, WOLFSSL_SESSION* resume) noexcept;
  // Cancels everything in flight and closes the fd through the ring.
  // Idempotent.
  void close() noexcept;
  // Sends FIN once everything queued is sent (an upload's end).
  void shutdown_write() noexcept;

  // --- completions; each returns false when the channel is closing and the
  // owner has nothing to do.
  [[nodiscard]] bool on_connect(int res) noexcept;  // res: 0 or -errno
  [[nodiscard]] bool on_accept(int res) noexcept;   // res: the new fd or -errno
  [[nodiscard]] bool on_recv(int res) noexcept;
  [[nodiscard]] bool on_send(int res) noexcept;  // then check failed()/unsent()
  void on_other(ChannelOp op) noexcept;          // shutdown, close: bookkeeping only

  [[nodiscard]] Chunk read() noexcept;
  // Queues plaintext; false (and failed()) if TLS refused it.
  [[nodiscard]] bool send(std::span<const std::byte> plaintext) noexcept;
  [[nodiscard]] bool send(std::string_view text) noexcept {
    return send(std::span(reinterpret_cast<const std::byte*>(text.data()), text.size()));
  }
  // Clear channels only, with nothing queued: sends `bytes` straight from
  // the caller's memory, which must stay valid until unsent() is 0.
  void send_borrowed(std::span<const std::byte> bytes) noexcept;

  // --- state
  [[nodiscard]] bool is_open() const noexcept { return open_; }
  // Open with a connection (connected or accepted), not just waiting for one.
  [[nodiscard]] bool has_socket() const noexcept { return has_socket_; }
  [[nodiscard]] bool is_idle() const noexcept { return !open_ && in_flight_ == 0; }
  [[nodiscard]] bool is_tls() const noexcept { return tls_.has_value(); }
  [[nodiscard]] tls::Session* tls() noexcept { return tls_ ? &*tls_ : nullptr; }
  [[nodiscard]] const tls::Session* tls() const noexcept { return tls_ ? &*tls_ : nullptr; }
  [[nodiscard]] std::size_t unsent() const noexcept;
  [[nodiscard]] bool failed() const noexcept { return error_ != 0 || tls_error_; }
  // "recv: Connection reset by peer", "TLS: handshake: wolfSSL error ..."
  [[nodiscard]] std::string error_text() const;
  [[nodiscard]] int error_number() const noexcept { return error_; }

 private:
  // An SQE tagged with `op`, aimed at the socket (fixed or not).
  io_uring_sqe* sqe(ChannelOp op) noexcept;
  void completed(ChannelOp op) noexcept;
  [[nodiscard]] std::uint64_t tag_of(ChannelOp op) const noexcept;
  [[nodiscard]] int target() const noexcept { return fixed_slot_ >= 0 ? fixed_slot_ : fd_.get(); }
  void aim(io_uring_sqe* s) const noexcept {
    if (fixed_slot_ >= 0) io_uring_sqe_set_flags(s, IOSQE_FIXED_FILE);
  }
  void arm_recv() noexcept;
  void flush() noexcept;
  void submit_send() noexcept;
  void reset_connection_state() noexcept;
  [[nodiscard]] bool ensure_recv_buffer() noexcept;
  // Makes `fd` this channel's socket (into its fixed slot, if any). 0 or -errno.
  [[nodiscard]] int adopt(io::UniqueFd fd) noexcept;
  Chunk read_tls() noexcept;

  std::uint8_t channel_;
  io::Ring* ring_ = nullptr;
  io::OpTag base_{};
  io::UniqueFd fd_;      // ordinary-fd mode
  int fixed_slot_ = -1;  // fixed-file mode: our slot in the ring's table
  bool open_ = false;
  bool has_socket_ = false;  // false while an accept is pending
  io::UniqueFd listener_;    // active mode: until the accept completes
  io::SocketAddress peer_;   // read by the kernel when the connect is submitted
  unsigned in_flight_ = 0;
  std::uint8_t pending_ = 0;  // bit per ChannelOp in flight (at most one of each)
  bool closing_ = false;

  // Receiving.
  std::size_t recv_bytes_, plain_bytes_;
  std::unique_ptr<std::byte[]> recv_buf_;   // ciphertext (TLS) or plaintext (clear)
  std::unique_ptr<std::byte[]> plain_buf_;  // TLS plaintext
  std::size_t clear_ready_ = 0;             // clear: bytes of recv_buf_ not yet read()
  bool recv_armed_ = false;
  bool eof_ = false;

  // Sending: one send in flight, from wire_ (into sending_ or borrowed).
  std::vector<std::byte> queued_;   // clear plaintext waiting for the next send
  std::vector<std::byte> sending_;  // storage of the send in flight
  std::span<const std::byte> wire_;
  std::size_t wire_off_ = 0;
  bool send_armed_ = false;
  bool shutdown_wanted_ = false;

  std::optional<tls::Session> tls_;
  bool tls_error_ = false;
  int error_ = 0;              // errno of a failed recv/send/connect
  const char* error_op_ = "";  // which of them
};

}  // namespace ringftpd::ftpsload
