// Socket set-up done once at start-up (or when a data channel is opened):
// address parsing, listening sockets, small helpers. Blocking calls here
// (bind, listen) never block in practice and never run per-byte.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "io/unique_fd.hpp"

namespace ringftpd::io {

// A socket address (IPv4 or IPv6) with value semantics.
struct SocketAddress {
  sockaddr_storage storage{};
  socklen_t length = 0;

  [[nodiscard]] static std::optional<SocketAddress> parse(std::string_view ip, std::uint16_t port);
  [[nodiscard]] int family() const noexcept { return storage.ss_family; }
  [[nodiscard]] std::uint16_t port() const noexcept;
  [[nodiscard]] std::string ip() const;         // "127.0.0.1", "::1"
  [[nodiscard]] std::string to_string() const;  // "127.0.0.1:21", "[::1]:21"
  [[nodiscard]] bool same_host(const SocketAddress& other) const noexcept;
  [[nodiscard]] const sockaddr* get() const noexcept {
    return reinterpret_cast<const sockaddr*>(&storage);
  }
  [[nodiscard]] sockaddr* get() noexcept { return reinterpret_cast<sockaddr*>(&storage); }
};

struct ListenOptions {
  int backlog = 1024;
  bool reuse_port = false;  // one socket per worker, the kernel spreads connections
};

// Creates, binds and listens; non-blocking, close-on-exec. Throws
// std::system_error with the address in the message ("127.0.0.1:21: Address
// already in use").
[[nodiscard]] UniqueFd listen_on(const SocketAddress& address, const ListenOptions& options);

// The local address a socket is bound to.
[[nodiscard]] std::optional<SocketAddress> local_address(int fd);
[[nodiscard]] std::optional<SocketAddress> peer_address(int fd);

}  // namespace ringftpd::io
