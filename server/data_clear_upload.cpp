#include "server/data_clear_upload.hpp"

#include <cerrno>
#include <cstring>

namespace ringftpd::server {

using Result = ftp::TransferOutcome::Result;

ClearUpload::ClearUpload(TransferEnv env, const io::UniqueFd& data, io::UniqueFd file,
                         std::uint64_t offset)
    : core_(env), data_(data), file_(std::move(file)), offset_(offset) {}

void ClearUpload::begin() {
  if (const int err = receiver_.make(core_.env().submit.ring()); err != 0) {
    core_.env().log.warn(core_.env().who,
                         std::string("upload: receive buffers: ") + std::strerror(err));
    return stop(Result::LocalError, err);
  }
  step();
}

void ClearUpload::step() {
  if (core_.has_ended()) return;
  const ReceivedQueue& q = receiver_.queue();
  if (!write_in_flight_ && !q.empty()) {
    std::size_t queued = 0;
    for (std::size_t i = 0; i < q.size() && i < kMaxWriteIov; ++i) queued += q.at(i).unconsumed();
    // Bandwidth limits what is written; the rest waits in its buffers, so
    // the receive runs dry and TCP pushes back on the client.
    std::size_t budget = core_.allow(queued);
    std::size_t n = 0;
    for (; n < q.size() && n < kMaxWriteIov && budget > 0; ++n) {
      const ReceivedQueue::Entry& e = q.at(n);
      const std::size_t len = std::min<std::size_t>(e.unconsumed(), budget);
      iov_[n] = iovec{receiver_.buffers().data(e.id) + e.offset, len};
      budget -= len;
    }
    if (n > 0) {
      io_uring_prep_writev(core_.sqe(Op::FileWrite), file_.get(), iov_.data(),
                           static_cast<unsigned>(n), offset_);
      write_in_flight_ = true;
    }
  }
  receiver_.arm_if_needed(core_, data_);
  if (receiver_.has_peer_finished() && !receiver_.is_armed() && !write_in_flight_ && q.empty()) {
    core_.finish(Result::Done, 0);
  }
}

void ClearUpload::on_completion(Op op, int res, std::uint32_t flags) {
  core_.completed(flags);
  if (op == Op::DataRecv) return on_receive(res, flags);
  if (op == Op::FileWrite) return on_written(res);
}

void ClearUpload::on_receive(int res, std::uint32_t flags) {
  const UploadReceiver::Got got = receiver_.on_completion(res, flags);
  if (core_.has_ended()) return;
  switch (got) {
    case UploadReceiver::Got::Failed:
      if (res > 0) {
        core_.env().log.error(core_.env().who, "bug: a receive completion without a usable buffer");
        return stop(Result::LocalError, EIO);
      }
      return stop(Result::ConnectionLost, receiver_.error());
    case UploadReceiver::Got::Bytes:
    case UploadReceiver::Got::End:
      core_.progress();
      break;
    case UploadReceiver::Got::NoBuffers:
      break;  // every buffer waits for the disk: re-armed when one is back
  }
  step();
}

void ClearUpload::on_written(int res) {
  write_in_flight_ = false;
  if (core_.has_ended()) return;
  if (res < 0) return stop(storage_result(-res), -res);
  if (res == 0) return stop(Result::LocalError, EIO);
  const auto n = static_cast<std::uint64_t>(res);
  offset_ += n;
  core_.count(n);
  core_.spend(n);
  core_.progress();
  receiver_.consume(n);
  step();
}

void ClearUpload::stop(Result r, int error) {
  if (!core_.finish(r, error)) return;
  core_.cancel(data_);
  core_.cancel(file_);
}

void ClearUpload::release_fds(FdsToClose& out) {
  if (file_) out.emplace_back(std::move(file_), Op::FileClose);
}

}  // namespace ringftpd::server
