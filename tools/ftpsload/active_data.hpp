// Active-mode data connections (EPRT, PORT): ftpsload listens and the server
// connects back.
//
// The listening socket is bound to the control connection's own source
// address, because a server accepts PORT/EPRT only for the control peer's own
// address (RFC 2577 §3, bounce attacks), on a port the kernel picks. It is
// opened for one transfer, accepts one connection and is closed (the Channel
// that accepts owns it). The PORT/EPRT arguments are formatted by pure
// functions, tested as tables.
#pragma once

#include <optional>
#include <string>

#include "io/socket.hpp"
#include "io/unique_fd.hpp"

namespace ringftpd::ftpsload {

struct ActiveListener {
  io::UniqueFd fd;            // non-blocking, listening, backlog 1
  io::SocketAddress address;  // where it listens (the port the kernel chose)
};

// Listens on `local` (its port is ignored: the kernel picks one). 0, or
// -errno with `out` untouched.
[[nodiscard]] int open_active_listener(const io::SocketAddress& local,
                                       ActiveListener& out) noexcept;

// "h1,h2,h3,h4,p1,p2" (RFC 959 §4.1.2); nullopt for an IPv6 address, which
// PORT cannot name.
[[nodiscard]] std::optional<std::string> format_port_argument(const io::SocketAddress& address);
// "|1|a.b.c.d|port|" or "|2|ipv6|port|" (RFC 2428 §2).
[[nodiscard]] std::string format_eprt_argument(const io::SocketAddress& address);

// The local address the kernel would use to reach `server` (a UDP connect
// picks the route and sends nothing): the source of every connection of an
// active-mode run without --bind, so that the listener's address is the
// control connection's. Port 0.
[[nodiscard]] std::optional<io::SocketAddress> route_source(const io::SocketAddress& server);

}  // namespace ringftpd::ftpsload
