// FTP replies as a client reads them (RFC 959 4.2), and the few reply bodies
// ftpsload must understand (227 PASV, 229 EPSV, 213 SIZE).
//
// ReplyReader is fed the control connection's plaintext in whatever pieces
// the transport delivers and hands out complete replies, single- or
// multi-line. It is pure (no I/O, no clock) and bounded: a line longer than
// kMaxLineBytes or a reply longer than kMaxReplyBytes is an error, so a
// server sending garbage without line ends cannot make it grow. After an
// error it stays failed; the caller drops the connection.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace ringftpd::ftpsload {

struct Reply {
  int code = 0;      // 100..599
  std::string text;  // every line without its code prefix, joined with '\n'

  [[nodiscard]] bool is_preliminary() const noexcept { return code >= 100 && code < 200; }
  [[nodiscard]] bool is_success() const noexcept { return code >= 200 && code < 300; }
};

class ReplyReader {
 public:
  static constexpr std::size_t kMaxLineBytes = 8 * 1024;
  static constexpr std::size_t kMaxReplyBytes = 64 * 1024;

  enum class Status : std::uint8_t {
    NeedMore,   // no complete reply buffered
    Ready,      // `out` holds the next reply
    Malformed,  // a reply's first line does not start with a code (100..599)
    TooLong,    // a line or a multi-line reply over its limit
  };

  void feed(std::string_view bytes);
  void feed(std::span<const std::byte> bytes) {
    feed(std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
  }
  // The next complete reply, if any. Errors are sticky.
  [[nodiscard]] Status next(Reply& out);
  // Bytes received but not yet part of a returned reply (after AUTH TLS's
  // 234 there must be none: anything else arrived in clear, unprotected).
  [[nodiscard]] bool has_buffered() const noexcept { return pos_ < buf_.size() || code_ != 0; }
  void reset() noexcept;

 private:
  std::string buf_;
  std::size_t pos_ = 0;  // start of the first unconsumed line in buf_
  int code_ = 0;         // inside a multi-line reply with this code
  std::string text_;     // its lines so far
  Status error_ = Status::NeedMore;
};

// The data port of a 227 reply ("Entering Passive Mode (h1,h2,h3,h4,p1,p2)",
// with or without the parentheses). The address is ignored: ftpsload always
// connects to the control connection's peer (as curl --ftp-skip-pasv-ip).
[[nodiscard]] std::optional<std::uint16_t> parse_pasv_port(std::string_view text);
// The port of a 229 reply: "Entering Extended Passive Mode (|||6446|)"; any
// printable delimiter in place of '|' (RFC 2428).
[[nodiscard]] std::optional<std::uint16_t> parse_epsv_port(std::string_view text);
// The size in a 213 reply to SIZE ("213 1048576").
[[nodiscard]] std::optional<std::uint64_t> parse_size_reply(std::string_view text);

}  // namespace ringftpd::ftpsload
