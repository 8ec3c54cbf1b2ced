#include "io/buffer_ring.hpp"

#include <sys/mman.h>

#include <cerrno>
#include <new>
#include <system_error>

namespace ringftpd::io {

BufferRing::BufferRing(SubmissionQueue& ring, std::uint16_t group_id, unsigned count,
                       unsigned buffer_size)
    : ring_(ring), group_id_(group_id), count_(count), buffer_size_(buffer_size) {
  if (count == 0 || (count & (count - 1)) != 0 || count > 32768) {
    throw std::system_error(EINVAL, std::generic_category(), "buffer ring: count not 2^n");
  }
  // One mapping: the ring's descriptors first, then the buffers.
  const std::size_t ring_bytes = sizeof(io_uring_buf) * count;
  mapping_bytes_ = ring_bytes + std::size_t{count} * buffer_size;
  void* p =
      mmap(nullptr, mapping_bytes_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) throw std::system_error(errno, std::generic_category(), "mmap buffers");
  br_ = static_cast<io_uring_buf_ring*>(p);
  memory_ = static_cast<std::byte*>(p) + ring_bytes;

  io_uring_buf_reg reg{};
  reg.ring_addr = reinterpret_cast<std::uint64_t>(br_);
  reg.ring_entries = count;
  reg.bgid = group_id;
  const int rc = ring_.register_buffer_ring(reg);
  if (rc < 0) {
    munmap(p, mapping_bytes_);
    throw std::system_error(-rc, std::generic_category(), "io_uring_register_buf_ring");
  }
  io_uring_buf_ring_init(br_);
  const int mask = io_uring_buf_ring_mask(count);
  for (unsigned i = 0; i < count; ++i) {
    io_uring_buf_ring_add(br_, memory_ + std::size_t{i} * buffer_size, buffer_size,
                          static_cast<unsigned short>(i), mask, static_cast<int>(i));
  }
  io_uring_buf_ring_advance(br_, static_cast<int>(count));
}

std::unique_ptr<BufferRing> BufferRing::make(SubmissionQueue& ring, std::uint16_t group_id,
                                             unsigned count, unsigned buffer_size,
                                             std::error_code& error) noexcept {
  try {
    return std::make_unique<BufferRing>(ring, group_id, count, buffer_size);
  } catch (const std::system_error& e) {
    error = e.code();
  } catch (const std::bad_alloc&) {
    error = std::make_error_code(std::errc::not_enough_memory);
  }
  return nullptr;
}

BufferRing::~BufferRing() {
  ring_.unregister_buffer_ring(group_id_);
  munmap(br_, mapping_bytes_);
}

std::optional<std::uint16_t> BufferRing::buffer_id(std::uint32_t cqe_flags) const noexcept {
  if (!(cqe_flags & IORING_CQE_F_BUFFER)) return std::nullopt;
  return static_cast<std::uint16_t>(cqe_flags >> IORING_CQE_BUFFER_SHIFT);
}

std::span<const std::byte> BufferRing::bytes(std::uint16_t id, std::size_t length) const {
  return {memory_ + std::size_t{id} * buffer_size_, length};
}

void BufferRing::recycle(std::uint16_t id) noexcept {
  io_uring_buf_ring_add(br_, memory_ + std::size_t{id} * buffer_size_, buffer_size_, id,
                        io_uring_buf_ring_mask(count_), 0);
  io_uring_buf_ring_advance(br_, 1);
}

}  // namespace ringftpd::io
