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
// The data path (DESIGN.md §5; data_pump.cpp, data_tls.cpp) keeps several
// operations in flight per transfer, at most one of each kind, so a
// completion's Op says which one it is:
// - binary RETR in clear: splice file -> pipe -> socket, one SpliceIn filling
//   the pipe while one SpliceOut drains it; no byte enters user space.
// - binary STOR/APPE/STOU, clear or protected: a multishot receive into a
//   per-transfer provided-buffer ring; clear bytes are written to the file
//   straight from those buffers (one writev in flight), protected ones are
//   opened by TLS into two plaintext buffers, one filling while the other is
//   written.
// - protected RETR and listings: the file is read into two plaintext buffers
//   (the next read in flight while the last one is sealed), wolfSSL seals full
//   16 KiB records, and one send of all sealed bytes is in flight.
// ASCII transfers and clear listings go through one buffer owned here, one
// operation at a time. Uploads with atomic_uploads write a temporary file in
// the target's directory and rename it over the target only after a clean
// end, so a failed upload never damages the previous file.
//
// Every fd the channel opens is owned by it and closed through the ring; every
// buffer an operation uses is owned by it and kept until that operation has
// completed (a multishot receive's last CQE, a zero-copy send's notification).
// The channel reports Finished only after all of its operations have
// completed, and then frees the transfer's buffers, so an idle channel holds
// none.
#pragma once

#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/uio.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "io/buffer_ring.hpp"
#include "io/socket.hpp"
#include "server/fs/directory_lister.hpp"
#include "server/ftp/interpreter.hpp"
#include "server/log.hpp"
#include "server/ops.hpp"
#include "server/process/counters.hpp"
#include "server/received_queue.hpp"
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

// ENOSPC -> 452, EDQUOT/EFBIG -> 552, anything else -> 451.
[[nodiscard]] inline ftp::TransferOutcome::Result storage_result(int error) {
  return (error == ENOSPC || error == EDQUOT || error == EFBIG)
             ? ftp::TransferOutcome::Result::StorageFull
             : ftp::TransferOutcome::Result::LocalError;
}

// ASCII uploads (RFC 959 TYPE A): CRLF -> LF. A CR that ends a chunk waits,
// in cr_pending, for the next byte to tell whether it starts a CRLF.
void append_ascii_upload(std::string& out, std::string_view in, bool& cr_pending);

struct DataEvent {
  enum class Kind : std::uint8_t { None, Starting, Finished } kind = Kind::None;
  std::optional<std::uint64_t> size;  // Starting: the file size, for the 150
  ftp::TransferOutcome outcome{};     // Finished
};

class DataChannel {
 public:
  using Clock = std::chrono::steady_clock;

  // tls_context may be null (no PROT P possible).
  DataChannel(OpSubmitter& submit, const config::Config& cfg, PassivePorts& ports, Log& log,
              const std::string& who, const tls::ServerContext* tls_context)
      : submit_(submit),
        cfg_(cfg),
        ports_(ports),
        log_(log),
        who_(who),
        tls_context_(tls_context) {}

  // Frees the buffers of an unfinished transfer; the owner destroys a channel
  // only once none of its operations is in flight (OpSubmitter::in_flight).
  ~DataChannel() { release_transfer_buffers(); }
  DataChannel(const DataChannel&) = delete;
  DataChannel& operator=(const DataChannel&) = delete;

  // PASV/EPSV. Any previous data connection is dropped.
  [[nodiscard]] ftp::PassiveOutcome open_passive(const io::SocketAddress& control_local,
                                                 const io::SocketAddress& control_peer);
  // PORT/EPRT, already checked by the interpreter.
  void set_active(const io::SocketAddress& target);

