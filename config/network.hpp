// Addresses and networks in binary form, as the configuration holds them: a
// worker compares a client's address against them on every PASV, so they are
// parsed (and host names resolved) once, when a snapshot is loaded, and the
// per-connection work is a few byte comparisons.
//
// Pure values; no system calls beyond inet_pton.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

namespace ringftpd::config {

// An IPv4 address in network byte order, as a 227 reply spells it.
struct Ipv4Address {
  std::array<std::uint8_t, 4> bytes{};
  friend bool operator==(const Ipv4Address&, const Ipv4Address&) = default;
};

// An IPv4 or IPv6 network ("10.0.0.0/8", "2001:db8::/32"). Bits past the
// prefix are zero (parse_network refuses anything else).
struct Network {
  bool is_ipv6 = false;
  std::array<std::uint8_t, 16> bytes{};  // IPv4 in the first 4
  std::uint8_t prefix_bits = 0;          // 0..32 for IPv4, 0..128 for IPv6

  // `address` is 4 bytes (IPv4) or 16 (IPv6), network byte order. An address
  // of the other family is never inside: an IPv4-mapped IPv6 client is matched
  // by passing its last 4 bytes (see server/passive_address.cpp).
  [[nodiscard]] bool contains(std::span<const std::uint8_t> address) const noexcept;
  friend bool operator==(const Network&, const Network&) = default;
};

// Why a network's text was refused.
enum class NetworkError {
  NotAnAddress,  // the part before '/' is no IPv4 or IPv6 literal
  BadPrefix,     // the prefix length is not a number in range
  HostBitsSet,   // "10.1.2.3/8": probably a typo for a host or another network
};

// "a.b.c.d/n" (n 0..32), "v6/n" (n 0..128), or a bare address (a single host,
// /32 or /128). Refused: host bits set, scope ids, spaces, a prefix with a
// sign or leading zeros. On refusal *why (when given) says which rule failed.
[[nodiscard]] std::optional<Network> parse_network(std::string_view text,
                                                   NetworkError* why = nullptr);

}  // namespace ringftpd::config
