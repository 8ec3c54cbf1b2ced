#include "tools/ftpsload/reply_reader.hpp"

#include <charconv>

namespace ringftpd::ftpsload {
namespace {

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

// The code of a line that starts a reply ("220 x", "220-x", "220"), or 0.
int leading_code(std::string_view line) {
  if (line.size() < 3 || !is_digit(line[0]) || !is_digit(line[1]) || !is_digit(line[2])) return 0;
  if (line.size() > 3 && line[3] != ' ' && line[3] != '-') return 0;
  const int code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
  return code >= 100 && code < 600 ? code : 0;
}

std::string_view after_code(std::string_view line) {
  return line.size() > 4 ? line.substr(4) : std::string_view{};
}

// Reads an unsigned decimal number at `pos`, advancing it.
template <class T>
std::optional<T> read_number(std::string_view s, std::size_t& pos) {
  T value{};
  const char* first = s.data() + pos;
  const auto [end, ec] = std::from_chars(first, s.data() + s.size(), value);
  if (ec != std::errc{} || end == first) return std::nullopt;
  pos += static_cast<std::size_t>(end - first);
  return value;
}

}  // namespace

void ReplyReader::feed(std::string_view bytes) {
  if (error_ != Status::NeedMore) return;
  if (pos_ > 0 && pos_ == buf_.size()) {
    buf_.clear();
    pos_ = 0;
  } else if (pos_ > 4096) {
    buf_.erase(0, pos_);
    pos_ = 0;
  }
  buf_.append(bytes);
}

ReplyReader::Status ReplyReader::next(Reply& out) {
  while (error_ == Status::NeedMore) {
    const std::size_t nl = buf_.find('\n', pos_);
    if (nl == std::string::npos) {
      if (buf_.size() - pos_ > kMaxLineBytes) error_ = Status::TooLong;
      return error_;
    }
    std::string_view line(buf_.data() + pos_, nl - pos_);
    pos_ = nl + 1;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.size() > kMaxLineBytes) {
      error_ = Status::TooLong;
      break;
    }
    if (code_ == 0) {  // the first line of a reply
      const int code = leading_code(line);
      if (code == 0) {
        error_ = Status::Malformed;
        break;
      }
      if (line.size() > 3 && line[3] == '-') {
        code_ = code;
        text_.assign(after_code(line));
        continue;
      }
      out.code = code;
      out.text.assign(after_code(line));
      return Status::Ready;
    }
    // Inside a multi-line reply: it ends at a line "<same code> " (or the
    // bare code); any other line, digits or not, is part of the text.
    const bool last = leading_code(line) == code_ && (line.size() == 3 || line[3] == ' ');
    if (text_.size() + line.size() + 1 > kMaxReplyBytes) {
      error_ = Status::TooLong;
      break;
    }
    text_ += '\n';
    text_ += last ? after_code(line) : line;
    if (last) {
      out.code = code_;
      out.text = std::move(text_);
      text_.clear();
      code_ = 0;
      return Status::Ready;
    }
  }
  return error_;
}

void ReplyReader::reset() noexcept {
  buf_.clear();
  pos_ = 0;
  code_ = 0;
  text_.clear();
  error_ = Status::NeedMore;
}

std::optional<std::uint16_t> parse_pasv_port(std::string_view text) {
  std::size_t pos = text.find('(');
  if (pos == std::string_view::npos) {
    pos = text.find_first_of("0123456789");
    if (pos == std::string_view::npos) return std::nullopt;
  } else {
    ++pos;
  }
  unsigned fields[6];
  for (int i = 0; i < 6; ++i) {
    while (pos < text.size() && text[pos] == ' ') ++pos;
    const auto v = read_number<unsigned>(text, pos);
    if (!v || *v > 255) return std::nullopt;
    fields[i] = *v;
    while (pos < text.size() && text[pos] == ' ') ++pos;
    if (i < 5) {
      if (pos >= text.size() || text[pos] != ',') return std::nullopt;
      ++pos;
    }
  }
  const unsigned port = fields[4] * 256 + fields[5];
  if (port == 0) return std::nullopt;
  return static_cast<std::uint16_t>(port);
}

std::optional<std::uint16_t> parse_epsv_port(std::string_view text) {
  std::size_t pos = text.find('(');
  if (pos == std::string_view::npos || pos + 4 >= text.size()) return std::nullopt;
  const char d = text[pos + 1];
  if (d < 33 || d > 126 || is_digit(d) || text[pos + 2] != d || text[pos + 3] != d) {
    return std::nullopt;
  }
  pos += 4;
  const auto port = read_number<unsigned>(text, pos);
  if (!port || *port == 0 || *port > 65535) return std::nullopt;
  if (pos >= text.size() || text[pos] != d) return std::nullopt;
  return static_cast<std::uint16_t>(*port);
}

std::optional<std::uint64_t> parse_size_reply(std::string_view text) {
  std::size_t pos = 0;
  while (pos < text.size() && text[pos] == ' ') ++pos;
  const auto size = read_number<std::uint64_t>(text, pos);
  if (!size) return std::nullopt;
  while (pos < text.size() && (text[pos] == ' ' || text[pos] == '\r')) ++pos;
  if (pos != text.size()) return std::nullopt;
  return size;
}

}  // namespace ringftpd::ftpsload
