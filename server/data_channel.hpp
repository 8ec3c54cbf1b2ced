// DataChannel: the data connection of one control session and the transfer
// that uses it (RFC 959 §3.2-3.4, RFC 2428, RFC 2577).
//
// Passive: open_passive() binds a listener on the control connection's local
// address with a port from the worker's range and arms an accept at once, so a
// client that connects before sending RETR (most do) is served; a connection
// from any host but the control peer is closed and the accept re-armed (port
// stealing). Active: the target was checked by the interpreter (the control
// peer, port >= 1024); the connect happens when the transfer starts.
//
// A transfer goes through named stages: Opening (openat2 of the file, or of
// an upload's directory then the file in it, and a statx), Connecting (until
// the data connection is there), Moving (the transfer kind moves the bytes)
// Finishing (everything in flight drains), Closing (an atomic upload is
// renamed over its target or its temporary file removed, every fd is
// closed), then Idle again. The kind is chosen once, at start(), and made when
// the bytes start to move, as one alternative of a std::variant
// (data_transfer.hpp):
// - ClearSpliceDownload: binary RETR in clear, splice file -> pipe -> socket;
// - ClearUpload: binary STOR/APPE/STOU in clear, received buffers written as
//   they are;
// - BufferedTransfer: ASCII RETR/uploads and listings in clear;
// - TlsDownload: RETR and listings under PROT P;
// - TlsUpload: uploads under PROT P.
// Uploads with atomic_uploads write a temporary file in the target's
// directory and rename it over the target only after a clean end, so a failed
// upload never damages the previous file.
//
// Ownership: the channel owns the listener, the data socket, the upload's
// directory and (until its transfer takes it) the opened file; the transfer
// owns its file, pipe and buffers. Every fd is an io::UniqueFd closed through
// the ring (OpSubmitter::close), and only once no operation that names it is
// in flight: operations are cancelled first, the close follows the last
// completion. The root fd passed to start() is the caller's and must stay open
// until Finished. The channel reports Finished only after all of its
// operations have completed and its fds are closed, and then holds no
// transfer buffers.
//
// For the control session: start() a transfer only when
// is_idle_for_transfer(); on a busy channel start() refuses (returns false,
// submits nothing, reports no event) and the caller answers 425. After
// abort(), the channel stays busy until Finished (outcome Aborted) has been
// returned by on_completion()/next_event().
#pragma once

#include <linux/openat2.h>
#include <sys/stat.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "config/config.hpp"
#include "io/socket.hpp"
#include "server/data_buffered_transfer.hpp"
#include "server/data_clear_upload.hpp"
#include "server/data_splice_download.hpp"
#include "server/data_tls_download.hpp"
#include "server/data_tls_upload.hpp"
#include "server/data_transfer.hpp"
#include "server/fs/directory_lister.hpp"
#include "server/ftp/interpreter.hpp"
#include "server/log.hpp"
#include "server/ops.hpp"
#include "server/pacer.hpp"
#include "server/process/counters.hpp"
#include "server/proxy_v2_reader.hpp"
#include "server/throttle.hpp"
#include "tls/context.hpp"
#include "tls/session.hpp"

namespace ringftpd::server {

// The passive ports of one worker; hands them out round-robin.
class PassivePorts {
 public:
  explicit PassivePorts(config::PortRange range) : range_(range), next_(range.first) {}
  [[nodiscard]] std::uint16_t next() noexcept {
    const std::uint16_t p = next_;
    next_ = next_ >= range_.last ? range_.first : static_cast<std::uint16_t>(next_ + 1);
    return p;
  }
  [[nodiscard]] std::uint32_t size() const noexcept { return range_.size(); }

 private:
  config::PortRange range_;
  std::uint16_t next_;
};

struct DataEvent {
  enum class Kind : std::uint8_t { None, Starting, Finished } kind = Kind::None;
  std::optional<std::uint64_t> size;  // Starting: the file size, for the 150
  ftp::TransferOutcome outcome{};     // Finished
};

class DataChannel {
 public:
  using Clock = std::chrono::steady_clock;

