// TlsDownload: RETR and LIST/NLST/MLSD under PROT P (DESIGN.md §5).
//
// After the handshake (DataTlsLink), a file is read into two plaintext
// buffers in turn: when a read completes the next one is submitted at once,
// then the bytes are sealed into full 16 KiB records. Reading stops while a
// full chunk of sealed bytes waits behind the send in flight (backpressure).
// ASCII files are converted (LF -> CRLF) before sealing. A listing seals one
// DirectoryLister batch per completion (bounded work per loop turn; an empty
// batch gives the turn back with a NOP); a getdents64 failure ends it with
// LocalError (451). The end is our close_notify, sent, then Done.
//
// Owns the file fd (or the lister), the plaintext buffers and the TLS link;
// borrows the data socket. Contract of a transfer kind: data_transfer.hpp.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "server/data_tls_link.hpp"
#include "server/data_transfer.hpp"
#include "server/fs/directory_lister.hpp"

namespace ringftpd::server {

class TlsDownload {
 public:
  static constexpr std::size_t kReadBytes = 256 * 1024;  // one file read: 16 full records
  static constexpr std::size_t kListBatch = 256;         // entries per listing batch

  struct File {
    io::UniqueFd fd;
    std::uint64_t offset = 0;
    std::uint64_t remaining = 0;
    bool ascii = false;
  };
  struct Listing {
    fs::DirectoryLister lister;
    fs::ListFormat format;
  };

  TlsDownload(TransferEnv env, const io::UniqueFd& data, DataTlsLink::Setup tls, File file);
  TlsDownload(TransferEnv env, const io::UniqueFd& data, DataTlsLink::Setup tls, Listing listing);
  TlsDownload(const TlsDownload&) = delete;
  TlsDownload& operator=(const TlsDownload&) = delete;

  void begin();
  void on_completion(Op op, int res, std::uint32_t flags);
  void stop(ftp::TransferOutcome::Result r, int error);
  // The pace tick: bandwidth may be there again (TransferCore::allow).
  void resume() { step(); }
  void release_fds(FdsToClose& out);
  [[nodiscard]] std::size_t memory_bytes() const noexcept;
  [[nodiscard]] const TransferCore& core() const noexcept { return core_; }

 private:
  enum class Stage : std::uint8_t { Handshake, Moving, ClosingNotify };

  void step();
  void step_listing();
  void read_next();
  void on_read(int res);
  void close_notify();

  TransferCore core_;  // before link_: the link submits through it
  const io::UniqueFd& data_;
  DataTlsLink link_;
  Stage stage_ = Stage::Handshake;
  io::UniqueFd file_;
  std::optional<fs::DirectoryLister> lister_;
  fs::ListFormat format_ = fs::ListFormat::List;
  bool listing_done_ = false;
  bool yielding_ = false;  // listing: a NOP stands in for a send (empty batch)
  std::uint64_t offset_ = 0;
  std::uint64_t remaining_ = 0;  // file bytes not read yet
  bool ascii_ = false;
  std::array<std::vector<std::byte>, 2> plain_;  // filled by reads in turn
  unsigned fill_slot_ = 0;                       // the slot the next read fills
  bool read_in_flight_ = false;
  std::string text_;  // a converted ASCII chunk, or a listing batch
};

}  // namespace ringftpd::server
