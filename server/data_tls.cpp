// DataChannel under PROT P: the draft's protected data connections.
//
// The TLS server side starts as soon as the data socket is there (the
// ClientHello may already wait in the socket buffer: FileZilla sends it before
// our 150, curl and lftp after). Downloads (RETR, listings) read plaintext,
// seal it into 16 KiB records and send; the end is our close_notify, then the
// close, then 226. Uploads receive records, open them and write the plaintext;
// only the client's close_notify ends an upload cleanly (we answer with ours):
// a bare FIN is a truncation and gets 426, never 226 (DESIGN.md §4).
//
// As everywhere in DataChannel, exactly one pump operation is in flight, and
// tls_step() decides the next one.
#include <cerrno>
#include <cstring>

#include "server/data_channel.hpp"

namespace ringftpd::server {
namespace {

using Result = ftp::TransferOutcome::Result;
constexpr std::size_t kChunkBytes = 1 << 16;  // four full records per file read

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
  read_buffer_.resize(kChunkBytes);
  tls_step();
}

void DataChannel::tls_seal(std::string_view plaintext) {
  if (plaintext.empty()) return;
  const auto* p = reinterpret_cast<const std::byte*>(plaintext.data());
  if (tls_->write_plaintext({p, plaintext.size()}).status == tls::IoStatus::Failed) {
    log_.warn(who_, "data TLS: " + tls_->last_error_text());
    fail(Result::ConnectionLost, EPROTO);
  }
}

void DataChannel::tls_send_pending() {
  if (cipher_sent_ < cipher_out_.size()) return;
  cipher_out_.clear();
  cipher_sent_ = 0;
  const auto ct = tls_->pending_ciphertext();
  cipher_out_.assign(reinterpret_cast<const char*>(ct.data()), ct.size());
  tls_->consume_ciphertext(ct.size());
}

void DataChannel::tls_step() {
  if (stage_ != Stage::Pumping) return;
  tls_send_pending();
  if (cipher_sent_ < cipher_out_.size()) {
    io_uring_prep_send(sqe(Op::DataSend), data_fd_, cipher_out_.data() + cipher_sent_,
                       cipher_out_.size() - cipher_sent_, MSG_NOSIGNAL);
    return;
  }
  if (!tls_->is_handshake_done()) {
    io_uring_prep_recv(sqe(Op::DataRecv), data_fd_, read_buffer_.data(), read_buffer_.size(), 0);
    return;
  }
  if (tls_shutdown_sent_) return finish_ok();  // our close_notify is out
  const auto end_with_close_notify = [this] {
    tls_shutdown_sent_ = true;
    (void)tls_->shutdown();
    tls_step();
  };
  if (is_upload()) {
    if (buffer_sent_ < buffer_.size()) {
      io_uring_prep_write(sqe(Op::FileWrite), file_fd_, buffer_.data() + buffer_sent_,
                          static_cast<unsigned>(buffer_.size() - buffer_sent_), file_offset_);
      return;
    }
    buffer_.clear();
    buffer_sent_ = 0;
    if (eof_) return end_with_close_notify();  // answer the client's close_notify
    io_uring_prep_recv(sqe(Op::DataRecv), data_fd_, read_buffer_.data(), read_buffer_.size(), 0);
    return;
  }
  if (is_listing()) {
    if (eof_) return end_with_close_notify();
    return fill_listing();  // seals a batch and comes back here
  }
  if (remaining_ == 0) return end_with_close_notify();
  const auto n = static_cast<unsigned>(std::min<std::uint64_t>(remaining_, kChunkBytes));
  io_uring_prep_read(sqe(Op::FileRead), file_fd_, read_buffer_.data(), n, file_offset_);
}

void DataChannel::tls_open_received(std::size_t n) {
  tls_->feed_ciphertext({reinterpret_cast<const std::byte*>(read_buffer_.data()), n});
  std::byte plain[16 * 1024];
  for (;;) {
    const tls::IoResult r = tls_->read_plaintext(plain);
    if (r.status == tls::IoStatus::Ok) {
      const std::string_view text(reinterpret_cast<const char*>(plain), r.bytes);
      if (transfer_->type == ftp::TransferType::Ascii) {
        append_ascii_upload(buffer_, text, ascii_cr_pending_);
      } else {
        buffer_.append(text);
      }
      bytes_ += r.bytes;
      continue;
    }
    if (r.status == tls::IoStatus::Closed) {
      eof_ = true;
      if (ascii_cr_pending_) buffer_.push_back('\r');
    } else if (r.status == tls::IoStatus::Failed) {
      log_.warn(who_, "data TLS: " + tls_->last_error_text());
      fail(Result::ConnectionLost, EPROTO);
    }
    return;
  }
}

void DataChannel::on_tls_pump(Op op, int res) {
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
      cipher_sent_ += n;
      break;
    case Op::DataRecv:
      if (n == 0) {
        // TCP EOF. Mid-handshake: the client gave up. On an upload without
        // close_notify: a truncation, never a 226.
        if (!tls_->is_handshake_done()) return fail(Result::TlsFailed, ECONNRESET);
        return fail(Result::ConnectionLost, EPIPE);
      }
      if (!tls_->is_handshake_done()) {
        tls_->feed_ciphertext({reinterpret_cast<const std::byte*>(read_buffer_.data()), n});
        const tls::HandshakeStatus hs = tls_->handshake();
        if (hs == tls::HandshakeStatus::Failed) {
          log_.info(who_, "data TLS handshake failed: " + tls_->last_error_text());
          return fail(Result::TlsFailed, EPROTO);
        }
        if (hs == tls::HandshakeStatus::Done) {
          log_.debug(who_, "data TLS " + std::string(tls_->protocol_version()) +
                               (tls_->is_resumed() ? " (resumed)" : " (full handshake)"));
          if (!tls_resumption_acceptable()) return;
        }
        break;
      }
      tls_open_received(n);
      break;
    case Op::FileRead: {
      if (n == 0) return fail(Result::LocalError, EIO);  // the file shrank under us
      file_offset_ += n;
      remaining_ -= std::min<std::uint64_t>(remaining_, n);
      bytes_ += n;
      if (transfer_->type == ftp::TransferType::Ascii) {
        convert_ascii_out(n);
        tls_seal(buffer_);
        buffer_.clear();
        buffer_sent_ = 0;
      } else {
        tls_seal({read_buffer_.data(), n});
      }
      break;
    }
    case Op::FileWrite:
      buffer_sent_ += n;
      file_offset_ += n;
      break;
    default:
      break;
  }
  tls_step();
}

}  // namespace ringftpd::server
