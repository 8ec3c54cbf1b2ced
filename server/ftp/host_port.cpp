#include "server/ftp/host_port.hpp"

#include <arpa/inet.h>  // inet_pton: a pure text -> bytes conversion, no socket involved

#include <string>

#include "server/ftp/text.hpp"

namespace ringftpd::server::ftp {

namespace {

constexpr std::size_t kPortFields = 6;
constexpr std::size_t kMaxPortFieldDigits = 3;  // 0..255
constexpr std::uint32_t kMaxByte = 255;
constexpr std::uint32_t kMaxTcpPort = 65535;
constexpr char kMinDelimiter = 33;  // RFC 2428 §2: the delimiter is ASCII 33..126
constexpr char kMaxDelimiter = 126;
constexpr std::size_t kMaxAddressText = 64;  // > INET6_ADDRSTRLEN (46)

// Parses a decimal network protocol number ("1", "2", "17"); false if not a number.
bool parse_net_prt(std::string_view s, std::uint32_t& out) noexcept {
  return s.size() <= 5 && text::parse_decimal(s, out);
}

bool parse_tcp_port(std::string_view s, std::uint16_t& out) noexcept {
  std::uint32_t value = 0;
  if (s.size() > 5 || !text::parse_decimal(s, value) || value > kMaxTcpPort) return false;
  out = static_cast<std::uint16_t>(value);
  return true;
}

// inet_pton wants a NUL-terminated string; copy into a bounded local buffer.
bool parse_address(std::string_view s, AddressFamily family, HostPort& out) noexcept {
  if (s.empty() || s.size() >= kMaxAddressText) return false;
  std::array<char, kMaxAddressText> z{};
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\0') return false;
    z[i] = s[i];
  }
  const int af = family == AddressFamily::Ipv4 ? AF_INET : AF_INET6;
  out.family = family;
  out.address = {};
  return inet_pton(af, z.data(), out.address.data()) == 1;
}

}  // namespace

ParseResult<HostPort> parse_port_argument(std::string_view arg) noexcept {
  using R = ParseResult<HostPort>;
  std::array<std::uint32_t, kPortFields> fields{};
  for (std::size_t i = 0; i < kPortFields; ++i) {
    const std::size_t comma = arg.find(',');
    const bool last = i + 1 == kPortFields;
    if (last != (comma == std::string_view::npos)) return R::syntax_error();
    const std::string_view field = arg.substr(0, comma);
    if (field.size() > kMaxPortFieldDigits || !text::parse_decimal(field, fields[i]) ||
        fields[i] > kMaxByte) {
      return R::syntax_error();
    }
    if (!last) arg.remove_prefix(comma + 1);
  }
  HostPort hp;
  hp.family = AddressFamily::Ipv4;
  for (std::size_t i = 0; i < 4; ++i) hp.address[i] = static_cast<std::uint8_t>(fields[i]);
  hp.port = static_cast<std::uint16_t>(fields[4] << 8 | fields[5]);
  return R::success(hp);
}

ParseResult<HostPort> parse_eprt_argument(std::string_view arg) noexcept {
  using R = ParseResult<HostPort>;
  if (arg.size() < 2) return R::syntax_error();
  const char d = arg.front();
  if (d < kMinDelimiter || d > kMaxDelimiter || arg.back() != d) return R::syntax_error();
  // Between the first and the last delimiter: net-prt d net-addr d tcp-port.
  std::string_view body = arg.substr(1, arg.size() - 2);
  const std::size_t d1 = body.find(d);
  if (d1 == std::string_view::npos) return R::syntax_error();
  const std::size_t d2 = body.find(d, d1 + 1);
  if (d2 == std::string_view::npos || body.find(d, d2 + 1) != std::string_view::npos) {
    return R::syntax_error();
  }
  const std::string_view net_prt = body.substr(0, d1);
  const std::string_view net_addr = body.substr(d1 + 1, d2 - d1 - 1);
  const std::string_view tcp_port = body.substr(d2 + 1);

  std::uint32_t protocol = 0;
  if (!parse_net_prt(net_prt, protocol)) return R::syntax_error();
  HostPort hp;
  if (!parse_tcp_port(tcp_port, hp.port)) return R::syntax_error();
  switch (protocol) {
    case 1:
      if (!parse_address(net_addr, AddressFamily::Ipv4, hp)) return R::syntax_error();
      return R::success(hp);
    case 2:
      if (!parse_address(net_addr, AddressFamily::Ipv6, hp)) return R::syntax_error();
      return R::success(hp);
    default:
      return R::unsupported();
  }
}

ParseResult<EpsvArgument> parse_epsv_argument(std::string_view arg) noexcept {
  using R = ParseResult<EpsvArgument>;
  if (arg.empty()) return R::success(EpsvArgument::Any);
  if (text::iequals(arg, "ALL")) return R::success(EpsvArgument::All);
  std::uint32_t protocol = 0;
  if (!parse_net_prt(arg, protocol)) return R::syntax_error();
  if (protocol == 1) return R::success(EpsvArgument::Ipv4);
  if (protocol == 2) return R::success(EpsvArgument::Ipv6);
  return R::unsupported();
}

Reply format_pasv_reply(const std::array<std::uint8_t, 4>& address, std::uint16_t port) {
  std::string text = "Entering Passive Mode (";
  for (std::uint8_t byte : address) {
    text += std::to_string(byte);
    text.push_back(',');
  }
  text += std::to_string(port >> 8);
  text.push_back(',');
  text += std::to_string(port & 0xFF);
  text.push_back(')');
  return Reply{kReplyEnteringPassiveMode, std::move(text)};
}

Reply format_epsv_reply(std::uint16_t port) {
  return Reply{kReplyEnteringExtendedPassiveMode,
               "Entering Extended Passive Mode (|||" + std::to_string(port) + "|)"};
}

}  // namespace ringftpd::server::ftp
