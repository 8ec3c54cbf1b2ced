// Is a client's address inside one of the configured networks? Used on a
// worker's loop (PASV's address rules, a PROXY listener's trusted
// balancers), so it only compares bytes of networks parsed at load.
#pragma once

#include <span>

#include "config/network.hpp"
#include "io/socket.hpp"

namespace ringftpd::server {

// An IPv4-mapped IPv6 address (a dual-stack listener's IPv4 client) matches
// IPv4 networks as the IPv4 address it stands for, and IPv6 ones as itself.
[[nodiscard]] bool in_networks(std::span<const config::Network> networks,
                               const io::SocketAddress& address) noexcept;

}  // namespace ringftpd::server
