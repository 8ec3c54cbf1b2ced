// LineSplitter: turns the plaintext byte stream of an FTP control connection into
// command lines. Pure: no fd, no clock, no allocation after the buffer reached its cap.
//
// Contract
// - feed(bytes) copies as many bytes as fit into the internal buffer and returns how
//   many it consumed. The buffer never holds more than max_line_bytes() bytes, so a
//   client cannot make it grow by sending a long line or many pipelined lines. Bytes
//   not consumed stay with the caller, who feeds them again after draining next():
//
//     while (!in.empty()) {
//       in = in.subspan(splitter.feed(in));
//       for (auto r = splitter.next(); r.kind != LineSplitter::Kind::NeedMore;
//            r = splitter.next()) {
//         handle(r);  // after AUTH TLS: splitter.discard_buffered(); drop `in` too
//       }
//     }
//
//   Progress is guaranteed: when feed() consumes nothing the buffer is full, and then
//   next() returns Line or TooLong.
// - next() returns the next complete line, or NeedMore. A line ends at LF; one CR just
//   before the LF is part of the terminator (CRLF per RFC 959; a bare LF is accepted
//   because some clients send it). The returned line excludes the terminator, never
//   contains '\n', and may contain any other byte (a lone CR, NUL, bytes >= 0x80):
//   whoever turns an argument into a path must reject NUL.
//   The view stays valid until the next call to feed(), next() or discard_buffered().
// - Length limit: a line including its terminator is at most max_line_bytes(). A longer
//   line is reported exactly once as TooLong (with an empty view), and its bytes are
//   dropped up to and including the next LF, so the line after it parses cleanly. The
//   session answers it with 500 and counts it against the error budget.
// - Telnet (RFC 959 §4.1.3, RFC 854) is filtered before lines are cut and counted:
//     IAC IAC                    -> one literal 0xFF byte
//     IAC WILL|WONT|DO|DONT opt  -> dropped (3 bytes; we negotiate no options)
//     IAC <240..250>             -> dropped (2 bytes: SE NOP DM BRK IP AO AYT EC EL GA SB)
//     IAC <0..239>               -> the IAC is dropped, the byte is kept. This is what
//       reaches us of "IAC IP IAC DM ABOR" when the kernel pulls the urgent DM byte out
//       of the stream (no SO_OOBINLINE); keeping the byte keeps the A of ABOR.
//   The filter state survives across feed() calls (a sequence may be split anywhere).
// - discard_buffered() forgets everything: buffered bytes, a pending TooLong discard,
//   and a half-read telnet sequence. Used after AUTH TLS: bytes pipelined behind it
//   arrived in clear and must never be executed (the STARTTLS injection attack,
//   CVE-2011-0411 class). The caller must also drop bytes it has not fed yet.
//
// One LineSplitter per control connection; not thread-safe; movable and copyable.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace ringftpd::server::ftp {

class LineSplitter {
 public:
  // RFC 959 sets no limit; 4096 comfortably fits a long path (PATH_MAX) in a command.
  static constexpr std::size_t kDefaultMaxLineBytes = 4096;
  // The smallest useful limit: an empty line with its CRLF. Smaller values are raised.
  static constexpr std::size_t kMinMaxLineBytes = 2;

  enum class Kind : std::uint8_t {
    NeedMore,  // no complete line buffered: feed more bytes
    Line,      // `line` holds one line without its terminator
    TooLong,   // a line exceeded the limit; its bytes are being discarded
  };

  struct Result {
    Kind kind = Kind::NeedMore;
    std::string_view line;
  };

  explicit LineSplitter(std::size_t max_line_bytes = kDefaultMaxLineBytes);

  // Consumes a prefix of `bytes` (all of it unless the buffer fills up) and returns its
  // length. Invalidates the view returned by the previous next().
  [[nodiscard]] std::size_t feed(std::span<const char> bytes);

  // The next complete line, TooLong, or NeedMore. See the contract above.
  [[nodiscard]] Result next();

  // Drops all buffered bytes and resets the telnet and TooLong state.
  void discard_buffered() noexcept;

  // Bytes held (after telnet filtering) that next() has not returned yet.
  [[nodiscard]] std::size_t buffered_bytes() const noexcept { return buffer_.size() - start_; }

  [[nodiscard]] std::size_t max_line_bytes() const noexcept { return max_line_bytes_; }

 private:
  enum class TelnetState : std::uint8_t { Data, Iac, Option };

  // Filters one input byte through the telnet state machine into the buffer (or drops
  // it while discarding a too-long line).
  void accept_byte(char c);
  void store_byte(char c);
  void compact();

  std::size_t max_line_bytes_;
  std::string buffer_;       // bytes [start_, size) are not yet returned
  std::size_t start_ = 0;    // where the next line begins
  std::size_t scanned_ = 0;  // bytes [start_, scanned_) hold no LF
  TelnetState telnet_ = TelnetState::Data;
  bool discarding_ = false;  // dropping the rest of a too-long line up to its LF
};

}  // namespace ringftpd::server::ftp
