#include "server/data_tls_download.hpp"

#include <algorithm>
#include <cerrno>

namespace ringftpd::server {

using Result = ftp::TransferOutcome::Result;

TlsDownload::TlsDownload(TransferEnv env, const io::UniqueFd& data, DataTlsLink::Setup tls,
                         File file)
    : core_(env),
      data_(data),
      link_(core_, data, std::move(tls)),
      file_(std::move(file.fd)),
      offset_(file.offset),
      remaining_(file.remaining),
      ascii_(file.ascii) {}

TlsDownload::TlsDownload(TransferEnv env, const io::UniqueFd& data, DataTlsLink::Setup tls,
                         Listing listing)
    : core_(env),
      data_(data),
      link_(core_, data, std::move(tls)),
      lister_(std::move(listing.lister)),
      format_(listing.format) {}

std::size_t TlsDownload::memory_bytes() const noexcept {
  std::size_t n = link_.memory_bytes() + text_.capacity();
  for (const auto& p : plain_) n += p.capacity();
  return n + (lister_ ? fs::DirectoryLister::kBufferBytes : 0);
}

void TlsDownload::begin() {
  if (const auto end = link_.begin()) return stop(end->result, end->error);
  if (!lister_) {
    for (auto& p : plain_) p.resize(kReadBytes);
  }
  step();
}

void TlsDownload::step() {
  if (core_.has_ended()) return;
  switch (stage_) {
    case Stage::Handshake:
      return link_.handshake_step();
    case Stage::Moving:
      link_.flush();
      if (lister_) return step_listing();
      if (remaining_ == 0) {
        if (!read_in_flight_) close_notify();
        return;
      }
      return read_next();
    case Stage::ClosingNotify:
      return close_notify();
  }
}

// Sends our close_notify after everything sealed; Done once it is out.
void TlsDownload::close_notify() {
  stage_ = Stage::ClosingNotify;
  if (!link_.has_sent_close_notify()) link_.send_close_notify();
  link_.flush();
  if (!link_.is_send_in_flight()) core_.finish(Result::Done, 0);
}

void TlsDownload::step_listing() {
  // One batch per turn, and only while at most one chunk of sealed bytes
  // waits behind the send in flight.
  if (!listing_done_ && link_.pending() < kReadBytes) {
    text_.clear();
    listing_done_ = !lister_->fill(text_, kListBatch, format_);
    if (listing_done_ && lister_->error()) {
      const TransferEnv& env = core_.env();
      env.log.warn(env.who, "listing failed: " + lister_->error().message());
      return stop(Result::LocalError, lister_->error().value());
    }
    core_.count(text_.size());
    if (!link_.seal(text_)) return stop(Result::ConnectionLost, EPROTO);
  }
  if (listing_done_) return close_notify();
  link_.flush();
  if (!link_.is_send_in_flight()) {
    // Nothing to send (a batch of skipped entries): the next batch comes on
    // the next turn, after this NOP (a DataSend of 0 bytes).
    io_uring_prep_nop(core_.sqe(Op::DataSend));
    yielding_ = true;
  }
}

void TlsDownload::read_next() {
  if (read_in_flight_ || remaining_ == 0 || link_.pending() >= kReadBytes) return;
  std::vector<std::byte>& slot = plain_[fill_slot_];
  const auto n =
      static_cast<unsigned>(core_.allow(std::min<std::uint64_t>(remaining_, slot.size())));
  if (n == 0) return;  // bandwidth: resume() comes on the pace tick
  io_uring_prep_read(core_.sqe(Op::FileRead), file_.get(), slot.data(), n, offset_);
  read_in_flight_ = true;
}

void TlsDownload::on_read(int res) {
  if (res < 0) return stop(Result::LocalError, -res);
  if (res == 0) return stop(Result::LocalError, EIO);  // the file shrank under us
  const auto n = static_cast<std::size_t>(res);
  core_.progress();
  const std::vector<std::byte>& slot = plain_[fill_slot_];
  fill_slot_ ^= 1;
  offset_ += n;
  remaining_ -= std::min<std::uint64_t>(remaining_, n);
  core_.count(n);
  core_.spend(n);
  // The next read first: if it has to wait for the disk, it does so while
  // this chunk is being sealed and sent.
  read_next();
  const std::string_view plain(reinterpret_cast<const char*>(slot.data()), n);
  bool sealed = true;
  if (ascii_) {
    text_.clear();
    append_ascii_download(text_, plain);
    sealed = link_.seal(text_);
  } else {
    sealed = link_.seal(plain);
  }
  if (!sealed) stop(Result::ConnectionLost, EPROTO);
}

void TlsDownload::on_completion(Op op, int res, std::uint32_t flags) {
  core_.completed(flags);
  std::optional<TransferEnd> end;
  switch (op) {
    case Op::DataRecv:
      end = link_.on_handshake_bytes(res);
      if (!end && !core_.has_ended() && link_.is_handshake_done()) stage_ = Stage::Moving;
      break;
    case Op::DataSend:
      if (yielding_) {
        yielding_ = false;
        break;
      }
      end = link_.on_sent(res);
      break;
    case Op::FileRead:
      read_in_flight_ = false;
      if (!core_.has_ended()) on_read(res);
      break;
    default:
      return;
  }
  if (end) return stop(end->result, end->error);
  step();
}

void TlsDownload::stop(Result r, int error) {
  if (!core_.finish(r, error)) return;
  core_.cancel(data_);
  core_.cancel(file_);
}

void TlsDownload::release_fds(FdsToClose& out) {
  if (file_) out.emplace_back(std::move(file_), Op::FileClose);
  if (lister_) {
    out.emplace_back(lister_->release_dir(), Op::FileClose);
    lister_.reset();
  }
}

}  // namespace ringftpd::server
