#include "server/ftp/line_splitter.hpp"

#include <algorithm>
#include <cstring>

namespace ringftpd::server::ftp {

namespace {

// Telnet command bytes (RFC 854).
constexpr unsigned char kIac = 255;
constexpr unsigned char kWill = 251;  // WILL WONT DO DONT (251..254) take an option byte
constexpr unsigned char kDont = 254;
constexpr unsigned char kSe = 240;  // SE..SB (240..250) are two-byte commands

}  // namespace

LineSplitter::LineSplitter(std::size_t max_line_bytes)
    : max_line_bytes_(std::max(max_line_bytes, kMinMaxLineBytes)) {}

std::size_t LineSplitter::feed(std::span<const char> bytes) {
  compact();
  std::size_t i = 0;
  while (i < bytes.size()) {
    if (!discarding_ && buffer_.size() >= max_line_bytes_) break;  // full: drain next()
    if (telnet_ == TelnetState::Data && !discarding_) {
      // Fast path: copy the run up to the next IAC, or as much as fits.
      const std::size_t limit = std::min(max_line_bytes_ - buffer_.size(), bytes.size() - i);
      const char* begin = bytes.data() + i;
      const void* iac = std::memchr(begin, static_cast<int>(kIac), limit);
      const std::size_t run =
          iac == nullptr ? limit : static_cast<std::size_t>(static_cast<const char*>(iac) - begin);
      buffer_.append(begin, run);
      i += run;
      if (run == limit) continue;
    }
    accept_byte(bytes[i]);
    ++i;
  }
  return i;
}

LineSplitter::Result LineSplitter::next() {
  if (start_ == buffer_.size()) {
    // Everything returned: reset cheaply. No view is outstanding (next() invalidates).
    buffer_.clear();
    start_ = scanned_ = 0;
    return {Kind::NeedMore, {}};
  }
  const std::size_t lf = buffer_.find('\n', scanned_);
  if (lf == std::string::npos) {
    scanned_ = buffer_.size();
    if (buffer_.size() - start_ < max_line_bytes_) return {Kind::NeedMore, {}};
    // max_line_bytes_ bytes and no LF: the terminator cannot fit any more.
    buffer_.clear();
    start_ = scanned_ = 0;
    discarding_ = true;
    return {Kind::TooLong, {}};
  }
  std::size_t end = lf;
  if (end > start_ && buffer_[end - 1] == '\r') --end;
  const std::string_view line(buffer_.data() + start_, end - start_);
  start_ = scanned_ = lf + 1;
  return {Kind::Line, line};
}

void LineSplitter::discard_buffered() noexcept {
  buffer_.clear();
  start_ = scanned_ = 0;
  telnet_ = TelnetState::Data;
  discarding_ = false;
}

void LineSplitter::accept_byte(char c) {
  const auto b = static_cast<unsigned char>(c);
  switch (telnet_) {
    case TelnetState::Data:
      if (b == kIac) {
        telnet_ = TelnetState::Iac;
      } else {
        store_byte(c);
      }
      return;
    case TelnetState::Iac:
      telnet_ = TelnetState::Data;
      if (b == kIac) {
        store_byte(c);  // IAC IAC: a literal 0xFF
      } else if (b >= kWill && b <= kDont) {
        telnet_ = TelnetState::Option;
      } else if (b < kSe) {
        store_byte(c);  // not a telnet command (e.g. DM taken out of band): keep the byte
      }
      return;
    case TelnetState::Option:
      telnet_ = TelnetState::Data;
      return;
  }
}

void LineSplitter::store_byte(char c) {
  if (discarding_) {
    if (c == '\n') discarding_ = false;  // the too-long line ends here
    return;
  }
  buffer_.push_back(c);
}

void LineSplitter::compact() {
  if (start_ == 0) return;
  buffer_.erase(0, start_);
  scanned_ -= start_;
  start_ = 0;
}

}  // namespace ringftpd::server::ftp
