#include "server/proxy_header.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <array>
#include <cstring>

namespace ringftpd::server {
namespace {

using Status = ProxyParse::Status;

constexpr std::string_view kV1Prefix = "PROXY ";
constexpr std::array<std::uint8_t, 12> kV2Signature = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D,
                                                       0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};

ProxyParse invalid(std::string_view why) noexcept {
  ProxyParse p;
  p.status = Status::Invalid;
  p.error = why;
  return p;
}

ProxyParse complete(ProxyHeader h) noexcept {
  ProxyParse p;
  p.status = Status::Complete;
  p.header = h;
  return p;
}

std::uint8_t byte_at(std::span<const std::byte> b, std::size_t i) noexcept {
  return static_cast<std::uint8_t>(b[i]);
}

// Do the first bytes agree with the start of `sig`, as far as they go?
template <class Sig>
bool starts_like(std::span<const std::byte> b, const Sig& sig) noexcept {
  const std::size_t n = std::min(b.size(), std::size(sig));
  for (std::size_t i = 0; i < n; ++i) {
    if (byte_at(b, i) != static_cast<std::uint8_t>(sig[i])) return false;
  }
  return true;
}

// --- Version 1: "PROXY TCP4 192.0.2.1 198.51.100.2 51234 21\r\n" ---

// A decimal port with no sign and no leading zero, 0..65535.
std::optional<std::uint16_t> parse_port(std::string_view t) noexcept {
  if (t.empty() || t.size() > 5 || (t.size() > 1 && t[0] == '0')) return std::nullopt;
  std::uint32_t v = 0;
  for (const char c : t) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + static_cast<std::uint32_t>(c - '0');
  }
  if (v > 65535) return std::nullopt;
  return static_cast<std::uint16_t>(v);
}

std::optional<io::SocketAddress> parse_v1_address(std::string_view ip, std::string_view port,
                                                  bool ipv6) noexcept {
  const auto p = parse_port(port);
  if (!p) return std::nullopt;
  std::array<char, INET6_ADDRSTRLEN> text{};
  if (ip.empty() || ip.size() >= text.size()) return std::nullopt;
  std::copy(ip.begin(), ip.end(), text.begin());
  io::SocketAddress a;
  if (ipv6) {
    auto* v6 = reinterpret_cast<sockaddr_in6*>(&a.storage);
    if (inet_pton(AF_INET6, text.data(), &v6->sin6_addr) != 1) return std::nullopt;
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(*p);
    a.length = sizeof(sockaddr_in6);
  } else {
    auto* v4 = reinterpret_cast<sockaddr_in*>(&a.storage);
    if (inet_pton(AF_INET, text.data(), &v4->sin_addr) != 1) return std::nullopt;
    v4->sin_family = AF_INET;
    v4->sin_port = htons(*p);
    a.length = sizeof(sockaddr_in);
  }
  return a;
}

// Splits off the text up to the next single space.
std::string_view next_token(std::string_view& rest) noexcept {
  const std::size_t sp = rest.find(' ');
  const std::string_view token = rest.substr(0, sp);
  rest = sp == std::string_view::npos ? std::string_view{} : rest.substr(sp + 1);
  return token;
}

ProxyParse parse_v1(std::span<const std::byte> b) noexcept {
  if (!starts_like(b, kV1Prefix)) return invalid("not a PROXY header");
  const std::size_t limit = std::min(b.size(), kMaxProxyV1Bytes);
  std::size_t end = 0;  // index of the CR of CRLF
  bool found = false;
  for (std::size_t i = 0; i < limit; ++i) {
    const std::uint8_t c = byte_at(b, i);
    if (c == '\r') {
      if (i + 1 == b.size()) {
        // The LF may follow, if the line still fits with it.
        if (i + 2 > kMaxProxyV1Bytes) return invalid("v1 header has no CRLF within 107 bytes");
        return ProxyParse{};
      }
      if (byte_at(b, i + 1) != '\n') return invalid("v1 header has a CR without LF");
      end = i;
      found = true;
      break;
    }
    if (c < 0x20 || c > 0x7E) return invalid("v1 header has a byte that is not printable ASCII");
  }
  if (!found) {
    if (b.size() >= kMaxProxyV1Bytes) return invalid("v1 header has no CRLF within 107 bytes");
    return ProxyParse{};
  }
  const std::string_view line(reinterpret_cast<const char*>(b.data()), end);
  std::string_view rest = line.substr(kV1Prefix.size());
  const std::string_view proto = next_token(rest);
  ProxyHeader h;
  h.version = 1;
  h.length = end + 2;
  // UNKNOWN: the balancer could not tell (or does not say); whatever follows
  // it on the line is to be ignored, says the specification.
  if (proto == "UNKNOWN") return complete(h);
  if (proto != "TCP4" && proto != "TCP6") return invalid("v1 header names an unknown protocol");
  const bool ipv6 = proto == "TCP6";
  const std::string_view src = next_token(rest);
  const std::string_view dst = next_token(rest);
  const std::string_view sport = next_token(rest);
  const std::string_view dport = rest;
  if (dport.empty() || dport.find(' ') != std::string_view::npos) {
    return invalid("v1 header does not have four address fields");
  }
  h.source = parse_v1_address(src, sport, ipv6);
  h.destination = parse_v1_address(dst, dport, ipv6);
  if (!h.source || !h.destination) return invalid("v1 header has a malformed address or port");
  return complete(h);
}

