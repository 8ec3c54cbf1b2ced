#include "server/network_match.hpp"

#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdint>

namespace ringftpd::server {
namespace {

// An address's bytes, network order: IPv4 as 4, IPv6 as 16, and an
// IPv4-mapped IPv6 address also as the IPv4 it stands for.
struct AddressBytes {
  std::span<const std::uint8_t> v4;
  std::span<const std::uint8_t> v6;
};

AddressBytes bytes_of(const io::SocketAddress& a) noexcept {
  if (a.family() == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(&a.storage);
    return {{reinterpret_cast<const std::uint8_t*>(&in->sin_addr), 4}, {}};
  }
  if (a.family() == AF_INET6) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(&a.storage);
    const std::span<const std::uint8_t> all(reinterpret_cast<const std::uint8_t*>(&in6->sin6_addr),
                                            16);
    return {IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr) ? all.subspan(12) : all.first(0), all};
  }
  return {};
}

}  // namespace

bool in_networks(std::span<const config::Network> networks,
                 const io::SocketAddress& address) noexcept {
  const AddressBytes bytes = bytes_of(address);
  for (const config::Network& n : networks) {
    const auto candidate = n.is_ipv6 ? bytes.v6 : bytes.v4;
    if (!candidate.empty() && n.contains(candidate)) return true;
  }
  return false;
}

}  // namespace ringftpd::server
