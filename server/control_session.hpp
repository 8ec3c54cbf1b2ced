// One FTP control connection inside a worker.
//
// Owns the socket, the line splitter, the outbound reply buffer, the session's
// root directory fd, and the two helpers that carry out the interpreter's
// effects: FsJob (filesystem) and DataChannel (data connections, transfers).
// The protocol decisions live in the pure interpreter (ftp/interpreter.hpp);
// this class only moves bytes and effects.
//
// Lifetime: created by the Worker on accept, destroyed by the Worker only
// after is_finished(): every operation it put on the ring has completed and
// every fd it owned is closed through the ring. It holds references to the
// worker's ring, buffers, ports, auth link and log, which outlive it.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include "config/config.hpp"
#include "io/buffer_ring.hpp"
#include "io/op_tag.hpp"
#include "io/ring.hpp"
#include "io/socket.hpp"
#include "io/unique_fd.hpp"
#include "server/auth_link.hpp"
#include "server/data_channel.hpp"
#include "server/fs_job.hpp"
#include "server/ftp/interpreter.hpp"
#include "server/ftp/line_splitter.hpp"
#include "server/log.hpp"
#include "server/ops.hpp"
#include "server/process/counters.hpp"
#include "server/transfer_log.hpp"
#include "tls/context.hpp"
#include "tls/session.hpp"

namespace ringftpd::server {

struct SessionEnv {
  io::SubmissionQueue& ring;  // the worker's io::Ring, or the simulation's
  io::BufferRing& recv_buffers;
  Log& log;
  config::Snapshot config;
  PassivePorts& passive_ports;
  AuthLink& auth;
  TransferLog& xferlog;
  const tls::ServerContext* tls_context;  // null: this server has no TLS
  std::span<std::byte> scratch;           // the worker's; valid during a call only
  WorkerCounters& counters;               // this worker's block, shared with the master
};

class ControlSession {
 public:
  using Clock = std::chrono::steady_clock;

  // implicit_tls: the listener speaks TLS from the first byte (port 990 style).
  ControlSession(SessionEnv env, io::OpTag tag, io::UniqueFd fd, io::SocketAddress peer,
                 io::SocketAddress local, bool implicit_tls);

  // Sends the banner and starts receiving.
  void start() noexcept;
  void on_completion(Op op, int res, std::uint32_t flags) noexcept;
  // The auth service answered this session's request.
  void on_auth_reply(const auth::Reply& reply) noexcept;

  // Called once a second by the worker; enforces timeouts and login delays.
  void on_tick(Clock::time_point now) noexcept;
  // Server shutdown: a last 421, then close.
  void shut_down(std::string_view reason) noexcept;
  // Graceful stop: like shut_down, but a transfer in progress (or a login
  // being checked) finishes first, with its reply.
  void shut_down_when_idle(std::string_view reason) noexcept;
  // The auth service restarted: a request in flight will never be answered;
  // the login is refused (the client may simply try again).
  void on_auth_service_lost() noexcept;

  [[nodiscard]] bool is_finished() const noexcept { return phase_ == Phase::Closed; }
  [[nodiscard]] const io::SocketAddress& peer() const noexcept { return peer_; }
  [[nodiscard]] io::OpTag tag() const noexcept { return tag_; }

 private:
  enum class Phase { Open, Closing, Closed };

  void arm_recv() noexcept;
  void on_recv(int res, std::uint32_t flags) noexcept;
  void start_tls() noexcept;
  void end_tls(bool keep_login) noexcept;
  void on_ciphertext(std::span<const std::byte> bytes) noexcept;
  void on_send(int res) noexcept;
  void process_input() noexcept;
  void handle_line(std::string_view line) noexcept;
  void run(ftp::Step step) noexcept;
  void carry_out(ftp::Effect effect) noexcept;
  void on_root_opened(int res) noexcept;
  void on_data_event(const DataEvent& e) noexcept;
  [[nodiscard]] bool is_busy() const noexcept;
  [[nodiscard]] io::OpTag auth_request_tag() const noexcept;
  void maybe_shut_down_now() noexcept;
  void reply(const ftp::Reply& r) noexcept;
  void flush() noexcept;
  void close_after_flush() noexcept;
  void begin_close(std::string_view reason) noexcept;
  void maybe_finish_close() noexcept;
  void touch() noexcept;

  SessionEnv env_;
  io::OpTag tag_;
  OpSubmitter submit_;
  io::UniqueFd fd_;
  io::SocketAddress peer_;
  io::SocketAddress local_;
  std::string who_;  // "127.0.0.1:5000" for log lines

  ftp::Policy policy_;
  ftp::SessionState state_;
  FsJob fs_job_;
  DataChannel data_;
  std::optional<ftp::effect::Transfer> transfer_;  // the one in progress
  Clock::time_point transfer_started_{};
  io::UniqueFd root_;                         // the user's root directory (O_PATH)
  std::string root_path_;                     // for the root open submission
  std::optional<auth::Reply> pending_login_;  // allowed, root being opened
  bool auth_in_flight_ = false;
  std::uint8_t auth_sequence_ = 0;  // tells this login's reply from a stale one
  Clock::time_point auth_sent_at_{};
  bool auth_by_certificate_ = false;       // the request in flight is a certificate login
  std::string control_certificate_;        // fingerprint of the verified client certificate
  std::vector<std::byte> auth_buffer_;     // a request being sent; wiped after
  std::optional<ftp::Step> delayed_step_;  // a failed-login reply held back
  Clock::time_point delayed_until_{};

  ftp::LineSplitter splitter_;
  std::optional<tls::Session> tls_;  // set from AUTH TLS (or accept, implicit) on
  bool implicit_tls_ = false;
  bool tls_close_sent_ = false;
  bool tls_ending_ = false;     // REIN: our close_notify is out, awaiting the client's
  std::string input_;           // plaintext received, not yet fed to the splitter
  std::string clear_outbound_;  // bytes to send as they are (before TLS, the 234)
  std::string plain_outbound_;  // replies to seal once TLS is up
  std::string sending_;         // bytes the kernel is sending; stable until completion
  std::size_t sent_ = 0;

  Phase phase_ = Phase::Open;
  bool recv_armed_ = false;
  bool send_in_flight_ = false;
  bool close_requested_ = false;  // close once the outbound bytes are sent
  bool close_submitted_ = false;
  unsigned errors_ = 0;          // bad commands, against the error budget
  std::string shutdown_reason_;  // set: close as soon as nothing is in progress
  Clock::time_point deadline_;
};

}  // namespace ringftpd::server
