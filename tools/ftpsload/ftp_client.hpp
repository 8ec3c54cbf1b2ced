// FtpClient: one simulated FTP(S) user, as an explicit state machine.
//
// A client runs sessions one after another in its slot of the loop: connect,
// greeting, AUTH TLS and the handshake (implicit TLS: the handshake, then the
// greeting), USER/PASS, PBSZ 0/PROT, TYPE I; then
// what the mode asks (transfers, or holding the session idle); QUIT. Every
// wait has a deadline (--timeout); an error of any kind is counted by kind,
// ends the session (both connections closed through the ring) and, after a
// short pause, a new session starts, so a failing server is measured, not
// hammered. When the run ends, whatever is in flight is cut.
//
// Completions reach the client by tag ({slot, generation, op}, the op's high
// nibble naming the channel). The client is the only owner of its two
// Channels; a session ends in Phase::Closing until both have drained, and
// only then may the slot start over (new generation).
//
// The session side (connect .. QUIT) lives in ftp_client.cpp, the transfer
// side (PASV/EPSV or PORT/EPRT, REST, .. 226 and the checks) in transfer.cpp.
//
// A transfer, passive: EPSV/PASV -> data connect -> [REST] -> verb -> 1xx
// (data TLS starts) -> data until its end + final reply -> [SIZE].
// Active: listen + accept armed -> EPRT/PORT -> [REST] -> verb -> the
// server connects; the data TLS starts once both the 1xx and the accepted
// connection are there, in either order.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "tools/ftpsload/channel.hpp"
#include "tools/ftpsload/mlsd_reader.hpp"
#include "tools/ftpsload/plan.hpp"
#include "tools/ftpsload/reply_reader.hpp"
#include "tools/ftpsload/sha256.hpp"

namespace ringftpd::ftpsload {

// "connect refused", "data connect: Network is unreachable", ...
[[nodiscard]] std::string connect_error(const char* what, int error);

class FtpClient {
 public:
  enum class Phase : std::uint8_t {
    Stopped,           // not started yet
    Connecting,        // control TCP connect
    Greeting,          // waiting for 220
    AuthTls,           // AUTH TLS sent, waiting for 234
    ControlHandshake,  // TLS handshake on the control connection
    User,              // USER sent
    Pass,              // PASS sent
    Pbsz,              // PBSZ 0 sent
    Prot,              // PROT P|C sent
    Type,              // TYPE I sent
    LoggedIn,          // idle mode: holding the session
    Noop,              // idle mode: keepalive NOOP sent
    SizeBefore,        // append: SIZE sent to learn where the file ends
    Passive,           // PASV/EPSV sent
    DataConnecting,    // data TCP connect (or waiting for the last data connection to drain)
    Port,              // active: listening; PORT/EPRT sent
    Rest,              // REST sent
    Transfer,          // RETR/STOR/APPE/LIST/MLSD sent: 1xx, data, final reply
    Size,              // upload, append: SIZE sent
    Quit,              // QUIT sent
    Closing,           // both connections closing; waiting for the ring to drain
    RetryWait,         // after an error, a pause before the next session
    Done,              // nothing more to do in this run
  };

  // `control_file` and `data_file`: the channels' slots in the ring's file
  // table, or -1 for ordinary fds.
  FtpClient(LoopEnv& env, std::uint32_t slot, std::uint32_t index, int control_file, int data_file);
  FtpClient(const FtpClient&) = delete;
  FtpClient& operator=(const FtpClient&) = delete;

  // Starts the first session (the loop calls this under --ramp).
  void start() noexcept;
  void on_completion(std::uint8_t op, int res) noexcept;
  // The deadline passed: a timeout, or the end of a pause / keepalive period.
  void on_deadline() noexcept;
  // The run is over: cut whatever is in flight, start nothing new.
  void stop() noexcept;

  [[nodiscard]] Phase phase() const noexcept { return phase_; }
  [[nodiscard]] Clock::time_point deadline() const noexcept { return deadline_; }
  [[nodiscard]] std::uint32_t generation() const noexcept { return generation_; }

  static constexpr std::uint8_t kControl = 0;
  static constexpr std::uint8_t kData = 1;

