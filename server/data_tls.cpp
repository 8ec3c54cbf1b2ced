// DataChannel under PROT P: the draft's protected data connections.
//
// The TLS server side starts as soon as the data socket is there (the
// ClientHello may already wait in the socket buffer: FileZilla sends it before
// our 150, curl and lftp after). The handshake uses one plain receive at a
// time.
//
// Downloads (RETR, listings): the file is read into plain_[0] and plain_[1] in
// turn; when a read completes the next one is submitted at once, then the
// bytes are sealed into full 16 KiB records, which wolfSSL appends to the
// session's outbound buffer. One send is in flight; it takes all sealed bytes
// at once, by swapping vectors with the session (take_ciphertext), so no
// ciphertext is copied after sealing and no buffer is allocated per record
// once both vectors have grown. Reading stops while a full chunk of sealed
// bytes waits behind the send in flight (backpressure). The end is our
// close_notify, then the close, then 226.
//
// Uploads: the multishot receive of data_pump.cpp fills provided buffers;
// each is fed to TLS and given back to the kernel at once; records are opened
// straight into the plaintext buffer being filled while the other one is
// written to the file. A buffer is fed only when everything fed before has
// been opened and there is room for it, so a slow disk holds buffers back and
// the receive stops (-ENOBUFS) rather than TLS growing without bound. Only the
// client's close_notify ends an upload cleanly (we answer with ours): a bare
// FIN is a truncation and gets 426, never 226 (DESIGN.md §4).
//
// Where the kernel has kTLS, the sealing here is the branch to replace by a
// splice (DESIGN.md §5): the send path already takes ciphertext as a whole.
#include <cerrno>
#include <cstring>

#include "server/data_channel.hpp"

