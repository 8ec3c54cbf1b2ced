// io::Ring: one io_uring instance, owned by one thread of one process.
//
// Created after fork, never inherited (a ring shared across fork is shared
// kernel state). The constructor probes every operation the server relies on
// and throws std::system_error naming the first one this kernel lacks, so a
// worker fails at start-up rather than mid-transfer.
//
// sqe() never returns null and never enters the kernel. Completions are
// consumed in batches by for_each_completion(); a handler must not keep the
// io_uring_cqe pointer.
//
// Submission failures (the design): sqe() is called from completion handlers,
// in the middle of a batch of CQEs, so it must neither fail nor reap. When the
// kernel's submission queue is full, sqe() hands out a slot of a bounded
// pending list owned by the ring (kMaxPendingSqes entries); submit_and_wait()
// moves the pending entries into the queue in order, submitting as it goes,
// and never splits a link chain (IOSQE_IO_LINK / IOSQE_IO_HARDLINK) across two
// submissions, so a linked close can never overtake its cancel. Then:
//   -EINTR                from io_uring_enter: retried (kSubmitAttempts times);
//   -EAGAIN, -EBUSY       (no memory for requests; completions overflowing,
//                         which IORING_FEAT_NODROP keeps in the kernel): the
//                         call returns 0 without waiting so the loop reaps,
//                         which flushes the overflow; the unsubmitted entries
//                         stay queued for the next call. After kMaxStalls such
//                         calls in a row the ring is broken;
//   a full pending list, or any other error (-EBADR: the kernel dropped
//                         completions; -EBADF, -EFAULT, ...): the ring is
//                         broken. fatal_error() says why, and every later
//                         submit_and_wait() returns it. A broken ring's owner
//                         must stop (a worker exits non-zero with a log line;
//                         the master starts a replacement): sessions would
//                         otherwise wait forever for completions that a lost
//                         submission will never produce.
//
// Restricted rings: a ring made with RingRestrictions starts disabled
// (IORING_SETUP_R_DISABLED), registers IORING_REGISTER_RESTRICTIONS, then
// enables itself. From then on an SQE whose opcode or flags are not allowed
// completes with -EACCES, and io_uring_register(2) refuses (-EACCES) every
// opcode that is not allowed. io_uring operations bypass seccomp; this is
// what limits them.
#pragma once

#include <liburing.h>

#include <bitset>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "io/submission_queue.hpp"

namespace ringftpd::io {

// What a restricted ring may do; everything else fails with -EACCES.
struct RingRestrictions {
  std::vector<std::uint8_t> sqe_ops;       // IORING_OP_*
  std::vector<std::uint8_t> register_ops;  // IORING_REGISTER_* (after start-up)
  std::uint8_t sqe_flags = 0;              // IOSQE_* bits an SQE may carry
};

class Ring final : public SubmissionQueue {
 public:
  // Without restrictions: unrestricted (tools/ftpsload, tests). With them:
  // restricted before the first submission. Throws std::system_error naming
  // what the kernel lacks or refuses.
  explicit Ring(unsigned entries,
                const std::optional<RingRestrictions>& restrictions = std::nullopt);
  ~Ring() override;
  Ring(const Ring&) = delete;
  Ring& operator=(const Ring&) = delete;

  // A zeroed SQE with user_data set: a slot of the kernel's queue, or of the
  // pending list when that is full (see above). Never null.
  [[nodiscard]] io_uring_sqe* sqe(std::uint64_t user_data) override;
  [[nodiscard]] int register_buffer_ring(const io_uring_buf_reg& reg) noexcept override;
  void unregister_buffer_ring(std::uint16_t group_id) noexcept override;

  // Submits queued SQEs and waits for at least one completion or the timeout
  // (milliseconds; negative = no timeout). Returns 0, -ETIME or -EINTR
  // (normal: reap, then call again), or fatal_error() once the ring is
  // broken. 0 may also mean "could not submit yet, reap first" (see above).
  int submit_and_wait(int timeout_ms);

  // 0, or the negative errno that broke the ring (see above). Sticky.
  [[nodiscard]] int fatal_error() const noexcept { return fatal_; }
  // SQEs handed out but not yet in the kernel's queue.
  [[nodiscard]] std::size_t pending() const noexcept { return pending_.size(); }
  [[nodiscard]] bool is_restricted() const noexcept { return restricted_; }

  // Bounds on the failure handling (see above).
  static constexpr std::size_t kMaxPendingSqes = 65536;  // 4 MiB of SQEs
  static constexpr int kSubmitAttempts = 8;              // per -EINTR
  static constexpr int kMaxStalls = 1000;                // -EAGAIN/-EBUSY in a row

  // Calls handler(user_data, res, flags) for every ready completion and marks
  // them seen. Returns how many were handled.
  template <class Handler>
  unsigned for_each_completion(Handler&& handler) {
    io_uring_cqe* cqes[kBatch];
    unsigned total = 0;
    for (;;) {
      const unsigned n = io_uring_peek_batch_cqe(&ring_, cqes, kBatch);
      if (n == 0) return total;
      for (unsigned i = 0; i < n; ++i) {
        // Copy out before advancing: the CQE slot is reused afterwards.
        const std::uint64_t data = cqes[i]->user_data;
        const int res = cqes[i]->res;
        const std::uint32_t flags = cqes[i]->flags;
        handler(data, res, flags);
      }
      io_uring_cq_advance(&ring_, n);
      total += n;
    }
  }

  [[nodiscard]] io_uring* raw() noexcept { return &ring_; }
  [[nodiscard]] unsigned features() const noexcept { return features_; }

  // Group ids for provided-buffer rings made while the loop runs (one per
  // upload, io::BufferRing::make): handed out from kFirstDynamicBufferGroup
  // up, so they never meet the fixed ids picked below it at start-up. A group
  // id names a buffer ring of this ring only. nullopt when all are taken.
  static constexpr std::uint16_t kFirstDynamicBufferGroup = 256;
  [[nodiscard]] std::optional<std::uint16_t> acquire_buffer_group() noexcept override;
  // After the buffer ring of that group is gone (unregistered).
  void release_buffer_group(std::uint16_t id) noexcept override;

 private:
  static constexpr unsigned kBatch = 64;
  void restrict(const RingRestrictions& restrictions);
  io_uring_sqe* pending_sqe() noexcept;
  void keep_link_chain_whole() noexcept;
  [[nodiscard]] int flush_pending() noexcept;
  [[nodiscard]] int submit_queued() noexcept;
  [[nodiscard]] int on_submit_error(int rc) noexcept;
  [[nodiscard]] int fail(int rc) noexcept;

  io_uring ring_{};
  unsigned features_ = 0;
  bool restricted_ = false;
  int fatal_ = 0;
  int stalls_ = 0;
  // std::deque: handed-out slots keep their address while more are added.
  std::deque<io_uring_sqe> pending_;
  io_uring_sqe discard_{};  // handed out once the ring is broken; never submitted
  std::bitset<65536> buffer_groups_in_use_;
  std::uint32_t next_buffer_group_ = kFirstDynamicBufferGroup;
};

// Operations the server needs from the kernel; checked by the Ring
// constructor. Exposed for --version and tests.
struct RequiredOp {
  int opcode;
  const char* name;
};
[[nodiscard]] std::span<const RequiredOp> required_ops();

// Names of required operations this kernel lacks (empty = all present).
[[nodiscard]] std::vector<std::string> missing_ops(io_uring* ring);

}  // namespace ringftpd::io
