// ClearSpliceDownload: binary RETR under PROT C (DESIGN.md §5). The bytes go
// file -> pipe -> socket by splice and never enter user space: one SpliceIn
// (file -> pipe) and one SpliceOut (pipe -> socket) in flight at the same
// time. A SpliceOut takes at most half of the pipe, so while it drains one
// half a SpliceIn refills the other; bytes stay in order because there is
// only one of each. Splices run on the ring's io-wq threads and may block
// there (a full socket, a cold page), never on the loop.
//
// Owns the file fd and the pipe pair; borrows the data socket. Contract of a
// transfer kind: data_transfer.hpp.
#pragma once

#include <cstddef>
#include <cstdint>

#include "server/data_transfer.hpp"

namespace ringftpd::server {

class ClearSpliceDownload {
 public:
  // file: open for reading; `remaining` bytes are sent from `offset` on.
  ClearSpliceDownload(TransferEnv env, const io::UniqueFd& data, io::UniqueFd file,
                      std::uint64_t offset, std::uint64_t remaining);
  ClearSpliceDownload(const ClearSpliceDownload&) = delete;
  ClearSpliceDownload& operator=(const ClearSpliceDownload&) = delete;

  void begin();
  void on_completion(Op op, int res, std::uint32_t flags);
  void stop(ftp::TransferOutcome::Result r, int error);
  // The pace tick: bandwidth may be there again (TransferCore::allow).
  void resume() { step(); }
  void release_fds(FdsToClose& out);
  [[nodiscard]] std::size_t memory_bytes() const noexcept { return 0; }  // the pipe is the kernel's
  [[nodiscard]] const TransferCore& core() const noexcept { return core_; }

 private:
  void step();

  TransferCore core_;
  const io::UniqueFd& data_;
  io::UniqueFd file_;
  io::UniqueFd pipe_read_;
  io::UniqueFd pipe_write_;
  std::uint64_t offset_;     // next byte of the file to splice in
  std::uint64_t remaining_;  // bytes of the file not spliced in yet
  std::size_t pipe_capacity_ = 0;
  std::size_t in_pipe_ = 0;  // spliced in, not out yet
  // At most one of each in flight (the ordering rule above).
  bool splice_in_in_flight_ = false;
  bool splice_out_in_flight_ = false;
};

}  // namespace ringftpd::server
