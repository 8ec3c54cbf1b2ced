// One FTP control connection inside a worker.
//
// Owns the socket, the line splitter, the outbound reply buffers, the
// session's root directory fd, and the two helpers that carry out the
// interpreter's effects: FsJob (filesystem) and DataChannel (data
// connections, transfers). The protocol decisions live in the pure
// interpreter (ftp/interpreter.hpp); this class moves bytes and carries out
// effects, and its own life is one explicit state machine:
//
//   TlsHandshake ─┐                ┌─ Authenticating ─ OpeningRoot ─┐
//   (AUTH TLS,    ├─> Commands <───┼─ LoginDelayed                  │
//    implicit)  ──┘      │  ^      ├─ FsWork                        │
//                        │  └──────┼─ AwaitingTransferEnd (ABOR, REIN)
//                        │         └─ TlsShutdown (REIN, CCC) <─────┘
//                        v
//   any phase ─> Draining (last replies out) ─> Closing (cancel, drain) ─> Closed
//
// The phase changes only in enter(). Commands are read and carried out only
// in Commands; in every other phase input waits in a capped buffer.
//
// Bounds (hostile clients are the normal case): input buffered per session
// is capped (smaller before login); when it reaches the cap the receive is
// cancelled, so TCP flow control pushes back on the client instead of our
// memory growing. Queued output is capped the same way: while it is over
// the cap no further command is carried out, so a client that never reads
// its replies stops being served, then stops being read, and is closed when
// a send makes no progress for the send timeout.
//
// Lifetime: created by the Worker on accept, destroyed by the Worker only
// after is_finished(): every operation it put on the ring has completed and
// every fd it owned is closed through the ring. No fd is closed while an
// operation naming it is in flight: the root fd in particular is released
// only once no filesystem job or transfer (which open files relative to it)
// is running. It holds references to the worker's ring, buffers, ports, auth
// link and log, which outlive it.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "config/config.hpp"
#include "io/buffer_ring.hpp"
#include "io/op_tag.hpp"
#include "io/socket.hpp"
#include "io/submission_queue.hpp"
#include "io/unique_fd.hpp"
#include "server/auth_link.hpp"
#include "server/data_channel.hpp"
#include "server/fs_job.hpp"
#include "server/ftp/interpreter.hpp"
#include "server/ftp/line_splitter.hpp"
#include "server/log.hpp"
#include "server/ops.hpp"
#include "server/pacer.hpp"
#include "server/process/counters.hpp"
#include "server/process/user_limits.hpp"
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
  Pacer& pacer;                           // wakes transfers waiting for bandwidth
  // Per-user limits shared by all workers (null: none, tests), and this
  // worker's pid, which owns the logins it counts there.
  UserLimits* user_limits;
  pid_t self;
  // [shared] session_ids: wakes sessions waiting for a second-level session
  // lookup (Redis, through sharedd) every 250 µs. Null: no lookups.
  Pacer* lookup_waiters = nullptr;
};

// Per-session memory budget. Before login a session gets far less: a
// stranger should cost little.
struct SessionBudget {
  std::size_t input_bytes;   // received, not yet carried out: stop reading here
  std::size_t output_bytes;  // queued replies: stop carrying out commands here
};
[[nodiscard]] SessionBudget session_budget(bool logged_in, std::size_t max_line_bytes) noexcept;

class ControlSession {
 public:
  using Clock = std::chrono::steady_clock;

  enum class Phase : std::uint8_t {
    TlsHandshake,         // AUTH TLS answered (or an implicit-TLS accept): handshaking
    TlsLookup,            // the ClientHello waits while sharedd looks its session ID up in Redis
    Commands,             // reading and carrying out commands, one at a time
    Authenticating,       // a login is with the auth service
    OpeningRoot,          // the login was allowed; the user's root is being opened
    LoginDelayed,         // a failed login's 530 is held back (guessing back-off)
    FsWork,               // a filesystem effect is in progress
    AwaitingTransferEnd,  // ABOR/REIN: the transfer in progress must report first
    TlsShutdown,          // REIN/CCC: our close_notify is out; the client's is awaited
    EndingTransfer,       // closing with a 421: the aborted transfer's reply goes first
    Draining,             // the last replies are being sent; nothing more is read
    Closing,              // every operation is cancelled and waited for
    Closed,               // the socket is closed; the worker may free the slot
  };
  [[nodiscard]] static std::string_view phase_name(Phase p) noexcept;

