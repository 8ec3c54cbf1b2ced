#include "server/data_buffered_transfer.hpp"

#include <sys/socket.h>

#include <algorithm>
#include <cerrno>

namespace ringftpd::server {

using Result = ftp::TransferOutcome::Result;

BufferedTransfer::BufferedTransfer(TransferEnv env, const io::UniqueFd& data, AsciiDownload source)
    : core_(env),
      data_(data),
      mode_(Mode::AsciiDownload),
      file_(std::move(source.file)),
      offset_(source.offset),
      remaining_(source.remaining) {}

BufferedTransfer::BufferedTransfer(TransferEnv env, const io::UniqueFd& data, AsciiUpload target)
    : core_(env),
      data_(data),
      mode_(Mode::AsciiUpload),
      file_(std::move(target.file)),
      offset_(target.offset) {}

BufferedTransfer::BufferedTransfer(TransferEnv env, const io::UniqueFd& data, Listing listing)
    : core_(env),
      data_(data),
      mode_(Mode::Listing),
      lister_(std::move(listing.lister)),
      format_(listing.format) {}

std::size_t BufferedTransfer::memory_bytes() const noexcept {
  return out_.capacity() + in_.capacity() + (lister_ ? fs::DirectoryLister::kBufferBytes : 0);
}

void BufferedTransfer::step() {
  if (core_.has_ended() || stage_ != Stage::Idle) return;
  if (out_done_ < out_.size()) {
    const char* p = out_.data() + out_done_;
    const std::size_t n = out_.size() - out_done_;
    if (mode_ == Mode::AsciiUpload) {
      io_uring_prep_write(core_.sqe(Op::FileWrite), file_.get(), p, static_cast<unsigned>(n),
                          offset_);
      stage_ = Stage::Writing;
    } else {
      io_uring_prep_send(core_.sqe(Op::DataSend), data_.get(), p, n, MSG_NOSIGNAL);
      stage_ = Stage::Sending;
    }
    return;
  }
  out_.clear();
  out_done_ = 0;
  if (source_done_) {
    core_.finish(Result::Done, 0);
    return;
  }
  switch (mode_) {
    case Mode::AsciiDownload:
      if (remaining_ == 0) {
        core_.finish(Result::Done, 0);
        return;
      }
      in_.resize(
          core_.allow(static_cast<std::size_t>(std::min<std::uint64_t>(remaining_, kChunkBytes))));
      if (in_.empty()) return;  // bandwidth: resume() comes on the pace tick
      io_uring_prep_read(core_.sqe(Op::FileRead), file_.get(), in_.data(),
                         static_cast<unsigned>(in_.size()), offset_);
      stage_ = Stage::Reading;
      return;
    case Mode::AsciiUpload:
      in_.resize(core_.allow(kChunkBytes));
      if (in_.empty()) return;  // bandwidth: resume() comes on the pace tick
      io_uring_prep_recv(core_.sqe(Op::DataRecv), data_.get(), in_.data(), in_.size(), 0);
      stage_ = Stage::Receiving;
      return;
    case Mode::Listing:
      return step_listing();
  }
}

void BufferedTransfer::step_listing() {
  // One batch per turn: a huge directory never stalls the other sessions.
  source_done_ = !lister_->fill(out_, kListBatch, format_);
  if (source_done_ && lister_->error()) {
    // A listing cut short is not a listing: 451, never 226.
    out_.clear();
    core_.env().log.warn(core_.env().who, "listing failed: " + lister_->error().message());
    return stop(Result::LocalError, lister_->error().value());
  }
  if (!out_.empty()) return step();
  if (source_done_) {
    core_.finish(Result::Done, 0);
    return;
  }
  // Only skipped entries: a NOP gives the turn back; its completion (a
  // DataSend of 0 bytes) brings the next batch.
  io_uring_prep_nop(core_.sqe(Op::DataSend));
  stage_ = Stage::Yielding;
}

void BufferedTransfer::on_completion(Op op, int res, std::uint32_t flags) {
  core_.completed(flags);
  const Stage was = stage_;
  stage_ = Stage::Idle;
  (void)op;  // one operation at a time: the stage says which one it was
  if (core_.has_ended() || was == Stage::Idle) return;
  if (was == Stage::Yielding) return step();
  if (res < 0) {
    const int err = -res;
    if (was == Stage::Writing) return stop(storage_result(err), err);
    if (was == Stage::Reading) return stop(Result::LocalError, err);
    return stop(Result::ConnectionLost, err);
  }
  core_.progress();
  const auto n = static_cast<std::size_t>(res);
  switch (was) {
    case Stage::Sending:
      if (n == 0) return stop(Result::ConnectionLost, EPIPE);
      out_done_ += n;
      if (mode_ == Mode::Listing) core_.count(n);  // RETR counts file bytes when read
      break;
    case Stage::Reading:
      if (n == 0) return stop(Result::LocalError, EIO);  // the file shrank under us
      offset_ += n;
      remaining_ -= std::min<std::uint64_t>(remaining_, n);
      core_.count(n);
      core_.spend(n);
      append_ascii_download(out_, {in_.data(), n});
      break;
    case Stage::Receiving:
      if (n == 0) {
        source_done_ = true;
        if (cr_pending_) out_.push_back('\r');  // a lone CR at the very end
        cr_pending_ = false;
        break;
      }
      append_ascii_upload(out_, {in_.data(), n}, cr_pending_);
      core_.count(n);
      core_.spend(n);
      break;
    case Stage::Writing:
      if (n == 0) return stop(Result::LocalError, EIO);
      out_done_ += n;
      offset_ += n;
      break;
    default:
      break;
  }
  step();
}

void BufferedTransfer::stop(Result r, int error) {
  if (!core_.finish(r, error)) return;
  core_.cancel(data_);
  core_.cancel(file_);
}

void BufferedTransfer::release_fds(FdsToClose& out) {
  if (file_) out.emplace_back(std::move(file_), Op::FileClose);
  if (lister_) {
    out.emplace_back(lister_->release_dir(), Op::FileClose);
    lister_.reset();
  }
}

}  // namespace ringftpd::server
