#include "server/ftp/reply.hpp"

#include <array>

#include "server/ftp/text.hpp"

namespace ringftpd::server::ftp {

namespace {

constexpr int kMinReplyCode = 100;
constexpr int kMaxReplyCode = 599;

constexpr bool is_control(char c) noexcept {
  const auto b = static_cast<unsigned char>(c);
  return b < 0x20 || b == 0x7F;
}

void append_code(std::string& out, int code, char separator) {
  const std::array<char, 4> digits = {
      static_cast<char>('0' + code / 100),
      static_cast<char>('0' + code / 10 % 10),
      static_cast<char>('0' + code % 10),
      separator,
  };
  out.append(digits.data(), digits.size());
}

// Appends `line` (which holds no '\n') with control characters turned into spaces.
void append_sanitised(std::string& out, std::string_view line) {
  for (char c : line) out.push_back(is_control(c) ? ' ' : c);
}

}  // namespace

void format(const Reply& reply, std::string& out) {
  const int code =
      reply.code >= kMinReplyCode && reply.code <= kMaxReplyCode ? reply.code : kReplyLocalError;
  std::string_view text = reply.text;
  if (!text.empty() && text.back() == '\n') text.remove_suffix(1);

  std::size_t nl = text.find('\n');
  if (nl == std::string_view::npos) {
    append_code(out, code, ' ');
    append_sanitised(out, text);
    out.append("\r\n");
    return;
  }
  out.reserve(out.size() + text.size() + 16);
  append_code(out, code, '-');
  append_sanitised(out, text.substr(0, nl));
  out.append("\r\n");
  text.remove_prefix(nl + 1);
  while ((nl = text.find('\n')) != std::string_view::npos) {
    const std::string_view line = text.substr(0, nl);
    // RFC 959 §4.2: a middle line must not look like "ddd " or "ddd-".
    if (!line.empty() && text::is_digit(line.front())) out.push_back(' ');
    append_sanitised(out, line);
    out.append("\r\n");
    text.remove_prefix(nl + 1);
  }
  append_code(out, code, ' ');
  append_sanitised(out, text);
  out.append("\r\n");
}

std::string to_wire(const Reply& reply) {
  std::string out;
  format(reply, out);
  return out;
}

void append_single_line(std::string& text, std::string_view untrusted) {
  append_sanitised(text, untrusted);  // '\n' is a control character too
}

std::string quote_pathname(std::string_view path) {
  std::string out;
  out.reserve(path.size() + 2);
  out.push_back('"');
  for (char c : path) {
    if (c == '"') {
      out.append("\"\"");
    } else {
      out.push_back(is_control(c) ? ' ' : c);
    }
  }
  out.push_back('"');
  return out;
}

Reply feat_reply(std::span<const std::string_view> features) {
  if (features.empty()) return Reply{kReplySystemStatus, "No features"};
  Reply reply{kReplySystemStatus, "Features:\n"};
  for (std::string_view feature : features) {
    reply.text.push_back(' ');
    append_single_line(reply.text, feature);
    reply.text.push_back('\n');
  }
  reply.text.append("End");
  return reply;
}

}  // namespace ringftpd::server::ftp
