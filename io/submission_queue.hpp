// io::SubmissionQueue: the one door through which sessions put operations on
// a ring. The worker's io::Ring is the production implementation; the
// deterministic simulation (tests/sim) is the other one, which executes the
// same SQEs against a simulated kernel in an order chosen by a seed.
//
// Contract (both implementations):
// - sqe() returns a zeroed SQE whose user_data is set; it is never null. The
//   caller fills it in with io_uring_prep_* before its next call into the
//   queue. Completions come back through the owner's loop as
//   (user_data, res, flags), never through this interface.
// - Provided-buffer rings (io::BufferRing) register their memory here; the
//   memory must stay valid until unregister_buffer_ring() has returned.
#pragma once

#include <liburing.h>

#include <cstdint>
#include <optional>

namespace ringftpd::io {

class SubmissionQueue {
 public:
  virtual ~SubmissionQueue() = default;

  [[nodiscard]] virtual io_uring_sqe* sqe(std::uint64_t user_data) = 0;

  // IORING_REGISTER_PBUF_RING / its removal. 0 or a negative errno.
  [[nodiscard]] virtual int register_buffer_ring(const io_uring_buf_reg& reg) noexcept = 0;
  virtual void unregister_buffer_ring(std::uint16_t group_id) noexcept = 0;

  // Group ids for provided-buffer rings made while the loop runs (one per
  // upload); nullopt when all are taken.
  [[nodiscard]] virtual std::optional<std::uint16_t> acquire_buffer_group() noexcept = 0;
  // After the buffer ring of that group is gone (unregistered).
  virtual void release_buffer_group(std::uint16_t id) noexcept = 0;

 protected:
  SubmissionQueue() = default;
  SubmissionQueue(const SubmissionQueue&) = default;
  SubmissionQueue& operator=(const SubmissionQueue&) = default;
};

}  // namespace ringftpd::io