 private:
  struct TransferState {
    std::uint64_t bytes = 0;
    int final_code = 0;
    bool got_mark = false;   // a 1xx reply came
    bool got_final = false;  // the 2xx/4xx/5xx reply came
    bool data_tls_started = false;
    bool data_done = false;           // the data connection ended (and is closing)
    bool upload_sent = false;         // all bytes queued, FIN requested
    std::uint64_t stream_offset = 0;  // upload, append: where in the upload stream the bytes start
    bool clean_end = false;           // clear FIN, or TLS close_notify
    Clock::duration latency{};        // PASV sent / listener opened .. complete (before SIZE)
    Sha256Hash hash;
  };

  // --- ftp_client.cpp: sessions
  void enter(Phase phase) noexcept;
  void begin_session() noexcept;
  void pump_control() noexcept;
  [[nodiscard]] bool drain_replies() noexcept;
  void on_reply(const Reply& reply) noexcept;
  void on_control_connected() noexcept;
  void on_control_handshake() noexcept;
  void on_control_eof() noexcept;
  void logged_in() noexcept;
  void setup_done() noexcept;
  void next_step() noexcept;
  void send_command(const char* verb, std::string_view argument, Phase next) noexcept;
  void quit() noexcept;
  void session_done() noexcept;
  void fail(const std::string& kind, int reply_code = 0) noexcept;
  void reply_error(const Reply& reply) noexcept;
  void end_session(bool retry) noexcept;
  void maybe_drained() noexcept;
  void settle_first_setup() noexcept;
  [[nodiscard]] std::string waiting_for() const;
  void trace(std::string_view what, std::string_view line) const;

  // --- transfer.cpp: transfers
  void start_transfer() noexcept;
  void on_size_before_reply(const Reply& reply) noexcept;
  void open_data_path() noexcept;
  void on_passive_reply(const Reply& reply) noexcept;
  void connect_data() noexcept;
  void listen_for_data() noexcept;
  void on_port_reply(const Reply& reply) noexcept;
  void on_data_connected() noexcept;
  void on_data_accepted() noexcept;
  void request_transfer() noexcept;
  void on_rest_reply(const Reply& reply) noexcept;
  void send_transfer_command() noexcept;
  void on_transfer_reply(const Reply& reply) noexcept;
  void start_data_tls() noexcept;
  void pump_data() noexcept;
  void on_data_handshake() noexcept;
  void on_data_end(bool clean) noexcept;
  void pump_upload() noexcept;
  void maybe_finish_transfer() noexcept;
  void on_size_reply(const Reply& reply) noexcept;
  void transfer_ok() noexcept;
  [[nodiscard]] bool protects_data() const noexcept;
  [[nodiscard]] bool is_active() const noexcept;
  [[nodiscard]] bool is_upload() const noexcept;  // upload or append: we send the data
  [[nodiscard]] bool sends_rest() const noexcept;
  [[nodiscard]] const char* transfer_verb() const noexcept;

  LoopEnv& env_;
  const std::uint32_t slot_;
  const std::uint32_t index_;  // across all threads: names uploads, picks --bind
  const int control_file_;
  const int data_file_;
  std::uint32_t generation_ = 0;
  Phase phase_ = Phase::Stopped;
  Clock::time_point deadline_ = Clock::time_point::max();
  Clock::time_point session_start_{};
  Clock::time_point transfer_start_{};

  Channel control_;
  Channel data_;
  ReplyReader replies_;
  const char* verb_ = "";  // of the command awaiting its reply (error kinds)
  std::string upload_name_;
  std::uint16_t data_port_ = 0;
  bool data_connect_pending_ = false;  // the previous data connection is still draining

  TransferState xfer_;
  MlsdReader mlsd_;  // mlsd: the current listing
  // append: the size of our file on the server, learnt by SIZE and then
  // followed; unknown again after any error.
  std::optional<std::uint64_t> append_size_;
  unsigned transfers_this_session_ = 0;
  bool in_transfer_ = false;
  bool setting_up_ = false;   // between connect and setup_done
  bool logged_in_ = false;    // counted in sessions_open
  bool first_setup_ = false;  // counted in env_.in_first_setup
  bool claimed_ = false;      // this session took a unit of --count
  bool retry_ = false;
};

}  // namespace ringftpd::ftpsload