namespace ringftpd::server {
namespace {

using Result = ftp::TransferOutcome::Result;
constexpr std::size_t kHandshakeBytes = 16 * 1024;  // one receive during the handshake
constexpr std::size_t kReadBytes = 256 * 1024;      // RETR: one file read, 16 full records
constexpr std::size_t kPlainBytes = 256 * 1024;     // uploads: opened bytes per file write
constexpr std::size_t kAsciiChunk = 16 * 1024;      // ASCII upload: opened per conversion

}  // namespace

void append_ascii_upload(std::string& out, std::string_view in, bool& cr_pending) {
  for (char c : in) {
    if (cr_pending) {
      cr_pending = false;
      if (c != '\n') out.push_back('\r');
    }
    if (c == '\r') {
      cr_pending = true;
      continue;
    }
    out.push_back(c);
  }
}

void DataChannel::tls_begin() {
  if (tls_context_ == nullptr) return fail(Result::TlsFailed, EPROTONOSUPPORT);
  // server_data: bound to the control connection's origin, and sends no
  // tickets (an upload client never reads; an unread record would turn its
  // close into a reset and cost it the tail of the upload).
  tls_ = tls::Session::server_data(*tls_context_, expected_origin_);
  if (!tls_) return fail(Result::LocalError, ENOMEM);
  if (is_upload()) {
    if (!make_receive_buffers()) return;
    for (auto& p : plain_) p.resize(kPlainBytes);
  } else if (!is_listing()) {
    for (auto& p : plain_) p.resize(kReadBytes);
  }
  read_buffer_.resize(kHandshakeBytes);
  tls_step();
}

void DataChannel::tls_step() {
  if (stage_ != Stage::Pumping) return;
  if (!tls_->is_handshake_done()) {
    tls_flush();
    if (!receive_armed_) {
      io_uring_prep_recv(sqe(Op::DataRecv), data_fd_.get(), read_buffer_.data(),
                         read_buffer_.size(), 0);
      receive_armed_ = true;
    }
    return;
  }
  if (is_upload()) return tls_upload_step();
  tls_download_step();
}

// One send in flight, of everything sealed so far (or the rest of a short one).
void DataChannel::tls_flush() {
  if (send_busy_) return;
  if (cipher_sent_ >= cipher_send_.size()) {
    if (tls_->pending_ciphertext().empty()) return;
    cipher_send_ = tls_->take_ciphertext(std::move(cipher_send_));
    cipher_sent_ = 0;
  }
  // MSG_WAITALL: the ring retries a short send itself.
  io_uring_prep_send(sqe(Op::DataSend), data_fd_.get(), cipher_send_.data() + cipher_sent_,
                     cipher_send_.size() - cipher_sent_, MSG_NOSIGNAL | MSG_WAITALL);
  send_busy_ = true;
}

void DataChannel::tls_seal(std::string_view plaintext) {
  if (plaintext.empty()) return;
  const auto* p = reinterpret_cast<const std::byte*>(plaintext.data());
  if (tls_->write_plaintext({p, plaintext.size()}).status == tls::IoStatus::Failed) {
    log_.warn(who_, "data TLS: " + tls_->last_error_text());
    fail(Result::ConnectionLost, EPROTO);
  }
}

void DataChannel::tls_end_with_close_notify() {
  tls_shutdown_sent_ = true;
  (void)tls_->shutdown();
  tls_flush();
  if (!send_busy_) finish_ok();
}

// ---------------------------------------------------------------- downloads

void DataChannel::tls_download_step() {
  tls_flush();
  if (tls_shutdown_sent_) {
    if (!send_busy_) finish_ok();  // our close_notify is out
    return;
  }
  if (is_listing()) {
    // One batch per turn (each completion is a turn): seal it behind the
    // send in flight, or send it now.
    if (!eof_ && tls_->pending_ciphertext().size() < kReadBytes) {
      if (!fill_listing()) return;
      bytes_ += buffer_.size();
      tls_seal(buffer_);
      buffer_.clear();
      if (stage_ != Stage::Pumping) return;
    }
    if (eof_) return tls_end_with_close_notify();
    tls_flush();
    if (!send_busy_) yield_turn();  // a batch of skipped entries: go on next turn
    return;
  }
  if (remaining_ == 0) {
    if (!read_busy_) tls_end_with_close_notify();
    return;
  }
  tls_read_next();
}

void DataChannel::tls_read_next() {
  // At most one chunk of sealed bytes waits behind the send in flight.
  if (read_busy_ || remaining_ == 0 || tls_->pending_ciphertext().size() >= kReadBytes) return;
  std::vector<std::byte>& slot = plain_[fill_slot_];
  const auto n = static_cast<unsigned>(std::min<std::uint64_t>(remaining_, slot.size()));
  io_uring_prep_read(sqe(Op::FileRead), file_fd_.get(), slot.data(), n, file_offset_);
  read_busy_ = true;
}

void DataChannel::on_tls_file_read(std::size_t n) {
  read_busy_ = false;
  if (n == 0) return fail(Result::LocalError, EIO);  // the file shrank under us
  const std::vector<std::byte>& slot = plain_[fill_slot_];
  fill_slot_ ^= 1;
  file_offset_ += n;
  remaining_ -= std::min<std::uint64_t>(remaining_, n);
  bytes_ += n;
  // The next read first: if it has to wait for the disk, it does so while
  // this chunk is being sealed and sent.
  tls_read_next();
  const std::string_view plain(reinterpret_cast<const char*>(slot.data()), n);
  if (transfer_->type == ftp::TransferType::Ascii) {
    convert_ascii_out(plain);
    tls_seal(buffer_);
    buffer_.clear();
    buffer_sent_ = 0;
  } else {
    tls_seal(plain);
  }
}

// ---------------------------------------------------------------- uploads

void DataChannel::tls_upload_step() {
  // Open into the buffer being filled, start its write, and go on opening
  // into the other one while the write is in flight.
  if (!tls_open_records()) return;
  tls_write_plaintext();
  if (!tls_open_records()) return;
  tls_flush();  // alerts, replies to key updates
  const bool all_written = !write_busy_ && plain_fill_[fill_slot_] == 0;
  if (tls_eof_) {
    if (!all_written) return;
    if (!tls_shutdown_sent_) return tls_end_with_close_notify();  // answer the client's
    if (!send_busy_) finish_ok();
    return;
  }
  if (peer_fin_ && received_.empty() && tls_starved_) {
    // TCP EOF without close_notify: a truncation, never a 226.
    return fail(Result::ConnectionLost, EPIPE);
  }
  if (!receive_armed_ && !peer_fin_ && received_.size() < receive_buffers_->count()) {
    arm_multishot_receive();
  }
}

bool DataChannel::tls_open_records() {
  const bool ascii = transfer_->type == ftp::TransferType::Ascii;
  for (;;) {
    // First open what TLS holds already, as far as there is room.
    while (!tls_eof_) {
      std::vector<std::byte>& slot = plain_[fill_slot_];
      std::size_t& fill = plain_fill_[fill_slot_];
      // ASCII output is at most one byte longer than its input (a CR held back).
      const std::size_t room = slot.size() - fill;
      if (room < (ascii ? 2u : 1u)) {
        tls_starved_ = false;  // TLS may hold more: its write will make room
        return true;
      }
      std::byte ascii_in[kAsciiChunk];
      const std::span<std::byte> out =
          ascii ? std::span<std::byte>(ascii_in, std::min(room - 1, kAsciiChunk))
                : std::span<std::byte>(slot.data() + fill, room);
      const tls::IoResult r = tls_->read_plaintext(out);
      if (r.status == tls::IoStatus::Ok) {
        bytes_ += r.bytes;
        if (ascii) {
          buffer_.clear();
          append_ascii_upload(buffer_, {reinterpret_cast<const char*>(ascii_in), r.bytes},
                              ascii_cr_pending_);
          std::memcpy(slot.data() + fill, buffer_.data(), buffer_.size());
          fill += buffer_.size();
        } else {
          fill += r.bytes;
        }
        continue;
      }
      if (r.status == tls::IoStatus::Closed) {
        tls_eof_ = true;
        if (ascii_cr_pending_) slot[fill++] = std::byte{'\r'};  // a lone CR at the very end
        ascii_cr_pending_ = false;
        break;
      }
      if (r.status == tls::IoStatus::Failed) {
        log_.warn(who_, "data TLS: " + tls_->last_error_text());
        fail(Result::ConnectionLost, EPROTO);
        return false;
      }
      tls_starved_ = true;  // WantIO: everything fed is open, a record may be incomplete
      break;
    }
    if (tls_eof_ || received_.empty()) return true;
    // Everything fed so far is open: feed the oldest received buffer and give
    // it straight back to the kernel (feeding copies it).
    const ReceivedQueue::Entry& e = received_.at(0);
    tls_->feed_ciphertext(receive_buffers_->bytes(e.id, e.length).subspan(e.offset));
    received_.consume(e.unconsumed(), [this](std::uint16_t id) { recycle_receive_buffer(id); });
  }
}

void DataChannel::tls_write_plaintext() {
  if (write_busy_ || plain_fill_[fill_slot_] == 0) return;
  const unsigned slot = fill_slot_;
  fill_slot_ ^= 1;  // the other buffer is empty: its write has completed
  plain_written_ = 0;
  io_uring_prep_write(sqe(Op::FileWrite), file_fd_.get(), plain_[slot].data(),
                      static_cast<unsigned>(plain_fill_[slot]), file_offset_);
  write_busy_ = true;
}

// ---------------------------------------------------------------- completions

void DataChannel::on_tls_handshake_bytes(std::size_t n) {
  // TCP EOF mid-handshake: the client gave up.
  if (n == 0) return fail(Result::TlsFailed, ECONNRESET);
  tls_->feed_ciphertext({reinterpret_cast<const std::byte*>(read_buffer_.data()), n});
  const tls::HandshakeStatus hs = tls_->handshake();
  if (hs == tls::HandshakeStatus::Failed) {
    log_.info(who_, "data TLS handshake failed: " + tls_->last_error_text());
    return fail(Result::TlsFailed, EPROTO);
  }
  if (hs == tls::HandshakeStatus::Done) {
    log_.debug(who_, "data TLS " + std::string(tls_->protocol_version()) +
                         (tls_->is_resumed() ? " (resumed)" : " (full handshake)"));
    (void)tls_resumption_acceptable();  // fails the transfer when not
  }
}

void DataChannel::on_tls_pump(Op op, int res, std::uint32_t flags) {
  // After the handshake, receives are the upload's multishot one.
  if (op == Op::DataRecv && tls_->is_handshake_done()) {
    if (on_multishot_receive(res, flags)) tls_step();
    return;
  }
  if (res < 0) {
    const int err = -res;
    if (op == Op::FileWrite) return fail(storage_result(err), err);
    if (op == Op::FileRead) return fail(Result::LocalError, err);
    return fail(tls_->is_handshake_done() ? Result::ConnectionLost : Result::TlsFailed, err);
  }
  last_progress_ = Clock::now();
  const auto n = static_cast<std::size_t>(res);
  switch (op) {
    case Op::DataSend:
      send_busy_ = false;
      if (n == 0) return fail(Result::ConnectionLost, EPIPE);
      cipher_sent_ += n;
      break;
    case Op::DataRecv:
      receive_armed_ = false;
      on_tls_handshake_bytes(n);
      break;
    case Op::FileRead:
      on_tls_file_read(n);
      break;
    case Op::FileWrite: {
      const unsigned slot = fill_slot_ ^ 1;
      if (n == 0) return fail(Result::LocalError, EIO);
      plain_written_ += n;
      file_offset_ += n;
      if (plain_written_ < plain_fill_[slot]) {  // short write: the rest
        io_uring_prep_write(
            sqe(Op::FileWrite), file_fd_.get(), plain_[slot].data() + plain_written_,
            static_cast<unsigned>(plain_fill_[slot] - plain_written_), file_offset_);
        return;
      }
      plain_fill_[slot] = 0;
      write_busy_ = false;
      break;
    }
    default:
      break;
  }
  tls_step();
}

}  // namespace ringftpd::server
