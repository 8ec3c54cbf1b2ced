// The operations a worker puts on its ring; the `op` byte of an io::OpTag.
#pragma once

#include <cstdint>

#include "io/op_tag.hpp"
#include "io/submission_queue.hpp"
#include "io/unique_fd.hpp"

namespace ringftpd::server {

enum class Op : std::uint8_t {
  // Worker-level (slot = kWorkerSlot).
  Accept = 1,  // multishot accept on listener `generation` (index)
  Signal,      // read of the signalfd
  Tick,        // the once-a-second timer that enforces timeouts
  AuthRecv,    // replies from the auth service
  AuthSend,    // a request to the auth service (slot = the asking session)
  Pace,        // the 100 ms timer that wakes transfers waiting for bandwidth
  ProxyRecv,   // a PROXY listener's connection: its header (generation = ProxyIntake's index)
  Lookup,      // the 250 µs timer of sessions waiting for a second-level (Redis) session lookup
  // Control connection.
  ControlRecv = 16,
  ControlSend,
  ControlClose,
  RootOpen,
  RootClose,
  // Filesystem effects (FsJob).
  FsOpen = 32,
  FsAct,
  FsClose,
  // Data connections and transfers (DataChannel).
  DataAccept = 48,
  DataConnect,
  DataSend,
  DataRecv,
  DataClose,
  ListenClose,
  FileOpen,
  FileRead,
  FileWrite,
  FileClose,
  SpliceIn,   // file -> pipe, or socket -> pipe
  SpliceOut,  // pipe -> socket, or pipe -> file
  PipeClose,
  FileRename,
  FileUnlink,
  FileStat,
  DataProxyRecv,  // a passive connection through the balancer: its PROXY v2 header
};

inline constexpr std::uint32_t kWorkerSlot = 0xFFFFFFFF;

// A session's door to the ring: every submission is tagged with the session's
// slot and generation and counted, so the session knows when nothing of its
// own is left in flight and its memory may be freed.
class OpSubmitter {
 public:
  OpSubmitter(io::SubmissionQueue& ring, io::OpTag base) : ring_(ring), base_(base) {}

  [[nodiscard]] io_uring_sqe* sqe(Op op) {
    io::OpTag t = base_;
    t.op = static_cast<std::uint8_t>(op);
    ++in_flight_;
    return ring_.sqe(t.pack());
  }
  // Closes an fd through the ring, taking ownership: the one way a session
  // lets go of a descriptor. The caller must know that no operation naming
  // the fd is still in flight (the kernel would otherwise hold a reference,
  // and the number could be reused under it). The completion comes back as
  // `op`; an empty fd submits nothing and returns false.
  bool close(io::UniqueFd fd, Op op) {
    if (!fd) return false;
    io_uring_prep_close(sqe(op), fd.release());
    return true;
  }
  // The user_data this session's submissions of `op` carry (to cancel one).
  [[nodiscard]] std::uint64_t user_data(Op op) const noexcept {
    io::OpTag t = base_;
    t.op = static_cast<std::uint8_t>(op);
    return t.pack();
  }
  // A submission whose completion nobody waits for (cancels).
  [[nodiscard]] io_uring_sqe* untracked_sqe() { return ring_.sqe(io::kIgnoredTag); }
  // Call for every completion, with the CQE's flags.
  void completed(std::uint32_t cqe_flags) {
    if (!(cqe_flags & IORING_CQE_F_MORE)) --in_flight_;
  }
  [[nodiscard]] unsigned in_flight() const noexcept { return in_flight_; }
  [[nodiscard]] io::SubmissionQueue& ring() noexcept { return ring_; }
  // The session's tag (op 0): how the worker finds it again (Pacer).
  [[nodiscard]] io::OpTag tag() const noexcept { return base_; }

 private:
  io::SubmissionQueue& ring_;
  io::OpTag base_;
  unsigned in_flight_ = 0;
};

}  // namespace ringftpd::server
