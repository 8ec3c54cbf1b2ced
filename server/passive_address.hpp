// Which IPv4 address a 227 (PASV) reply advertises to one client.
//
// Runs on a worker's loop at every PASV, so it only compares bytes: the
// configuration snapshot holds parsed networks and addresses already resolved
// by the master (config/host_name.hpp). EPSV names no address and does not
// call this.
#pragma once

#include <array>
#include <cstdint>

#include "config/config.hpp"
#include "io/socket.hpp"

namespace ringftpd::server {

// The first [[passive.address_for]] rule with a network holding the client's
// address (control_peer; an IPv4-mapped IPv6 peer is matched as IPv4) decides;
// else passive.public_address; where the choice is "the local address", the
// control connection's local IPv4 address (also when mapped into IPv6). All
// zeros when there is no IPv4 address to give: an IPv6-only control connection
// without a configured address, as before.
[[nodiscard]] std::array<std::uint8_t, 4> passive_reply_address(
    const config::PassiveSettings& passive, const io::SocketAddress& control_local,
    const io::SocketAddress& control_peer) noexcept;

}  // namespace ringftpd::server