  // Starts a transfer; root_fd must stay open until Finished.
  // expected: the TLS sessions a PROT P data connection may resume (those of
  // its control connection).
  // control_certificate: fingerprint of the control connection's verified
  // client certificate (empty if none); a data connection must not show another.
  // Refused (false, nothing submitted, no event) unless is_idle_for_transfer():
  // a transfer never starts on a channel whose previous transfer still has
  // operations or descriptors to drain. The caller answers 425 then.
  // (Not [[nodiscard]] yet only so that today's caller builds; it will be.)
  bool start(int root_fd, std::uint8_t permissions, const ftp::effect::Transfer& t,
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

  [[nodiscard]] bool is_transferring() const noexcept { return transfer_.has_value(); }
  // True from construction, and again once a transfer's Finished has been
  // returned (every operation it started has completed and each of its fds
  // was closed); false from start() until then. A passive listener or an
  // accepted data connection waiting for the next transfer does not count.
  [[nodiscard]] bool is_idle_for_transfer() const noexcept { return !transfer_.has_value(); }
  [[nodiscard]] bool is_idle() const noexcept { return pending_ == 0 && !has_open_fds(); }
  // The user-space buffers the channel holds now (transfer buffers, the
  // upload's provided-buffer ring, the listing's getdents buffer, TLS
  // ciphertext waiting to be sent); not the kernel's pipe or socket buffers.
  [[nodiscard]] std::size_t memory_bytes() const noexcept;
  // Drops the passive listener / accepted connection when no transfer uses them.
  void release_idle();

 private:
  enum class Stage : std::uint8_t { Idle, Opening, Waiting, Pumping, Finishing };
  static constexpr std::size_t kMaxWriteIov = 16;  // received buffers per writev

  [[nodiscard]] io_uring_sqe* sqe(Op op) {
    ++pending_;
    return submit_.sqe(op);
  }
  [[nodiscard]] bool has_open_fds() const noexcept;
  [[nodiscard]] bool is_upload() const noexcept;
  [[nodiscard]] bool is_listing() const noexcept;
  [[nodiscard]] bool is_binary() const noexcept;

  void arm_accept();
  void retire_listener();
  void on_accept(int res);
  void open_target();
  void on_file_opened(int res);
  void on_file_stat(int res);
  void connect_if_needed();
  void begin_pump();
  // One DirectoryLister batch; false when the listing failed (451).
  [[nodiscard]] bool fill_listing();
  void yield_turn();
  void convert_ascii_out(std::string_view in);
  void fail(ftp::TransferOutcome::Result r, int error);
  void finish_ok();
  void close_all();
  void close_fd(io::UniqueFd& fd, Op op);
  void close_idle_fds();
  void release_transfer_buffers();
  // Clear transfers (data_pump.cpp).
  void pump();
  void on_pump(Op op, int res, std::uint32_t flags);
  void splice_download();
  void on_splice_download(Op op, std::size_t n);
  void on_ascii_or_listing(Op op, std::size_t n);
  // Uploads through provided buffers, clear and protected (data_pump.cpp).
  [[nodiscard]] bool make_receive_buffers();
  void arm_multishot_receive();
  // false when the transfer failed.
  [[nodiscard]] bool on_multishot_receive(int res, std::uint32_t flags);
  void recycle_receive_buffer(std::uint16_t id);
  void write_received();
  void on_received_written(std::size_t n);
  void clear_upload_step();
  // PROT P (data_tls.cpp): the same transfers, sealed in TLS records.
  void tls_begin();
  void tls_step();
  void tls_download_step();
  void tls_read_next();
  void tls_upload_step();
  void on_tls_pump(Op op, int res, std::uint32_t flags);
  void on_tls_file_read(std::size_t n);
  void on_tls_handshake_bytes(std::size_t n);
  void tls_seal(std::string_view plaintext);
  void tls_flush();
  void tls_end_with_close_notify();
  [[nodiscard]] bool tls_open_records();
  void tls_write_plaintext();
  [[nodiscard]] bool tls_resumption_acceptable();

  OpSubmitter& submit_;
  const config::Config& cfg_;
  PassivePorts& ports_;
  Log& log_;
  const std::string& who_;
  const tls::ServerContext* tls_context_;
  WorkerCounters* counters_ = nullptr;

  Stage stage_ = Stage::Idle;
  unsigned pending_ = 0;  // operations in flight (a multishot one counts once)
  io::SocketAddress control_peer_;
  std::optional<io::SocketAddress> active_target_;
  io::UniqueFd listen_fd_;
  io::UniqueFd data_fd_;
  io::UniqueFd file_fd_;
  io::UniqueFd parent_fd_;
  io::UniqueFd pipe_read_;
  io::UniqueFd pipe_write_;
  // Listeners of earlier PASVs whose cancelled accept has not completed yet:
  // closed when the last of those accepts has.
  std::vector<io::UniqueFd> retiring_listeners_;
  unsigned retiring_accepts_ = 0;
  bool connecting_ = false;
  bool accept_armed_ = false;
  bool yielding_ = false;           // listings: a NOP stands in for a send (empty batch)
  std::uint16_t passive_port_ = 0;  // the current listener's port

  std::optional<ftp::effect::Transfer> transfer_;
  int root_fd_ = -1;
  std::uint8_t permissions_ = 0;
  std::string path_;       // kept alive for openat2 submissions
  std::string base_;       // upload target's name in parent_fd_
  std::string temp_name_;  // atomic upload's temporary name
  open_how how_{};
  struct statx stx_ {};
  std::uint64_t file_offset_ = 0;  // RETR: next byte to read; uploads: next to write
  std::uint64_t remaining_ = 0;    // RETR: bytes left to read from the file
  std::uint64_t bytes_ = 0;        // moved so far
  std::string buffer_;             // ASCII and listings: bytes to send / write
  std::size_t buffer_sent_ = 0;
  std::string read_buffer_;  // ASCII: raw file bytes / raw received bytes; TLS handshake
  bool eof_ = false;
  std::optional<fs::DirectoryLister> lister_;
  fs::ListFormat list_format_ = fs::ListFormat::List;
  std::optional<DataEvent> event_;
  ftp::TransferOutcome outcome_{};
  bool finishing_ok_ = false;
  Clock::time_point last_progress_{};

  // Binary RETR in clear: the pipe holds in_pipe_ bytes spliced in and not
  // yet out; at most one SpliceIn and one SpliceOut are in flight.
  std::size_t pipe_capacity_ = 0;
  std::size_t in_pipe_ = 0;
  bool splice_in_busy_ = false;
  bool splice_out_busy_ = false;

  // Uploads: the multishot receive's buffers, and those not used up yet.
  std::unique_ptr<io::BufferRing> receive_buffers_;
  ReceivedQueue received_;
  bool receive_armed_ = false;  // a receive (multishot or not) is in flight
  bool peer_fin_ = false;       // the client closed its side (TCP EOF)
  bool write_busy_ = false;     // a FileWrite is in flight
  std::array<iovec, kMaxWriteIov> write_iov_{};

  // PROT P: this transfer's TLS connection and its buffers.
  std::optional<tls::Session> tls_;
  tls::ExpectedOrigin expected_origin_;
  std::string control_certificate_;
  // Plaintext: RETR reads into them in turn; uploads open records into
  // plain_[fill_slot_] while the other one is being written.
  std::array<std::vector<std::byte>, 2> plain_;
  std::array<std::size_t, 2> plain_fill_{};  // uploads: bytes opened into each
  std::size_t plain_written_ = 0;            // uploads: of the slot being written
  unsigned fill_slot_ = 0;                   // RETR: the slot the next read fills
  bool read_busy_ = false;                   // a FileRead is in flight
  std::vector<std::byte> cipher_send_;       // the ciphertext of the send in flight
  std::size_t cipher_sent_ = 0;
  bool send_busy_ = false;
  bool tls_eof_ = false;      // uploads: the client's close_notify was opened
  bool tls_starved_ = false;  // uploads: TLS has opened all it was fed
  bool tls_shutdown_sent_ = false;
  bool ascii_cr_pending_ = false;  // ASCII upload: a CR ended the last chunk
};

}  // namespace ringftpd::server
