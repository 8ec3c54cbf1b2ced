#include "server/data_splice_download.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

namespace ringftpd::server {
namespace {

using Result = ftp::TransferOutcome::Result;
constexpr int kPipeBytes = 1 << 20;

}  // namespace

ClearSpliceDownload::ClearSpliceDownload(TransferEnv env, const io::UniqueFd& data,
                                         io::UniqueFd file, std::uint64_t offset,
                                         std::uint64_t remaining)
    : core_(env), data_(data), file_(std::move(file)), offset_(offset), remaining_(remaining) {}

void ClearSpliceDownload::begin() {
  int p[2];
  if (pipe2(p, O_CLOEXEC) != 0) return stop(Result::LocalError, errno);
  pipe_read_ = io::UniqueFd(p[0]);
  pipe_write_ = io::UniqueFd(p[1]);
  // A smaller pipe (pipe-max-size) only means more, shorter splices.
  (void)fcntl(pipe_write_.get(), F_SETPIPE_SZ, kPipeBytes);
  const int size = fcntl(pipe_write_.get(), F_GETPIPE_SZ);
  pipe_capacity_ = size > 0 ? static_cast<std::size_t>(size) : 65536;
  step();
}

void ClearSpliceDownload::step() {
  if (core_.has_ended()) return;
  if (!splice_out_in_flight_ && in_pipe_ > 0) {
    const std::size_t n = std::min(in_pipe_, std::max<std::size_t>(pipe_capacity_ / 2, 4096));
    io_uring_prep_splice(core_.sqe(Op::SpliceOut), pipe_read_.get(), -1, data_.get(), -1,
                         static_cast<unsigned>(n), SPLICE_F_MOVE);
    splice_out_in_flight_ = true;
  }
  // Only what fits: a SpliceIn never has to wait for the SpliceOut.
  // Bandwidth: the file side is what is limited; 0 waits for the pace tick.
  if (!splice_in_in_flight_ && remaining_ > 0 && in_pipe_ < pipe_capacity_) {
    const auto n = static_cast<unsigned>(
        core_.allow(std::min<std::uint64_t>(remaining_, pipe_capacity_ - in_pipe_)));
    if (n > 0) {
      io_uring_prep_splice(core_.sqe(Op::SpliceIn), file_.get(), static_cast<std::int64_t>(offset_),
                           pipe_write_.get(), -1, n, SPLICE_F_MOVE);
      splice_in_in_flight_ = true;
    }
  }
  if (!splice_in_in_flight_ && !splice_out_in_flight_ && remaining_ == 0 && in_pipe_ == 0) {
    core_.finish(Result::Done, 0);
  }
}

void ClearSpliceDownload::on_completion(Op op, int res, std::uint32_t flags) {
  core_.completed(flags);
  if (op == Op::SpliceIn) {
    splice_in_in_flight_ = false;
  } else if (op == Op::SpliceOut) {
    splice_out_in_flight_ = false;
  } else {
    return;  // not one of ours
  }
  if (core_.has_ended()) return;
  if (res < 0) return stop(op == Op::SpliceIn ? Result::LocalError : Result::ConnectionLost, -res);
  const auto n = static_cast<std::size_t>(res);
  core_.progress();
  if (op == Op::SpliceIn) {
    if (n == 0) return stop(Result::LocalError, EIO);  // the file shrank under us
    core_.spend(n);
    in_pipe_ += n;
    offset_ += n;
    remaining_ -= std::min<std::uint64_t>(remaining_, n);
  } else {
    if (n == 0) return stop(Result::ConnectionLost, EPIPE);
    in_pipe_ -= std::min(in_pipe_, n);
    core_.count(n);
  }
  step();
}

void ClearSpliceDownload::stop(Result r, int error) {
  if (!core_.finish(r, error)) return;
  // A splice names its output fd; cancel by every fd either one uses.
  core_.cancel(data_);
  core_.cancel(file_);
  core_.cancel(pipe_read_);
  core_.cancel(pipe_write_);
}

void ClearSpliceDownload::release_fds(FdsToClose& out) {
  if (file_) out.emplace_back(std::move(file_), Op::FileClose);
  if (pipe_read_) out.emplace_back(std::move(pipe_read_), Op::PipeClose);
  if (pipe_write_) out.emplace_back(std::move(pipe_write_), Op::PipeClose);
}

}  // namespace ringftpd::server
