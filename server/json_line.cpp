#include "server/json_line.hpp"

#include <algorithm>
#include <charconv>
#include <utility>

namespace ringftpd::server {
namespace {

// Length of the well-formed UTF-8 sequence starting at s[i], or 0 if the
// byte there does not start one (the Unicode standard's table 3-7: no
// overlong forms, no surrogates, nothing beyond U+10FFFF).
std::size_t utf8_sequence(std::string_view s, std::size_t i) noexcept {
  const auto at = [&](std::size_t k) { return static_cast<unsigned char>(s[i + k]); };
  const unsigned char c = at(0);
  if (c < 0x80) return 1;
  std::size_t n = 0;
  unsigned char lo = 0x80;  // range of the second byte
  unsigned char hi = 0xBF;
  if (c >= 0xC2 && c <= 0xDF) {
    n = 2;
  } else if (c == 0xE0) {
    n = 3, lo = 0xA0;
  } else if ((c >= 0xE1 && c <= 0xEC) || c == 0xEE || c == 0xEF) {
    n = 3;
  } else if (c == 0xED) {
    n = 3, hi = 0x9F;  // D800..DFFF are surrogates
  } else if (c == 0xF0) {
    n = 4, lo = 0x90;
  } else if (c >= 0xF1 && c <= 0xF3) {
    n = 4;
  } else if (c == 0xF4) {
    n = 4, hi = 0x8F;
  } else {
    return 0;  // 80..C1 (continuation, overlong lead), F5..FF
  }
  if (s.size() - i < n) return 0;
  if (at(1) < lo || at(1) > hi) return 0;
  for (std::size_t k = 2; k < n; ++k) {
    if (at(k) < 0x80 || at(k) > 0xBF) return 0;
  }
  return n;
}

// The escaped form of one character (or one bad byte) at s[i]: at most 6
// bytes written to `piece`; returns how many, and sets `used` to the input
// bytes it stands for.
std::size_t escape_one(std::string_view s, std::size_t i, char (&piece)[8],
                       std::size_t& used) noexcept {
  static constexpr char kHex[] = "0123456789abcdef";
  const auto put = [&piece](std::string_view text) {
    std::copy(text.begin(), text.end(), piece);
    return text.size();
  };
  const std::size_t n = utf8_sequence(s, i);
  used = n == 0 ? 1 : n;
  if (n == 0) return put("\\ufffd");
  if (n == 3 && s[i] == '\xE2' && s[i + 1] == '\x80' && (s[i + 2] == '\xA8' || s[i + 2] == '\xA9'))
    return put(s[i + 2] == '\xA8' ? "\\u2028" : "\\u2029");
  if (n > 1) return put(s.substr(i, n));
  const auto c = static_cast<unsigned char>(s[i]);
  switch (c) {
    case '"':
      return put("\\\"");
    case '\\':
      return put("\\\\");
    case '\b':
      return put("\\b");
    case '\f':
      return put("\\f");
    case '\n':
      return put("\\n");
    case '\r':
      return put("\\r");
    case '\t':
      return put("\\t");
    default:
      break;
  }
  if (c < 0x20 || c == 0x7F) {
    const char u[] = {'\\', 'u', '0', '0', kHex[c >> 4], kHex[c & 0xF]};
    return put(std::string_view(u, sizeof u));
  }
  piece[0] = static_cast<char>(c);
  return 1;
}

}  // namespace

bool append_json_string(std::string& out, std::string_view text, std::size_t max_bytes) {
  constexpr std::string_view kCut = "...\"";
  max_bytes = std::max<std::size_t>(max_bytes, 1 + kCut.size());
  const std::size_t limit = out.size() + max_bytes;
  out.push_back('"');
  // The end of the last whole character after which a cut still fits.
  std::size_t cut_at = out.size();
  char piece[8];
  for (std::size_t i = 0; i < text.size();) {
    std::size_t used = 0;
    const std::size_t n = escape_one(text, i, piece, used);
    if (out.size() + n + 1 > limit) {
      out.resize(cut_at);
      out.append(kCut);
      return false;
    }
    out.append(piece, n);
    if (out.size() + kCut.size() <= limit) cut_at = out.size();
    i += used;
  }
  out.push_back('"');
  return true;
}

JsonLine::JsonLine(std::size_t max_bytes)
    : out_("{"), max_bytes_(std::max<std::size_t>(max_bytes, 16)) {}

std::size_t JsonLine::begin_field(std::string_view key, std::size_t value_room) {
  const std::size_t mark = out_.size();
  if (mark > 1) out_.push_back(',');
  append_json_string(out_, key, kMaxTextBytes);
  out_.push_back(':');
  constexpr std::size_t kClose = 2;  // "}\n"
  if (out_.size() + value_room + kClose > max_bytes_) {
    out_.resize(mark);
    return 0;
  }
  return max_bytes_ - out_.size() - kClose;
}

void JsonLine::text(std::string_view key, std::string_view value) {
  constexpr std::size_t kSmallest = 5;  // "..."
  const std::size_t room = begin_field(key, kSmallest);
  if (room == 0) return;
  append_json_string(out_, value, std::min(room, kMaxTextBytes));
}

void JsonLine::number(std::string_view key, std::int64_t value) {
  char digits[24];
  const auto r = std::to_chars(digits, digits + sizeof digits, value);
  raw(key, std::string_view(digits, static_cast<std::size_t>(r.ptr - digits)));
}

void JsonLine::boolean(std::string_view key, bool value) {
  raw(key, value ? "true" : "false");
}

void JsonLine::raw(std::string_view key, std::string_view json) {
  if (begin_field(key, json.size()) == 0) return;
  out_.append(json);
}

std::string JsonLine::finish() {
  out_.append("}\n");
  return std::exchange(out_, std::string(1, '{'));
}

}  // namespace ringftpd::server
