// UploadReceiver: the receive side that clear and protected binary uploads
// share (DESIGN.md §5). A multishot receive fills buffers of a per-transfer
// provided-buffer ring; the received buffers wait in a ReceivedQueue, in
// order, until the transfer has written them (clear) or fed them to TLS
// (protected), and only then go back to the kernel. When the disk is slower
// than the network the ring runs dry, the receive ends with -ENOBUFS and is
// re-armed once a buffer has come back: backpressure instead of memory.
//
// Owned by its transfer; the buffer ring (and its group id) is given back on
// destruction, which the transfer's owner does only once no receive is in
// flight.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

#include "io/buffer_ring.hpp"
#include "server/data_transfer.hpp"
#include "server/received_queue.hpp"

namespace ringftpd::server {

class UploadReceiver {
 public:
  // 16 x 64 KiB provided buffers per transfer (a loopback receive rarely
  // returns more than 64 KiB at once).
  static constexpr unsigned kBuffers = 16;
  static constexpr unsigned kBufferBytes = 1 << 16;
  static_assert(kBuffers <= ReceivedQueue::kCapacity);

  UploadReceiver() = default;
  ~UploadReceiver();
  UploadReceiver(const UploadReceiver&) = delete;
  UploadReceiver& operator=(const UploadReceiver&) = delete;

  // Makes the buffer ring: 0, or an errno (no group left, no memory).
  [[nodiscard]] int make(io::SubmissionQueue& ring);

  // Arms the multishot receive when it is not armed, the client has not
  // finished and a buffer is free.
  void arm_if_needed(TransferCore& core, const io::UniqueFd& data);

  enum class Got : std::uint8_t { Bytes, End, NoBuffers, Failed };
  // A DataRecv completion (after TransferCore::completed). Failed: `res` was
  // an error, or the kernel broke the buffer contract (then error() is EIO).
  [[nodiscard]] Got on_completion(int res, std::uint32_t flags);
  [[nodiscard]] int error() const noexcept { return error_; }

  [[nodiscard]] bool is_armed() const noexcept { return armed_; }
  [[nodiscard]] bool has_peer_finished() const noexcept { return peer_fin_; }
  [[nodiscard]] const ReceivedQueue& queue() const noexcept { return queue_; }
  [[nodiscard]] const io::BufferRing& buffers() const noexcept { return *buffers_; }
  // n bytes from the front were used: buffers used up go back to the kernel.
  void consume(std::uint64_t n);
  [[nodiscard]] std::size_t memory_bytes() const noexcept;

 private:
  io::SubmissionQueue* ring_ = nullptr;
  std::unique_ptr<io::BufferRing> buffers_;
  ReceivedQueue queue_;
  bool armed_ = false;     // a multishot receive is in flight
  bool peer_fin_ = false;  // the client closed its side (TCP EOF)
  int error_ = 0;
};

}  // namespace ringftpd::server
