// TlsUpload: STOR/APPE/STOU under PROT P (DESIGN.md §5).
//
// After the handshake (DataTlsLink), the UploadReceiver's multishot receive
// fills provided buffers; each is fed to TLS and given back to the kernel at
// once; records are opened straight into the plaintext buffer being filled
// while the other one is written to the file. A buffer is fed only when
// everything fed before has been opened and there is room for it, so a slow
// disk holds buffers back and the receive stops (-ENOBUFS) rather than TLS
// growing without bound. ASCII uploads are converted (CRLF -> LF) as they are
// opened.
//
// Only the client's close_notify ends an upload cleanly: we answer with ours
// (stage AnsweringCloseNotify), and the upload is Done once that is sent. A
// bare FIN is a truncation: ConnectionLost (426), never Done (DESIGN.md §4).
//
// Owns the file fd, the receive and plaintext buffers and the TLS link;
// borrows the data socket. Contract of a transfer kind: data_transfer.hpp.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "server/data_tls_link.hpp"
#include "server/data_transfer.hpp"
#include "server/data_upload_receiver.hpp"

namespace ringftpd::server {

class TlsUpload {
 public:
  static constexpr std::size_t kPlainBytes = 256 * 1024;  // opened bytes per file write
  static constexpr std::size_t kAsciiChunk = 16 * 1024;   // ASCII: opened per conversion

  // file: open for writing; writes start at `offset` (APPE: the old size).
  TlsUpload(TransferEnv env, const io::UniqueFd& data, DataTlsLink::Setup tls, io::UniqueFd file,
            std::uint64_t offset, bool ascii);
  TlsUpload(const TlsUpload&) = delete;
  TlsUpload& operator=(const TlsUpload&) = delete;

  void begin();
  void on_completion(Op op, int res, std::uint32_t flags);
  void stop(ftp::TransferOutcome::Result r, int error);
  // The pace tick: bandwidth may be there again (TransferCore::allow).
  void resume() { step(); }
  void release_fds(FdsToClose& out);
  [[nodiscard]] std::size_t memory_bytes() const noexcept;
  [[nodiscard]] const TransferCore& core() const noexcept { return core_; }

 private:
  enum class Stage : std::uint8_t { Handshake, Moving, AnsweringCloseNotify };

  void step();
  // false when the transfer failed.
  [[nodiscard]] bool open_records();
  void write_plaintext();
  void on_receive(int res, std::uint32_t flags);
  void on_written(int res);

  TransferCore core_;  // before link_: the link submits through it
  const io::UniqueFd& data_;
  DataTlsLink link_;
  UploadReceiver receiver_;
  Stage stage_ = Stage::Handshake;
  io::UniqueFd file_;
  std::uint64_t offset_;  // next byte of the file to write
  bool ascii_;
  // Records are opened into plain_[fill_slot_] while the other one is written.
  std::array<std::vector<std::byte>, 2> plain_;
  std::array<std::size_t, 2> plain_fill_{};  // bytes opened into each
  std::size_t plain_written_ = 0;            // of the slot being written
  unsigned fill_slot_ = 0;
  bool write_in_flight_ = false;
  bool client_closed_ = false;  // the client's close_notify was opened
  bool tls_starved_ = false;    // TLS has opened all it was fed
  bool cr_pending_ = false;     // ASCII: a CR ended the last chunk
  std::string ascii_out_;
};

}  // namespace ringftpd::server
