#include "server/data_upload_receiver.hpp"

#include <cerrno>

namespace ringftpd::server {

UploadReceiver::~UploadReceiver() {
  if (!buffers_) return;
  const std::uint16_t group = buffers_->group_id();
  buffers_.reset();  // unregisters the group first
  ring_->release_buffer_group(group);
}

int UploadReceiver::make(io::SubmissionQueue& ring) {
  const auto group = ring.acquire_buffer_group();
  if (!group) return EBUSY;
  std::error_code error;
  buffers_ = io::BufferRing::make(ring, *group, kBuffers, kBufferBytes, error);
  if (!buffers_) {
    ring.release_buffer_group(*group);
    return error.value() != 0 ? error.value() : ENOMEM;
  }
  ring_ = &ring;
  return 0;
}

void UploadReceiver::arm_if_needed(TransferCore& core, const io::UniqueFd& data) {
  if (armed_ || peer_fin_ || !buffers_ || queue_.size() >= buffers_->count()) return;
  io_uring_sqe* s = core.sqe(Op::DataRecv);
  io_uring_prep_recv_multishot(s, data.get(), nullptr, 0, 0);
  s->flags |= IOSQE_BUFFER_SELECT;
  s->buf_group = buffers_->group_id();
  armed_ = true;
}

UploadReceiver::Got UploadReceiver::on_completion(int res, std::uint32_t flags) {
  if (!(flags & IORING_CQE_F_MORE)) armed_ = false;
  const auto id = buffers_ ? buffers_->buffer_id(flags) : std::nullopt;
  if (res > 0) {
    if (!id || !queue_.push(*id, static_cast<std::uint32_t>(res))) {
      error_ = EIO;  // a receive completion without a usable buffer
      return Got::Failed;
    }
    return Got::Bytes;
  }
  if (id) buffers_->recycle(*id);
  if (res == 0) {
    peer_fin_ = true;
    return Got::End;
  }
  if (res == -ENOBUFS) return Got::NoBuffers;  // re-armed once a buffer is back
  error_ = -res;
  return Got::Failed;
}

void UploadReceiver::consume(std::uint64_t n) {
  queue_.consume(n, [this](std::uint16_t id) { buffers_->recycle(id); });
}

std::size_t UploadReceiver::memory_bytes() const noexcept {
  return buffers_ ? std::size_t{buffers_->count()} * buffers_->buffer_size() : 0;
}

}  // namespace ringftpd::server
