// One FTP control connection inside a worker: the transport half.
//
// Owns the socket, the line splitter and the outbound reply buffer; turns
// receive completions into lines for the protocol interpreter and the
// interpreter's replies into sends. Lifetime: created by the Worker on accept,
// destroyed by the Worker only after is_finished() (every operation it put on
// the ring has completed and its fd is closed through the ring). It holds
// references to the worker's ring, buffers and log, which outlive it.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "config/config.hpp"
#include "io/buffer_ring.hpp"
#include "io/op_tag.hpp"
#include "io/ring.hpp"
#include "io/socket.hpp"
#include "io/unique_fd.hpp"
#include "server/ftp/line_splitter.hpp"
#include "server/log.hpp"
#include "server/ops.hpp"

namespace ringftpd::server {

struct SessionEnv {
  io::Ring& ring;
  io::BufferRing& recv_buffers;
  Log& log;
  config::Snapshot config;
};

class ControlSession {
 public:
  using Clock = std::chrono::steady_clock;

  ControlSession(SessionEnv env, io::OpTag tag, io::UniqueFd fd, io::SocketAddress peer,
                 io::SocketAddress local);

  // Sends the banner and starts receiving.
  void start() noexcept;
  void on_completion(Op op, int res, std::uint32_t flags) noexcept;

  // Called once a second by the worker; closes the session past its deadline.
  void on_tick(Clock::time_point now) noexcept;
  // Server shutdown: a last 421, then close.
  void shut_down(std::string_view reason) noexcept;

  [[nodiscard]] bool is_finished() const noexcept { return phase_ == Phase::Closed; }
  [[nodiscard]] const io::SocketAddress& peer() const noexcept { return peer_; }

 private:
  enum class Phase { Open, Closing, Closed };

  void arm_recv() noexcept;
  void on_recv(int res, std::uint32_t flags) noexcept;
  void on_send(int res) noexcept;
  void drain_lines() noexcept;
  void handle_line(std::string_view line) noexcept;
  void reply(int code, std::string_view text) noexcept;
  void flush() noexcept;
  void close_after_flush() noexcept;
  void begin_close(std::string_view reason) noexcept;
  void maybe_finish_close() noexcept;
  void touch() noexcept;
  [[nodiscard]] std::uint64_t tag(Op op) const noexcept;

  SessionEnv env_;
  io::OpTag tag_;
  io::UniqueFd fd_;
  io::SocketAddress peer_;
  io::SocketAddress local_;
  std::string who_;  // "127.0.0.1:5000" for log lines

  ftp::LineSplitter splitter_;
  std::string outbound_;  // replies queued behind the send in flight
  std::string sending_;   // bytes the kernel is sending; stable until completion
  std::size_t sent_ = 0;

  Phase phase_ = Phase::Open;
  bool recv_armed_ = false;
  bool send_in_flight_ = false;
  bool close_requested_ = false;  // close once the outbound bytes are sent
  bool close_submitted_ = false;
  unsigned errors_ = 0;  // bad commands, against the error budget
  Clock::time_point deadline_;
};

}  // namespace ringftpd::server