  // tls_context may be null (no PROT P possible). pacer wakes transfers
  // that wait for bandwidth; without one, limits.bandwidth_bytes_per_second
  // is not applied (unit tests of other things).
  DataChannel(OpSubmitter& submit, const config::Config& cfg, PassivePorts& ports, Log& log,
              const std::string& who, const tls::ServerContext* tls_context, Pacer* pacer = nullptr)
      : submit_(submit),
        cfg_(cfg),
        ports_(ports),
        log_(log),
        who_(who),
        tls_context_(tls_context),
        throttle_(cfg.limits.bandwidth_bytes_per_second, pacer, submit.tag()) {}

  // The owner destroys a channel only once none of its operations is in
  // flight (OpSubmitter::in_flight); the buffers go with it.
  ~DataChannel() = default;
  DataChannel(const DataChannel&) = delete;
  DataChannel& operator=(const DataChannel&) = delete;

  // The session's bandwidth limits (the shared buckets are attached here).
  [[nodiscard]] Throttle& throttle() noexcept { return throttle_; }

  // PASV/EPSV. Any previous data connection is dropped.
  [[nodiscard]] ftp::PassiveOutcome open_passive(const io::SocketAddress& control_local,
                                                 const io::SocketAddress& control_peer);
  // PORT/EPRT, already checked by the interpreter.
  void set_active(const io::SocketAddress& target);

  // Starts a transfer; root_fd must stay open until Finished.
  // expected: the TLS sessions a PROT P data connection may resume (those of
  // its control connection).
  // control_certificate: fingerprint of the control connection's verified
  // client certificate (empty if none); a data connection must not show
  // another. Refused (false, nothing submitted, no event) unless
  // is_idle_for_transfer(); the control session answers 425 then.
  [[nodiscard]] bool start(int root_fd, std::uint8_t permissions, const ftp::effect::Transfer& t,
                           tls::ExpectedOrigin expected, std::string control_certificate);
  // ABOR, or the session is closing: stop, close everything, report Aborted.
  void abort();

  // Where data-connection handshakes and refusals are counted (the worker's
  // shared block); none until set.
  void count_into(WorkerCounters& counters) noexcept { counters_ = &counters; }

  [[nodiscard]] DataEvent on_completion(Op op, int res, std::uint32_t flags);
  // A further event that is ready without new I/O (None when there is none).
  [[nodiscard]] DataEvent next_event();
  // Once a second: ends a stalled transfer.
  [[nodiscard]] DataEvent on_tick(Clock::time_point now);
  // The pace tick this channel's transfer waited for (Pacer): it resumes.
  [[nodiscard]] DataEvent on_pace();

  [[nodiscard]] bool is_transferring() const noexcept { return stage_ != Stage::Idle; }
  // True from construction, and again once a transfer's Finished has been
  // returned (every operation it started has completed and each of its fds
  // was closed); false from start() until then. A passive listener or an
  // accepted data connection waiting for the next transfer does not count.
  [[nodiscard]] bool is_idle_for_transfer() const noexcept { return stage_ == Stage::Idle; }
  // Nothing in flight, no fd open (no listener either).
  [[nodiscard]] bool is_idle() const noexcept {
    return pending_ == 0 && !accept_armed_ && !retiring_accept_ && !has_open_fds();
  }
  // Drops the passive listener / accepted connection when no transfer uses
  // them.
  void release_idle();
  // The user-space buffers the channel holds now (the transfer's buffers, an
  // upload's provided-buffer ring, a listing's getdents buffer, TLS
  // ciphertext waiting to be sent); not the kernel's pipe or socket buffers.
  [[nodiscard]] std::size_t memory_bytes() const noexcept;

 private:
  // Finishing: the transfer drains; Closing: rename/unlink and closes drain.
  enum class Stage : std::uint8_t { Idle, Opening, Connecting, Moving, Finishing, Closing };
  enum class Kind : std::uint8_t {
    ClearSpliceDownload,
    ClearUpload,
    Buffered,
    TlsDownload,
    TlsUpload
  };
  using Transfer = std::variant<std::monostate, ClearSpliceDownload, ClearUpload, BufferedTransfer,
                                TlsDownload, TlsUpload>;

