// The address choice behind PASV: per-network rules, then the global address,
// then the address the client reached us on.
#include "server/passive_address.hpp"

#include <netinet/in.h>
#include <sys/socket.h>

#include <cstring>
#include <optional>

#include "server/network_match.hpp"

namespace ringftpd::server {

std::array<std::uint8_t, 4> passive_reply_address(const config::PassiveSettings& passive,
                                                  const io::SocketAddress& control_local,
                                                  const io::SocketAddress& control_peer) noexcept {
  const std::optional<config::Ipv4Address>* chosen = &passive.public_ipv4;
  for (const config::PassiveAddressRule& rule : passive.address_for) {
    if (in_networks(rule.networks, control_peer)) {
      chosen = &rule.ipv4;
      break;
    }
  }
  if (chosen->has_value()) return (*chosen)->bytes;
  std::array<std::uint8_t, 4> out{};
  if (control_local.family() == AF_INET) {
    std::memcpy(out.data(), &reinterpret_cast<const sockaddr_in*>(&control_local.storage)->sin_addr,
                4);
  } else if (control_local.family() == AF_INET6) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(&control_local.storage);
    if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr)) {
      std::memcpy(out.data(), reinterpret_cast<const std::uint8_t*>(&in6->sin6_addr) + 12, 4);
    }
  }
  return out;
}

}  // namespace ringftpd::server
