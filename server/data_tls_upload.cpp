#include "server/data_tls_upload.hpp"

#include <cerrno>
#include <cstring>

namespace ringftpd::server {

using Result = ftp::TransferOutcome::Result;

TlsUpload::TlsUpload(TransferEnv env, const io::UniqueFd& data, DataTlsLink::Setup tls,
                     io::UniqueFd file, std::uint64_t offset, bool ascii)
    : core_(env),
      data_(data),
      link_(core_, data, std::move(tls)),
      file_(std::move(file)),
      offset_(offset),
      ascii_(ascii) {}

std::size_t TlsUpload::memory_bytes() const noexcept {
  std::size_t n = link_.memory_bytes() + receiver_.memory_bytes() + ascii_out_.capacity();
  for (const auto& p : plain_) n += p.capacity();
  return n;
}

void TlsUpload::begin() {
  if (const auto end = link_.begin()) return stop(end->result, end->error);
  if (const int err = receiver_.make(core_.env().submit.ring()); err != 0) {
    core_.env().log.warn(core_.env().who,
                         std::string("upload: receive buffers: ") + std::strerror(err));
    return stop(Result::LocalError, err);
  }
  for (auto& p : plain_) p.resize(kPlainBytes);
  step();
}

void TlsUpload::step() {
  if (core_.has_ended()) return;
  if (stage_ == Stage::Handshake) return link_.handshake_step();
  // Open into the buffer being filled, start its write, and go on opening
  // into the other one while the write is in flight.
  if (!open_records()) return;
  write_plaintext();
  if (!open_records()) return;
  link_.flush();  // alerts, replies to key updates, our close_notify
  const bool all_written = !write_in_flight_ && plain_fill_[fill_slot_] == 0;
  if (client_closed_) {
    if (!all_written) return;
    if (stage_ != Stage::AnsweringCloseNotify) {
      stage_ = Stage::AnsweringCloseNotify;
      link_.send_close_notify();
    }
    if (!link_.is_send_in_flight()) {
      core_.finish(Result::Done, 0);
      // The multishot receive may still be armed (a client that keeps the
      // connection open after its close_notify): end it, so the transfer drains.
      core_.cancel(data_);
    }
    return;
  }
  if (receiver_.has_peer_finished() && receiver_.queue().empty() && tls_starved_) {
    // TCP EOF without close_notify: a truncation, never a 226.
    return stop(Result::ConnectionLost, EPIPE);
  }
  receiver_.arm_if_needed(core_, data_);
}

bool TlsUpload::open_records() {
  tls::Session& session = link_.session();
  for (;;) {
    // First open what TLS holds already, as far as there is room.
    while (!client_closed_) {
      std::vector<std::byte>& slot = plain_[fill_slot_];
      std::size_t& fill = plain_fill_[fill_slot_];
      // ASCII output is at most one byte longer than its input (a CR held
      // back).
      const std::size_t room = slot.size() - fill;
      if (room < (ascii_ ? 2u : 1u)) {
        tls_starved_ = false;  // TLS may hold more: its write will make room
        return true;
      }
      std::byte ascii_in[kAsciiChunk];
      const std::span<std::byte> out =
          ascii_ ? std::span<std::byte>(ascii_in, std::min(room - 1, kAsciiChunk))
                 : std::span<std::byte>(slot.data() + fill, room);
      const tls::IoResult r = session.read_plaintext(out);
      if (r.status == tls::IoStatus::Ok) {
        core_.count(r.bytes);
        if (ascii_) {
          ascii_out_.clear();
          append_ascii_upload(ascii_out_, {reinterpret_cast<const char*>(ascii_in), r.bytes},
                              cr_pending_);
          std::memcpy(slot.data() + fill, ascii_out_.data(), ascii_out_.size());
          fill += ascii_out_.size();
        } else {
          fill += r.bytes;
        }
        continue;
      }
      if (r.status == tls::IoStatus::Closed) {
        client_closed_ = true;
        if (cr_pending_) slot[fill++] = std::byte{'\r'};  // a lone CR at the very end
        cr_pending_ = false;
        break;
      }
      if (r.status == tls::IoStatus::Failed) {
        core_.env().log.warn(core_.env().who, "data TLS: " + session.last_error_text());
        stop(Result::ConnectionLost, EPROTO);
        return false;
      }
      tls_starved_ = true;  // WantIO: everything fed is open, a record may be incomplete
      break;
    }
    if (client_closed_ || receiver_.queue().empty()) return true;
    // Everything fed so far is open: feed the oldest received buffer and give
    // it straight back to the kernel (feeding copies it). Bandwidth limits
    // the ciphertext fed; the rest waits, holding its buffer, so the
    // receive runs dry and TCP pushes back on the client.
    const ReceivedQueue::Entry& e = receiver_.queue().at(0);
    const std::size_t n = core_.allow(e.unconsumed());
    if (n == 0) return true;  // resume() comes on the pace tick
    session.feed_ciphertext(receiver_.buffers().bytes(e.id, e.length).subspan(e.offset, n));
    receiver_.consume(n);
    core_.spend(n);
  }
}

void TlsUpload::write_plaintext() {
  if (write_in_flight_ || plain_fill_[fill_slot_] == 0) return;
  const unsigned slot = fill_slot_;
  fill_slot_ ^= 1;  // the other buffer is empty: its write has completed
  plain_written_ = 0;
  io_uring_prep_write(core_.sqe(Op::FileWrite), file_.get(), plain_[slot].data(),
                      static_cast<unsigned>(plain_fill_[slot]), offset_);
  write_in_flight_ = true;
}

void TlsUpload::on_completion(Op op, int res, std::uint32_t flags) {
  core_.completed(flags);
  std::optional<TransferEnd> end;
  switch (op) {
    case Op::DataRecv:
      if (stage_ != Stage::Handshake) return on_receive(res, flags);
      end = link_.on_handshake_bytes(res);
      if (!end && !core_.has_ended() && link_.is_handshake_done()) stage_ = Stage::Moving;
      break;
    case Op::DataSend:
      end = link_.on_sent(res);
      break;
    case Op::FileWrite:
      return on_written(res);
    default:
      return;
  }
  if (end) return stop(end->result, end->error);
  step();
}

void TlsUpload::on_receive(int res, std::uint32_t flags) {
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
      break;
  }
  step();
}

void TlsUpload::on_written(int res) {
  if (core_.has_ended()) {
    write_in_flight_ = false;
    return;
  }
  if (res < 0) {
    write_in_flight_ = false;
    return stop(storage_result(-res), -res);
  }
  if (res == 0) {
    write_in_flight_ = false;
    return stop(Result::LocalError, EIO);
  }
  core_.progress();
  const unsigned slot = fill_slot_ ^ 1;
  const auto n = static_cast<std::size_t>(res);
  plain_written_ += n;
  offset_ += n;
  if (plain_written_ < plain_fill_[slot]) {  // short write: the rest
    io_uring_prep_write(core_.sqe(Op::FileWrite), file_.get(), plain_[slot].data() + plain_written_,
                        static_cast<unsigned>(plain_fill_[slot] - plain_written_), offset_);
    return;
  }
  plain_fill_[slot] = 0;
  write_in_flight_ = false;
  step();
}

void TlsUpload::stop(Result r, int error) {
  if (!core_.finish(r, error)) return;
  core_.cancel(data_);
  core_.cancel(file_);
}

void TlsUpload::release_fds(FdsToClose& out) {
  if (file_) out.emplace_back(std::move(file_), Op::FileClose);
}

}  // namespace ringftpd::server
