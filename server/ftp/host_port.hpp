// Data-connection addresses in FTP arguments and replies: PORT and the 227 reply
// (RFC 959), EPRT, EPSV and the 229 reply (RFC 2428). Pure functions.
//
// Parsing is syntax only. Policy belongs to the session: PORT/EPRT must name the
// control peer's own address and a port >= 1024 (bounce attack, RFC 2577 §3), and an
// IPv4-mapped IPv6 peer (::ffff:a.b.c.d) must be unmapped before comparing.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

#include "server/ftp/parse_result.hpp"
#include "server/ftp/reply.hpp"

namespace ringftpd::server::ftp {

enum class AddressFamily : std::uint8_t { Ipv4, Ipv6 };

struct HostPort {
  AddressFamily family = AddressFamily::Ipv4;
  std::array<std::uint8_t, 16> address{};  // network byte order; IPv4 uses [0, 4), rest 0
  std::uint16_t port = 0;                  // host byte order; 0..65535, policy checks later

  friend bool operator==(const HostPort&, const HostPort&) = default;
};

// PORT h1,h2,h3,h4,p1,p2 (RFC 959 §4.1.2): six decimal fields of 1-3 digits, each
// 0..255, separated by ',' with no spaces. port = p1 * 256 + p2. Errors: Syntax (501).
[[nodiscard]] ParseResult<HostPort> parse_port_argument(std::string_view arg) noexcept;

// EPRT <d><net-prt><d><net-addr><d><tcp-port><d> (RFC 2428 §2). The delimiter d is any
// ASCII character 33..126 ('|' in practice). net-prt 1 = IPv4 dotted quad, 2 = IPv6
// text form (no zone id); tcp-port is decimal 0..65535.
// Errors: Unsupported (522, "Network protocol not supported, use (1,2)") for another
// numeric net-prt; Syntax (501) for everything else, including an address that does not
// match its net-prt.
[[nodiscard]] ParseResult<HostPort> parse_eprt_argument(std::string_view arg) noexcept;

enum class EpsvArgument : std::uint8_t {
  Any,   // "EPSV": the control connection's family
  Ipv4,  // "EPSV 1"
  Ipv6,  // "EPSV 2"
  All,   // "EPSV ALL": from now on refuse PORT, EPRT, PASV (RFC 2428 §4)
};

// EPSV [<net-prt> | ALL] (RFC 2428 §3). Errors: Unsupported (522) for another numeric
// net-prt; Syntax (501) otherwise.
[[nodiscard]] ParseResult<EpsvArgument> parse_epsv_argument(std::string_view arg) noexcept;

// 227 Entering Passive Mode (h1,h2,h3,h4,p1,p2)
[[nodiscard]] Reply format_pasv_reply(const std::array<std::uint8_t, 4>& address,
                                      std::uint16_t port);

// 229 Entering Extended Passive Mode (|||port|)
[[nodiscard]] Reply format_epsv_reply(std::uint16_t port);

}  // namespace ringftpd::server::ftp