// --- Version 2: a binary header with a 16-byte fixed part ---

std::uint16_t be16(std::span<const std::byte> b, std::size_t i) noexcept {
  return static_cast<std::uint16_t>((byte_at(b, i) << 8) | byte_at(b, i + 1));
}

io::SocketAddress v2_ipv4(std::span<const std::byte> addr, std::uint16_t port_be) noexcept {
  io::SocketAddress a;
  auto* v4 = reinterpret_cast<sockaddr_in*>(&a.storage);
  v4->sin_family = AF_INET;
  std::memcpy(&v4->sin_addr, addr.data(), 4);
  v4->sin_port = htons(port_be);
  a.length = sizeof(sockaddr_in);
  return a;
}

io::SocketAddress v2_ipv6(std::span<const std::byte> addr, std::uint16_t port_be) noexcept {
  io::SocketAddress a;
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&a.storage);
  v6->sin6_family = AF_INET6;
  std::memcpy(&v6->sin6_addr, addr.data(), 16);
  v6->sin6_port = htons(port_be);
  a.length = sizeof(sockaddr_in6);
  return a;
}

// TLVs (type, 16-bit length, value) fill the rest of the header. None
// changes what we do (ALPN, authority, unique id, SSL details, CRC32C are for
// servers that want them), but each must fit: a header whose TLVs overrun
// it was cut or forged.
bool tlvs_fit(std::span<const std::byte> tlvs) noexcept {
  std::size_t i = 0;
  while (i < tlvs.size()) {
    if (tlvs.size() - i < 3) return false;
    const std::size_t len = be16(tlvs, i + 1);
    i += 3;
    if (tlvs.size() - i < len) return false;
    i += len;
  }
  return true;
}

ProxyParse parse_v2(std::span<const std::byte> b) noexcept {
  if (!starts_like(b, kV2Signature)) return invalid("not a PROXY header");
  if (b.size() < kProxyV2FixedBytes) return ProxyParse{};
  const std::uint8_t ver_cmd = byte_at(b, 12);
  const std::uint8_t fam = byte_at(b, 13);
  const std::size_t payload = be16(b, 14);
  if ((ver_cmd >> 4) != 2) return invalid("v2 header has an unknown version");
  const std::uint8_t command = ver_cmd & 0x0F;
  if (command > 1) return invalid("v2 header has an unknown command");
  if (payload > kMaxProxyV2PayloadBytes) return invalid("v2 header is longer than 1024 bytes");
  if (b.size() < kProxyV2FixedBytes + payload) return ProxyParse{};
  const std::span<const std::byte> body = b.subspan(kProxyV2FixedBytes, payload);
  ProxyHeader h;
  h.version = 2;
  h.length = kProxyV2FixedBytes + payload;
  // LOCAL: the balancer speaks for itself (health checks); the address
  // block, whatever it holds, is to be ignored.
  if (command == 0) return complete(h);
  const std::uint8_t family = fam >> 4;
  const std::uint8_t transport = fam & 0x0F;
  if (family == 0) return complete(h);  // UNSPEC: the socket's addresses stand
  if (transport != 1) return invalid("v2 header is not for a stream connection");
  std::size_t block = 0;
  switch (family) {
    case 1:  // AF_INET
      block = 12;
      if (payload < block) return invalid("v2 header is too short for IPv4 addresses");
      h.source = v2_ipv4(body.subspan(0, 4), be16(body, 8));
      h.destination = v2_ipv4(body.subspan(4, 4), be16(body, 10));
      break;
    case 2:  // AF_INET6
      block = 36;
      if (payload < block) return invalid("v2 header is too short for IPv6 addresses");
      h.source = v2_ipv6(body.subspan(0, 16), be16(body, 32));
      h.destination = v2_ipv6(body.subspan(16, 16), be16(body, 34));
      break;
    case 3:  // AF_UNIX: no address we can check or log; the socket's stand
      block = 216;
      if (payload < block) return invalid("v2 header is too short for UNIX addresses");
      break;
    default:
      return invalid("v2 header has an unknown address family");
  }
  if (!tlvs_fit(body.subspan(block))) return invalid("v2 header has a malformed TLV");
  return complete(h);
}

}  // namespace

ProxyParse parse_proxy_header(std::span<const std::byte> bytes, ProxyVersions accepted) noexcept {
  if (bytes.empty()) return ProxyParse{};
  // The first byte tells the versions apart: 'P' or CR.
  const bool looks_v1 = byte_at(bytes, 0) == 'P';
  const bool looks_v2 = byte_at(bytes, 0) == kV2Signature[0];
  if (looks_v1 && accepted != ProxyVersions::V2) return parse_v1(bytes);
  if (looks_v2 && accepted != ProxyVersions::V1) return parse_v2(bytes);
  if (looks_v1 || looks_v2) return invalid("PROXY header of a version this listener does not take");
  return invalid("not a PROXY header");
}

std::string_view proxy_versions_name(ProxyVersions v) noexcept {
  switch (v) {
    case ProxyVersions::V1:
      return "v1";
    case ProxyVersions::V2:
      return "v2";
    case ProxyVersions::Any:
      return "any";
  }
  return "?";
}

}  // namespace ringftpd::server