  [[nodiscard]] io_uring_sqe* sqe(Op op) {
    ++pending_;
    return submit_.sqe(op);
  }
  [[nodiscard]] bool has_open_fds() const noexcept;
  [[nodiscard]] bool has_transfer_fds() const noexcept;
  [[nodiscard]] bool is_upload() const noexcept;
  [[nodiscard]] bool is_listing() const noexcept;
  [[nodiscard]] const TransferCore* core() const noexcept;

  void arm_accept();
  void retire_listener();
  void on_accept(int res);
  // passive.proxy: the accepted connection's v2 header, read before the
  // connection is taken (the accept is in flight until it is in).
  void arm_header_recv();
  void on_header_recv(int res);
  // A connection the listener took from `peer` (the socket's, or the one its
  // PROXY header declares): checked against the control peer, then used.
  void take_connection(io::UniqueFd conn, const io::SocketAddress& peer);
  // A connection refused before use: closed, and the listener accepts again
  // while a transfer may still want it.
  void refuse_connection(io::UniqueFd& conn);
  void open_target();
  void on_file_opened(int res);
  void on_file_stat(int res);
  void await_connection();
  void begin_transfer();
  void fail(ftp::TransferOutcome::Result r, int error);
  void advance_finishing();
  void retire_transfer();
  void close_fd(io::UniqueFd& fd, Op op);

  OpSubmitter& submit_;
  const config::Config& cfg_;
  PassivePorts& ports_;
  Log& log_;
  const std::string& who_;
  const tls::ServerContext* tls_context_;
  WorkerCounters* counters_ = nullptr;
  Throttle throttle_;  // the session's bandwidth, across its transfers

  Stage stage_ = Stage::Idle;
  unsigned pending_ = 0;  // the channel's own operations in flight, but accepts
  io::SocketAddress control_peer_;
  std::optional<io::SocketAddress> active_target_;
  io::UniqueFd listen_fd_;
  io::UniqueFd data_fd_;
  io::UniqueFd next_data_fd_;  // accepted while a transfer finishes, for the next one
  // The listener of an earlier PASV whose cancelled accept has not completed
  // yet: closed when it has. Until then the current listener's accept waits,
  // so at most one accept is in flight and each completion has one owner.
  io::UniqueFd retiring_listener_;
  bool retiring_accept_ = false;
  // An accept, or the PROXY header read that completes it, is in flight.
  bool accept_armed_ = false;
  // passive.proxy: the connection whose header is being read, its socket
  // peer (the balancer) and the reader (allocated per connection).
  io::UniqueFd header_conn_;
  io::SocketAddress header_peer_;
  std::unique_ptr<ProxyV2Reader> header_;
  bool connect_in_flight_ = false;

  // The transfer asked for, from start() to Finished.
  std::optional<ftp::effect::Transfer> request_;
  Kind kind_ = Kind::Buffered;
  int root_fd_ = -1;  // the caller's
  std::uint8_t permissions_ = 0;
  tls::ExpectedOrigin expected_origin_;
  std::string control_certificate_;
  // Opening: what is opened, and kept alive for the submissions naming it.
  std::string path_;
  std::string base_;       // upload target's name in parent_fd_
  std::string temp_name_;  // atomic upload's temporary name
  open_how how_{};
  struct statx stx_ {};
  io::UniqueFd parent_fd_;                     // uploads: the target's directory (O_PATH)
  io::UniqueFd file_fd_;                       // until the transfer takes it
  std::optional<fs::DirectoryLister> lister_;  // listings, until the transfer takes it
  std::uint64_t offset_ = 0;                   // RETR: first byte; uploads: first to write
  std::uint64_t remaining_ = 0;                // RETR: bytes to send

  Transfer transfer_;
  Clock::time_point started_{};  // for a stall before any byte moved
  std::optional<DataEvent> event_;
  ftp::TransferOutcome outcome_{};
};

}  // namespace ringftpd::server
