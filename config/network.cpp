// CIDR text -> Network, and the prefix comparison a PASV runs per rule.
#include "config/network.hpp"

#include <arpa/inet.h>

#include <charconv>
#include <string>

namespace ringftpd::config {

bool Network::contains(std::span<const std::uint8_t> address) const noexcept {
  if (address.size() != (is_ipv6 ? 16u : 4u)) return false;
  const unsigned whole = prefix_bits / 8;
  for (unsigned i = 0; i < whole; ++i) {
    if (address[i] != bytes[i]) return false;
  }
  const unsigned rest = prefix_bits % 8;
  if (rest == 0) return true;
  const auto mask = static_cast<std::uint8_t>(0xFFu << (8 - rest));
  return (address[whole] & mask) == bytes[whole];
}

std::optional<Network> parse_network(std::string_view text, NetworkError* why) {
  const auto refuse = [why](NetworkError e) -> std::optional<Network> {
    if (why != nullptr) *why = e;
    return std::nullopt;
  };
  const auto slash = text.find('/');
  // inet_pton needs a NUL-terminated string; it also refuses "%scope" and spaces.
  const std::string ip(text.substr(0, slash));
  Network n;
  if (::inet_pton(AF_INET, ip.c_str(), n.bytes.data()) == 1) {
    n.is_ipv6 = false;
  } else if (::inet_pton(AF_INET6, ip.c_str(), n.bytes.data()) == 1) {
    n.is_ipv6 = true;
  } else {
    return refuse(NetworkError::NotAnAddress);
  }
  const unsigned max_bits = n.is_ipv6 ? 128 : 32;
  unsigned bits = max_bits;
  if (slash != std::string_view::npos) {
    const std::string_view digits = text.substr(slash + 1);
    const char* end = digits.data() + digits.size();
    auto [ptr, ec] = std::from_chars(digits.data(), end, bits);
    // from_chars takes no sign or space; "/08" is refused as a likely typo.
    const bool leading_zero = digits.size() > 1 && digits.front() == '0';
    if (digits.empty() || leading_zero || ec != std::errc{} || ptr != end || bits > max_bits) {
      return refuse(NetworkError::BadPrefix);
    }
  }
  n.prefix_bits = static_cast<std::uint8_t>(bits);
  // Every bit past the prefix must be zero.
  const unsigned size = n.is_ipv6 ? 16 : 4;
  for (unsigned i = 0; i < size; ++i) {
    const unsigned first_bit = i * 8;
    std::uint8_t host_mask = 0xFF;
    if (first_bit + 8 <= bits) {
      host_mask = 0;
    } else if (first_bit < bits) {
      host_mask = static_cast<std::uint8_t>(0xFFu >> (bits - first_bit));
    }
    if ((n.bytes[i] & host_mask) != 0) return refuse(NetworkError::HostBitsSet);
  }
  return n;
}

}  // namespace ringftpd::config
