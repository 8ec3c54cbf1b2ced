// io::Ring: one io_uring instance, owned by one thread of one process.
//
// Created after fork, never inherited (a ring shared across fork is shared
// kernel state). The constructor probes every operation the server relies on
// and throws std::system_error naming the first one this kernel lacks, so a
// worker fails at start-up rather than mid-transfer.
//
// sqe() never returns null: when the submission queue is full it submits what
// is queued and tries again. Completions are consumed in batches by
// for_each_completion(); a handler must not keep the io_uring_cqe pointer.
#pragma once

#include <liburing.h>

#include <bitset>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "io/submission_queue.hpp"

namespace ringftpd::io {

class Ring final : public SubmissionQueue {
 public:
  explicit Ring(unsigned entries);
  ~Ring() override;
  Ring(const Ring&) = delete;
  Ring& operator=(const Ring&) = delete;

  // A zeroed SQE with user_data set; submits and retries when the SQ is full.
  [[nodiscard]] io_uring_sqe* sqe(std::uint64_t user_data) override;
  [[nodiscard]] int register_buffer_ring(const io_uring_buf_reg& reg) noexcept override;
  void unregister_buffer_ring(std::uint16_t group_id) noexcept override;

  // Submits queued SQEs and waits for at least one completion or the timeout
  // (milliseconds; negative = no timeout). Returns 0 or a negative errno;
  // -ETIME and -EINTR are normal.
  int submit_and_wait(int timeout_ms);

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
  io_uring ring_{};
  unsigned features_ = 0;
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
