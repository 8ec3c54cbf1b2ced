// ClearUpload: binary STOR/APPE/STOU under PROT C (DESIGN.md §5). The
// UploadReceiver's multishot receive fills provided buffers; one writev at a
// time writes every received buffer, in order, straight from those buffers at
// the file offset; a buffer goes back to the kernel once written. The client's
// FIN ends the upload once everything received is written.
//
// Owns the file fd and the receive buffers; borrows the data socket. Contract
// of a transfer kind: data_transfer.hpp.
#pragma once

#include <sys/uio.h>

#include <array>
#include <cstddef>
#include <cstdint>

#include "server/data_transfer.hpp"
#include "server/data_upload_receiver.hpp"

namespace ringftpd::server {

class ClearUpload {
 public:
  static constexpr std::size_t kMaxWriteIov = 16;  // received buffers per writev

  // file: open for writing; writes start at `offset` (APPE: the old size).
  ClearUpload(TransferEnv env, const io::UniqueFd& data, io::UniqueFd file, std::uint64_t offset);
  ClearUpload(const ClearUpload&) = delete;
  ClearUpload& operator=(const ClearUpload&) = delete;

  void begin();
  void on_completion(Op op, int res, std::uint32_t flags);
  void stop(ftp::TransferOutcome::Result r, int error);
  // The pace tick: bandwidth may be there again (TransferCore::allow).
  void resume() { step(); }
  void release_fds(FdsToClose& out);
  [[nodiscard]] std::size_t memory_bytes() const noexcept { return receiver_.memory_bytes(); }
  [[nodiscard]] const TransferCore& core() const noexcept { return core_; }

 private:
  void step();
  void on_receive(int res, std::uint32_t flags);
  void on_written(int res);

  TransferCore core_;
  const io::UniqueFd& data_;
  io::UniqueFd file_;
  std::uint64_t offset_;  // next byte of the file to write
  UploadReceiver receiver_;
  bool write_in_flight_ = false;  // one writev at a time keeps the bytes in order
  std::array<iovec, kMaxWriteIov> iov_{};
};

}  // namespace ringftpd::server