  // implicit_tls: the listener speaks TLS from the first byte (port 990 style).
  ControlSession(SessionEnv env, io::OpTag tag, io::UniqueFd fd, io::SocketAddress peer,
                 io::SocketAddress local, bool implicit_tls);

  // Sends the banner and starts receiving. early_input: bytes the client sent
  // before the session existed (after a balancer's PROXY header), taken as
  // the first received.
  void start(std::span<const std::byte> early_input = {}) noexcept;
  void on_completion(Op op, int res, std::uint32_t flags) noexcept;
  // The auth service answered this session's request.
  void on_auth_reply(const auth::Reply& reply) noexcept;

  // Called once a second by the worker; enforces timeouts and login delays.
  void on_tick(Clock::time_point now) noexcept;
  // The worker's pace tick, for a transfer that waited for bandwidth.
  void on_pace() noexcept;
  // Every 250 µs while in TlsLookup (SessionEnv::lookup_waiters).
  void on_lookup_poll() noexcept;
  // Server shutdown (or a client past its limits): a last 421, then close. A
  // transfer in progress is aborted first, and its own reply (426, or 226
  // if it had completed) precedes the 421.
  void shut_down(std::string_view reason) noexcept;
  // Graceful stop: like shut_down, but a transfer in progress (or a login
  // being checked) finishes first, with its reply.
  void shut_down_when_idle(std::string_view reason) noexcept;
  // The auth service restarted: a request in flight will never be answered;
  // the login is refused (the client may simply try again).
  void on_auth_service_lost() noexcept;

  [[nodiscard]] bool is_finished() const noexcept { return phase_ == Phase::Closed; }
  [[nodiscard]] Phase phase() const noexcept { return phase_; }
  [[nodiscard]] const io::SocketAddress& peer() const noexcept { return peer_; }
  [[nodiscard]] io::OpTag tag() const noexcept { return tag_; }
  // The connection came through a balancer (a PROXY listener): EPSV would
  // send the client's data to the balancer (ftp::Policy::epsv_available).
  // Set once, before start().
  void set_behind_balancer() noexcept { policy_.epsv_available = false; }
  // The listener's shared bandwidth cap (null: none); set once, at accept.
  void set_listener_bucket(SharedBucket* b) noexcept { data_.throttle().set_listener_bucket(b); }
  // Bytes of the buffers this session holds now (input, replies, sends,
  // transfer buffers); the worker sums them into its memory gauge.
  [[nodiscard]] std::size_t memory_bytes() const noexcept;
  // The most memory_bytes() may be for this session's budget: the caps plus
  // one receive buffer, one reply and one TLS record of slack, and what a
  // transfer holds (which has its own fixed buffers).
  [[nodiscard]] std::size_t memory_cap() const noexcept;

 private:
  enum class Receive : std::uint8_t { Idle, Armed, Cancelling };

  void enter(Phase next) noexcept;
  [[nodiscard]] bool is_ending() const noexcept {
    return phase_ == Phase::Draining || phase_ == Phase::Closing || phase_ == Phase::Closed;
  }
  [[nodiscard]] SessionBudget budget() const noexcept;
  [[nodiscard]] std::size_t queued_output() const noexcept;
  [[nodiscard]] std::size_t buffered_input() const noexcept;

  // Input (control_session.cpp).
  void update_receive() noexcept;
  void on_recv(int res, std::uint32_t flags) noexcept;
  void take_input(std::span<const std::byte> bytes) noexcept;
  void process_input() noexcept;
  void handle_line(std::string_view line) noexcept;
  // Effects.
  void run(ftp::Step step) noexcept;
  void carry_out(ftp::Effect& effect) noexcept;
  void start_transfer(const ftp::effect::Transfer& t) noexcept;
  void drain_data_events(DataEvent first) noexcept;
  void on_data_event(const DataEvent& e) noexcept;
  void log_transfer(const ftp::effect::Transfer& t, const DataEvent& e) noexcept;
  // Login (control_login.cpp).
  void authenticate(ftp::effect::Authenticate& a) noexcept;
  [[nodiscard]] io::OpTag auth_request_tag() const noexcept;
  void on_auth_send(int res) noexcept;
  void on_root_opened(int res) noexcept;
  void end_login() noexcept;
  [[nodiscard]] bool admit_user(const auth::Reply& login) noexcept;
  void log_login_refused(config::LogLevel level, std::string_view why) noexcept;
  void release_root_when_unused() noexcept;
  // TLS on the control connection (control_tls.cpp).
  void start_tls() noexcept;
  void end_tls(bool keep_login) noexcept;
  void on_ciphertext(std::span<const std::byte> bytes) noexcept;
  void on_handshake_progress() noexcept;
  // The first handshake bytes: true if they are held for a lookup.
  [[nodiscard]] bool start_lookup_if_useful(std::span<const std::byte> bytes) noexcept;
  void end_lookup() noexcept;
  void on_shutdown_bytes(std::span<const std::byte> bytes) noexcept;
  void refresh_ticket() noexcept;
  // Output (control_output.cpp).
  void reply(const ftp::Reply& r) noexcept;
  void flush() noexcept;
  [[nodiscard]] bool take_next_send() noexcept;
  void on_send(int res) noexcept;
  // Ending.
  void close_after_flush() noexcept;
  void begin_close(std::string_view reason) noexcept;
  void maybe_finish_close() noexcept;
  void maybe_shut_down_now() noexcept;
  // The last 421 and the close that follows its send.
  void close_with_421(std::string_view reason) noexcept;
  [[nodiscard]] bool kernel_queue_stalled(Clock::time_point now,
                                          std::chrono::seconds limit) noexcept;
  void touch() noexcept;

