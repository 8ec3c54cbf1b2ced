// io::BufferRing: a provided-buffer ring (IORING_REGISTER_PBUF_RING) from
// which multishot receives take their buffers.
//
// The kernel picks a buffer per completion and reports its id in the CQE's
// flags; the consumer copies or parses the bytes, then recycle()s the id.
// Buffers live in one page-aligned allocation owned here: they outlive every
// receive that can use them because the ring is destroyed only after the
// worker's ring has drained (members are declared in that order), or, for a
// ring made per transfer (make()), only once no receive of the transfer is in
// flight any more.
#pragma once

#include <liburing.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <system_error>

#include "io/submission_queue.hpp"

namespace ringftpd::io {

class BufferRing {
 public:
  // count must be a power of two (kernel rule); throws std::system_error.
  BufferRing(SubmissionQueue& ring, std::uint16_t group_id, unsigned count, unsigned buffer_size);
  // The same for the event loop: null and `error` set instead of throwing.
  [[nodiscard]] static std::unique_ptr<BufferRing> make(SubmissionQueue& ring,
                                                        std::uint16_t group_id, unsigned count,
                                                        unsigned buffer_size,
                                                        std::error_code& error) noexcept;
  ~BufferRing();
  BufferRing(const BufferRing&) = delete;
  BufferRing& operator=(const BufferRing&) = delete;

  [[nodiscard]] std::uint16_t group_id() const noexcept { return group_id_; }
  [[nodiscard]] unsigned buffer_size() const noexcept { return buffer_size_; }

  // The buffer a completion used, or nullopt when the CQE carries none.
  [[nodiscard]] std::optional<std::uint16_t> buffer_id(std::uint32_t cqe_flags) const noexcept;
  [[nodiscard]] std::span<const std::byte> bytes(std::uint16_t id, std::size_t length) const;
  // The start of buffer `id`, for a submission that reads from it (a write
  // of received bytes to a file) while the consumer still holds the id.
  [[nodiscard]] std::byte* data(std::uint16_t id) const noexcept {
    return memory_ + std::size_t{id} * buffer_size_;
  }
  [[nodiscard]] unsigned count() const noexcept { return count_; }

  // Gives a buffer back to the kernel.
  void recycle(std::uint16_t id) noexcept;

 private:
  SubmissionQueue& ring_;
  io_uring_buf_ring* br_ = nullptr;
  std::byte* memory_ = nullptr;
  std::size_t mapping_bytes_ = 0;
  std::uint16_t group_id_;
  unsigned count_;
  unsigned buffer_size_;
};

}  // namespace ringftpd::io
