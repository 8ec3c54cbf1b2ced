// DataChannel's byte movers for clear transfers, and the provided-buffer
// receive that clear and protected uploads share (DESIGN.md §5).
//
// Binary RETR: one SpliceIn (file -> pipe) and one SpliceOut (pipe -> socket)
// in flight at the same time. A SpliceOut takes at most half of the pipe, so
// while it drains one half a SpliceIn refills the other; bytes stay in order
// because there is only one of each. Splices run on the ring's io-wq threads
// and may block there (a full socket, a cold page), never on the loop.
//
// Binary uploads: a multishot receive fills buffers of a per-transfer
// provided-buffer ring; one writev at a time writes every received buffer, in
// order, at the file offset; a buffer goes back to the ring once written. When
// the disk is slower than the network the ring runs dry, the receive ends with
// -ENOBUFS and is re-armed when a buffer comes back.
//
// ASCII transfers and listings: one operation at a time through buffer_.
#include <cerrno>
#include <cstring>

#include "server/data_channel.hpp"

namespace ringftpd::server {
namespace {

using Result = ftp::TransferOutcome::Result;

constexpr std::size_t kBufferBytes = 1 << 16;  // ASCII and listing chunks
constexpr std::size_t kListBatch = 256;        // entries formatted per send
// Uploads: 16 x 64 KiB provided buffers per transfer (a loopback receive
// rarely returns more than 64 KiB at once).
constexpr unsigned kReceiveBuffers = 16;
constexpr unsigned kReceiveBufferBytes = 1 << 16;
static_assert(kReceiveBuffers <= ReceivedQueue::kCapacity);

}  // namespace

void DataChannel::pump() {
  if (stage_ != Stage::Pumping) return;
  if (is_listing()) {
    if (buffer_sent_ < buffer_.size()) {
      io_uring_prep_send(sqe(Op::DataSend), data_fd_.get(), buffer_.data() + buffer_sent_,
                         buffer_.size() - buffer_sent_, MSG_NOSIGNAL);
      return;
    }
    if (eof_) return finish_ok();
    // One batch per turn: the send's completion brings the next one.
    if (!fill_listing()) return;
    if (!buffer_.empty()) return pump();
    if (eof_) return finish_ok();
    return yield_turn();  // a batch of skipped entries: go on next turn
  }
  if (is_binary()) return is_upload() ? clear_upload_step() : splice_download();
  if (!is_upload()) {  // ASCII RETR
    if (buffer_sent_ < buffer_.size()) {
      io_uring_prep_send(sqe(Op::DataSend), data_fd_.get(), buffer_.data() + buffer_sent_,
                         buffer_.size() - buffer_sent_, MSG_NOSIGNAL);
      return;
    }
    if (remaining_ == 0) return finish_ok();
    read_buffer_.resize(
        static_cast<std::size_t>(std::min<std::uint64_t>(remaining_, kBufferBytes)));
    io_uring_prep_read(sqe(Op::FileRead), file_fd_.get(), read_buffer_.data(),
                       static_cast<unsigned>(read_buffer_.size()), file_offset_);
    return;
  }
  // ASCII uploads: always at explicit offsets (APPE starts at the file's size).
  if (buffer_sent_ < buffer_.size()) {
    io_uring_prep_write(sqe(Op::FileWrite), file_fd_.get(), buffer_.data() + buffer_sent_,
                        static_cast<unsigned>(buffer_.size() - buffer_sent_), file_offset_);
    return;
  }
  if (eof_) return finish_ok();
  read_buffer_.resize(kBufferBytes);
  io_uring_prep_recv(sqe(Op::DataRecv), data_fd_.get(), read_buffer_.data(), read_buffer_.size(),
                     0);
}

bool DataChannel::fill_listing() {
  buffer_.clear();
  buffer_sent_ = 0;
  // Bounded work per loop turn: a huge directory never stalls other sessions.
  eof_ = !lister_->fill(buffer_, kListBatch, list_format_);
  if (eof_ && lister_->error()) {
    // A listing cut short is not a listing: 451, never 226.
    buffer_.clear();
    log_.warn(who_, "listing failed: " + lister_->error().message());
    fail(Result::LocalError, lister_->error().value());
    return false;
  }
  return true;
}

// A NOP stands in for the send an empty batch does not need, so the next
// batch is listed on the next loop turn (its completion comes as a DataSend
// of 0 bytes). Only when no send is in flight: then no DataSend is ambiguous.
void DataChannel::yield_turn() {
  io_uring_prep_nop(sqe(Op::DataSend));
  yielding_ = true;
}

void DataChannel::convert_ascii_out(std::string_view in) {
  buffer_.clear();
  buffer_sent_ = 0;
  for (const char c : in) {
    if (c == '\n') buffer_.push_back('\r');
    buffer_.push_back(c);
  }
}

void DataChannel::on_pump(Op op, int res, std::uint32_t flags) {
  if (op == Op::DataSend && yielding_) {
    yielding_ = false;
    if (stage_ != Stage::Pumping) return;
    return tls_ ? tls_step() : pump();
  }
  if (stage_ != Stage::Pumping) return;
  if (tls_) return on_tls_pump(op, res, flags);
  if (op == Op::DataRecv && is_binary()) {
    if (on_multishot_receive(res, flags)) pump();
    return;
  }
  if (res < 0) {
    const int err = -res;
    if (op == Op::FileWrite) return fail(storage_result(err), err);
    if (op == Op::FileRead || op == Op::SpliceIn) return fail(Result::LocalError, err);
    return fail(Result::ConnectionLost, err);
  }
  last_progress_ = Clock::now();
  const auto n = static_cast<std::size_t>(res);
  if (op == Op::SpliceIn || op == Op::SpliceOut) {
    on_splice_download(op, n);
  } else if (op == Op::FileWrite && is_binary()) {
    on_received_written(n);
  } else {
    on_ascii_or_listing(op, n);
  }
  pump();
}

// ---------------------------------------------------------------- binary RETR

void DataChannel::splice_download() {
  if (!splice_out_busy_ && in_pipe_ > 0) {
    const std::size_t n = std::min(in_pipe_, std::max<std::size_t>(pipe_capacity_ / 2, 4096));
    io_uring_prep_splice(sqe(Op::SpliceOut), pipe_read_.get(), -1, data_fd_.get(), -1,
                         static_cast<unsigned>(n), SPLICE_F_MOVE);
    splice_out_busy_ = true;
  }
  // Only what fits: a SpliceIn never has to wait for the SpliceOut.
  if (!splice_in_busy_ && remaining_ > 0 && in_pipe_ < pipe_capacity_) {
    const auto n =
        static_cast<unsigned>(std::min<std::uint64_t>(remaining_, pipe_capacity_ - in_pipe_));
    io_uring_prep_splice(sqe(Op::SpliceIn), file_fd_.get(), static_cast<std::int64_t>(file_offset_),
                         pipe_write_.get(), -1, n, SPLICE_F_MOVE);
    splice_in_busy_ = true;
  }
  if (!splice_in_busy_ && !splice_out_busy_ && remaining_ == 0 && in_pipe_ == 0) finish_ok();
}

void DataChannel::on_splice_download(Op op, std::size_t n) {
  if (op == Op::SpliceIn) {
    splice_in_busy_ = false;
    if (n == 0) return fail(Result::LocalError, EIO);  // the file shrank under us
    in_pipe_ += n;
    file_offset_ += n;
    remaining_ -= std::min<std::uint64_t>(remaining_, n);
    return;
  }
  splice_out_busy_ = false;
  if (n == 0) return fail(Result::ConnectionLost, EPIPE);
  in_pipe_ -= std::min(in_pipe_, n);
  bytes_ += n;
}

// ---------------------------------------------------------------- ASCII, listings

void DataChannel::on_ascii_or_listing(Op op, std::size_t n) {
  switch (op) {
    case Op::DataSend:
      buffer_sent_ += n;
      if (is_listing()) bytes_ += n;  // RETR counts file bytes at read time
      break;
    case Op::FileRead:
      if (n == 0) return fail(Result::LocalError, EIO);
      file_offset_ += n;
      remaining_ -= std::min<std::uint64_t>(remaining_, n);
      bytes_ += n;
      convert_ascii_out({read_buffer_.data(), n});
      break;
    case Op::DataRecv:
      buffer_.clear();
      buffer_sent_ = 0;
      if (n == 0) {
        eof_ = true;
        if (ascii_cr_pending_) buffer_.push_back('\r');  // a lone CR at the very end
        break;
      }
      append_ascii_upload(buffer_, {read_buffer_.data(), n}, ascii_cr_pending_);
      bytes_ += n;
      break;
    case Op::FileWrite:
      buffer_sent_ += n;
      file_offset_ += n;
      break;
    default:
      break;
  }
}

// ---------------------------------------------------------------- binary uploads

bool DataChannel::make_receive_buffers() {
  io::SubmissionQueue& ring = submit_.ring();
  const auto group = ring.acquire_buffer_group();
  if (!group) {
    log_.warn(who_, "upload: no provided-buffer group left on this worker");
    fail(Result::LocalError, EBUSY);
    return false;
  }
  std::error_code error;
  receive_buffers_ =
      io::BufferRing::make(ring, *group, kReceiveBuffers, kReceiveBufferBytes, error);
  if (!receive_buffers_) {
    ring.release_buffer_group(*group);
    log_.warn(who_, "upload: receive buffers: " + error.message());
    fail(Result::LocalError, error.value() != 0 ? error.value() : ENOMEM);
    return false;
  }
  return true;
}

void DataChannel::arm_multishot_receive() {
  io_uring_sqe* s = sqe(Op::DataRecv);
  io_uring_prep_recv_multishot(s, data_fd_.get(), nullptr, 0, 0);
  s->flags |= IOSQE_BUFFER_SELECT;
  s->buf_group = receive_buffers_->group_id();
  receive_armed_ = true;
}

bool DataChannel::on_multishot_receive(int res, std::uint32_t flags) {
  if (!(flags & IORING_CQE_F_MORE)) receive_armed_ = false;
  const auto id = receive_buffers_->buffer_id(flags);
  if (res > 0) {
    if (!id || !received_.push(*id, static_cast<std::uint32_t>(res))) {
      log_.error(who_, "bug: a receive completion without a usable buffer");
      fail(Result::LocalError, EIO);
      return false;
    }
    last_progress_ = Clock::now();
    return true;
  }
  if (id) recycle_receive_buffer(*id);
  if (res == 0) {
    peer_fin_ = true;
    last_progress_ = Clock::now();
    return true;
  }
  // Every buffer waits for the disk (or for TLS): the steps re-arm the receive
  // once one has come back.
  if (res == -ENOBUFS) return true;
  fail(Result::ConnectionLost, -res);
  return false;
}

void DataChannel::recycle_receive_buffer(std::uint16_t id) {
  receive_buffers_->recycle(id);
}

void DataChannel::write_received() {
  if (write_busy_ || received_.empty()) return;
  std::size_t n = 0;
  for (; n < received_.size() && n < kMaxWriteIov; ++n) {
    const ReceivedQueue::Entry& e = received_.at(n);
    write_iov_[n] = iovec{receive_buffers_->data(e.id) + e.offset, e.unconsumed()};
  }
  io_uring_prep_writev(sqe(Op::FileWrite), file_fd_.get(), write_iov_.data(),
                       static_cast<unsigned>(n), file_offset_);
  write_busy_ = true;
}

void DataChannel::on_received_written(std::size_t n) {
  write_busy_ = false;
  if (n == 0) return fail(Result::LocalError, EIO);
  file_offset_ += n;
  bytes_ += n;
  received_.consume(n, [this](std::uint16_t id) { recycle_receive_buffer(id); });
}

void DataChannel::clear_upload_step() {
  write_received();
  if (!receive_armed_ && !peer_fin_ && received_.size() < receive_buffers_->count()) {
    arm_multishot_receive();
  }
  if (peer_fin_ && !receive_armed_ && !write_busy_ && received_.empty()) finish_ok();
}

}  // namespace ringftpd::server