  SessionEnv env_;
  io::OpTag tag_;
  OpSubmitter submit_;
  io::UniqueFd fd_;
  io::SocketAddress peer_;
  io::SocketAddress local_;
  std::string who_;  // "127.0.0.1:5000" for log lines
  Phase phase_ = Phase::Commands;

  ftp::Policy policy_;
  ftp::SessionState state_;
  FsJob fs_job_;
  DataChannel data_;
  std::optional<ftp::effect::Transfer> transfer_;  // the one in progress
  Clock::time_point transfer_started_{};

  // Login.
  io::UniqueFd root_;                         // the user's root directory (O_PATH)
  bool root_retiring_ = false;                // release root_ once nothing uses it
  std::string root_path_;                     // kept alive for the root open submission
  std::optional<auth::Reply> pending_login_;  // OpeningRoot: the allowed login
  UserSeat user_seat_;                        // counted in the user's max_sessions
  std::uint8_t auth_sequence_ = 0;            // tells this login's reply from a stale one
  Clock::time_point auth_sent_at_{};
  bool auth_by_certificate_ = false;       // the request in flight is a certificate login
  std::string control_certificate_;        // fingerprint of the verified client certificate
  std::vector<std::byte> auth_buffer_;     // a request being sent; wiped after
  unsigned auth_sends_in_flight_ = 0;      // AuthSend completions still to come
  std::optional<ftp::Step> delayed_step_;  // LoginDelayed: the 530 held back
  Clock::time_point delayed_until_{};

  // Input.
  ftp::LineSplitter splitter_;
  Receive receive_ = Receive::Idle;
  std::string input_;  // plaintext received, not yet fed to the splitter

  // TLS.
  std::optional<tls::Session> tls_;  // from AUTH TLS (or accept, implicit) on
  // TlsShutdown: bytes of an incomplete TLS record. The client's close_notify
  // may share a segment with its first clear command, so records are fed to
  // TLS one at a time and what follows the close_notify is clear input.
  std::vector<std::byte> shutdown_records_;
  bool implicit_tls_ = false;
  bool tls_close_sent_ = false;
  // The second-level lookup (TlsLookup): at most one per TLS start, for the
  // ClientHello's record, held here (bounded) until the answer or deadline.
  bool hello_peeked_ = false;
  std::optional<tls::LookupTicket> lookup_;
  std::vector<std::byte> held_hello_;
  Clock::time_point lookup_deadline_;

  // Output: one send in flight at a time.
  std::string clear_outbound_;  // bytes to send as they are (before TLS, the 234)
  std::string plain_outbound_;  // replies to seal once TLS is up
  // TlsShutdown: clear replies (a timeout's 421) held until the client's
  // close_notify, so a client still reading TLS does not take them for records.
  std::string after_tls_;
  std::string sending_;  // bytes the kernel is sending; stable until completion
  std::size_t sent_ = 0;
  bool send_in_flight_ = false;
  Clock::time_point send_progress_at_{};  // the last time a send moved bytes
  bool sent_since_tick_ = false;          // a send completed since the last tick
  std::size_t kernel_queued_ = 0;         // SIOCOUTQ at the last tick
  Clock::time_point kernel_progress_at_{};

  bool close_submitted_ = false;
  unsigned errors_ = 0;          // bad commands, against the error budget
  std::string shutdown_reason_;  // set: close as soon as nothing is in progress
  Clock::time_point deadline_;   // idle, login or handshake timeout
};

}  // namespace ringftpd::server
