// A strict reader of the flat JSON objects the JSON log writes, for tests:
// it refuses what a strict parser (RFC 8259) refuses — raw control
// characters in strings, unknown escapes, lone surrogates, invalid UTF-8,
// trailing bytes — so a test passing here means any shipper can read the line.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace ringftpd::server::test_support {

class JsonReader {
 public:
  explicit JsonReader(std::string_view text) : s_(text) {}

  // A quoted string at the cursor, decoded to UTF-8.
  std::optional<std::string> string() {
    if (!eat('"')) return std::nullopt;
    std::string out;
    while (i_ < s_.size()) {
      const auto c = static_cast<unsigned char>(s_[i_]);
      if (c == '"') {
        ++i_;
        return out;
      }
      if (c < 0x20) return std::nullopt;
      if (c == '\\') {
        if (!escape(out)) return std::nullopt;
        continue;
      }
      const std::size_t n = utf8_length(c);
      if (n == 0 || i_ + n > s_.size()) return std::nullopt;
      std::uint32_t cp = n == 1 ? c : c & (0xFF >> (n + 1));
      for (std::size_t k = 1; k < n; ++k) {
        const auto b = static_cast<unsigned char>(s_[i_ + k]);
        if ((b & 0xC0) != 0x80) return std::nullopt;
        cp = (cp << 6) | (b & 0x3F);
      }
      static constexpr std::uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
      if (cp < kMin[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return std::nullopt;
      out.append(s_.substr(i_, n));
      i_ += n;
    }
    return std::nullopt;
  }

  // `{"k":v,...}` then "\n" and nothing more; values are strings (decoded),
  // integers or true/false (as written).
  std::optional<std::map<std::string, std::string>> flat_object_line() {
    std::map<std::string, std::string> fields;
    if (!eat('{')) return std::nullopt;
    bool first = true;
    while (!eat('}')) {
      if (!first && !eat(',')) return std::nullopt;
      first = false;
      auto key = string();
      if (!key || !eat(':') || fields.count(*key) != 0) return std::nullopt;
      std::optional<std::string> value;
      if (i_ < s_.size() && s_[i_] == '"') {
        value = string();
      } else {
        const std::size_t start = i_;
        while (i_ < s_.size() && s_[i_] != ',' && s_[i_] != '}') ++i_;
        const std::string_view word = s_.substr(start, i_ - start);
        if (word == "true" || word == "false" || is_integer(word)) value = std::string(word);
      }
      if (!value) return std::nullopt;
      fields[*key] = *value;
    }
    if (!eat('\n') || i_ != s_.size()) return std::nullopt;
    return fields;
  }

  [[nodiscard]] bool at_end() const { return i_ == s_.size(); }

 private:
  bool eat(char c) {
    if (i_ >= s_.size() || s_[i_] != c) return false;
    ++i_;
    return true;
  }

  static std::size_t utf8_length(unsigned char c) {
    if (c < 0x80) return 1;
    if ((c & 0xE0) == 0xC0) return 2;
    if ((c & 0xF0) == 0xE0) return 3;
    if ((c & 0xF8) == 0xF0) return 4;
    return 0;
  }

  static bool is_integer(std::string_view w) {
    if (!w.empty() && w.front() == '-') w.remove_prefix(1);
    if (w.empty() || (w.size() > 1 && w.front() == '0')) return false;
    for (char c : w) {
      if (c < '0' || c > '9') return false;
    }
    return true;
  }

  std::optional<std::uint32_t> hex4() {
    if (i_ + 4 > s_.size()) return std::nullopt;
    std::uint32_t v = 0;
    for (int k = 0; k < 4; ++k) {
      const char c = s_[i_++];
      v <<= 4;
      if (c >= '0' && c <= '9')
        v |= c - '0';
      else if (c >= 'a' && c <= 'f')
        v |= c - 'a' + 10;
      else if (c >= 'A' && c <= 'F')
        v |= c - 'A' + 10;
      else
        return std::nullopt;
    }
    return v;
  }

  bool escape(std::string& out) {
    ++i_;  // the backslash
    if (i_ >= s_.size()) return false;
    const char c = s_[i_++];
    switch (c) {
      case '"':
        out += '"';
        return true;
      case '\\':
        out += '\\';
        return true;
      case '/':
        out += '/';
        return true;
      case 'b':
        out += '\b';
        return true;
      case 'f':
        out += '\f';
        return true;
      case 'n':
        out += '\n';
        return true;
      case 'r':
        out += '\r';
        return true;
      case 't':
        out += '\t';
        return true;
      case 'u':
        break;
      default:
        return false;
    }
    auto cp = hex4();
    if (!cp) return false;
    if (*cp >= 0xDC00 && *cp <= 0xDFFF) return false;  // a lone low surrogate
    if (*cp >= 0xD800 && *cp <= 0xDBFF) {
      if (!eat('\\') || !eat('u')) return false;
      const auto low = hex4();
      if (!low || *low < 0xDC00 || *low > 0xDFFF) return false;
      cp = 0x10000 + ((*cp - 0xD800) << 10) + (*low - 0xDC00);
    }
    append_utf8(out, *cp);
    return true;
  }

  static void append_utf8(std::string& out, std::uint32_t cp) {
    if (cp < 0x80) {
      out += static_cast<char>(cp);
    } else if (cp < 0x800) {
      out += static_cast<char>(0xC0 | (cp >> 6));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
      out += static_cast<char>(0xE0 | (cp >> 12));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
      out += static_cast<char>(0xF0 | (cp >> 18));
      out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    }
  }

  std::string_view s_;
  std::size_t i_ = 0;
};

}  // namespace ringftpd::server::test_support
