// BufferedTransfer: the transfers that pass through one buffer here, one
// operation at a time (DESIGN.md §5): ASCII RETR (read, LF -> CRLF, send),
// ASCII STOR/APPE/STOU (receive, CRLF -> LF, write) and LIST/NLST/MLSD in
// clear (a DirectoryLister batch, send).
//
// A listing does bounded work per loop turn: one batch of at most kListBatch
// entries per completion. A batch of entries that are all skipped (vanished,
// unlistable names) has nothing to send; a NOP then stands in for the send so
// the next batch comes on the next turn. A listing whose getdents64 fails ends
// with LocalError (451), never Done.
//
// Owns the file fd (or the lister and its directory fd) and the buffers;
// borrows the data socket. Contract of a transfer kind: data_transfer.hpp.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "server/data_transfer.hpp"
#include "server/fs/directory_lister.hpp"

namespace ringftpd::server {

class BufferedTransfer {
 public:
  static constexpr std::size_t kChunkBytes = 1 << 16;  // one read, receive or send
  static constexpr std::size_t kListBatch = 256;       // entries per listing batch

  struct AsciiDownload {
    io::UniqueFd file;
    std::uint64_t offset = 0;
    std::uint64_t remaining = 0;
  };
  struct AsciiUpload {
    io::UniqueFd file;
    std::uint64_t offset = 0;  // writes go to explicit offsets (APPE: the old size)
  };
  struct Listing {
    fs::DirectoryLister lister;
    fs::ListFormat format;
  };

  BufferedTransfer(TransferEnv env, const io::UniqueFd& data, AsciiDownload source);
  BufferedTransfer(TransferEnv env, const io::UniqueFd& data, AsciiUpload target);
  BufferedTransfer(TransferEnv env, const io::UniqueFd& data, Listing listing);
  BufferedTransfer(const BufferedTransfer&) = delete;
  BufferedTransfer& operator=(const BufferedTransfer&) = delete;

  void begin() { step(); }
  void on_completion(Op op, int res, std::uint32_t flags);
  void stop(ftp::TransferOutcome::Result r, int error);
  // The pace tick: bandwidth may be there again (TransferCore::allow).
  void resume() { step(); }
  void release_fds(FdsToClose& out);
  [[nodiscard]] std::size_t memory_bytes() const noexcept;
  [[nodiscard]] const TransferCore& core() const noexcept { return core_; }

 private:
  enum class Mode : std::uint8_t { AsciiDownload, AsciiUpload, Listing };
  // The one operation in flight (Idle: none).
  enum class Stage : std::uint8_t { Idle, Reading, Sending, Receiving, Writing, Yielding };

  void step();
  void step_listing();
  void submit(Stage s);
  void on_done(std::size_t n);

  TransferCore core_;
  const io::UniqueFd& data_;
  Mode mode_;
  Stage stage_ = Stage::Idle;
  io::UniqueFd file_;
  std::optional<fs::DirectoryLister> lister_;
  fs::ListFormat format_ = fs::ListFormat::List;
  std::uint64_t offset_ = 0;
  std::uint64_t remaining_ = 0;  // ASCII RETR: file bytes not read yet
  bool source_done_ = false;     // the file, the client's data or the listing is exhausted
  bool cr_pending_ = false;      // ASCII upload: a CR ended the last chunk
  std::string out_;              // bytes to send or to write
  std::size_t out_done_ = 0;     // of out_, sent or written
  std::string in_;               // raw bytes read from the file or received
};

}  // namespace ringftpd::server
