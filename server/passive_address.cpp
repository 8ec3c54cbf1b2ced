// The address choice behind PASV: per-network rules, then the global address,
// then the address the client reached us on.
#include "server/passive_address.hpp"

#include <netinet/in.h>
#include <sys/socket.h>

#include <cstring>
#include <optional>
#include <span>

namespace ringftpd::server {
namespace {

// An address's bytes, network order: IPv4 as 4, IPv6 as 16, and an
// IPv4-mapped IPv6 address (a dual-stack listener's IPv4 client) also as the
// IPv4 it stands for, so IPv4 networks match it.
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

bool holds(const config::PassiveAddressRule& rule, const AddressBytes& peer) noexcept {
  for (const config::Network& n : rule.networks) {
    if (n.contains(n.is_ipv6 ? peer.v6 : peer.v4)) return true;
  }
  return false;
}

}  // namespace

std::array<std::uint8_t, 4> passive_reply_address(const config::PassiveSettings& passive,
                                                  const io::SocketAddress& control_local,
                                                  const io::SocketAddress& control_peer) noexcept {
  const std::optional<config::Ipv4Address>* chosen = &passive.public_ipv4;
  const AddressBytes peer = bytes_of(control_peer);
  for (const config::PassiveAddressRule& rule : passive.address_for) {
    if (holds(rule, peer)) {
      chosen = &rule.ipv4;
      break;
    }
  }
  if (chosen->has_value()) return (*chosen)->bytes;
  std::array<std::uint8_t, 4> out{};
  const AddressBytes local = bytes_of(control_local);
  if (local.v4.size() == 4) std::memcpy(out.data(), local.v4.data(), 4);
  return out;
}

}  // namespace ringftpd::server
