#include "tools/ftpsload/active_data.hpp"

#include <arpa/inet.h>
#include <sys/socket.h>

#include <cerrno>
#include <utility>

namespace ringftpd::ftpsload {

int open_active_listener(const io::SocketAddress& local, ActiveListener& out) noexcept {
  io::UniqueFd fd(::socket(local.family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd) return -errno;
  io::SocketAddress any_port = local;
  if (local.family() == AF_INET) {
    reinterpret_cast<sockaddr_in*>(&any_port.storage)->sin_port = 0;
  } else if (local.family() == AF_INET6) {
    reinterpret_cast<sockaddr_in6*>(&any_port.storage)->sin6_port = 0;
  }
  if (::bind(fd.get(), any_port.get(), any_port.length) != 0) return -errno;
  // One connection per listener: the server's, for this transfer.
  if (::listen(fd.get(), 1) != 0) return -errno;
  const auto bound = io::local_address(fd.get());
  if (!bound) return -errno;
  out.fd = std::move(fd);
  out.address = *bound;
  return 0;
}

std::optional<std::string> format_port_argument(const io::SocketAddress& address) {
  if (address.family() != AF_INET) return std::nullopt;
  const auto* in = reinterpret_cast<const sockaddr_in*>(&address.storage);
  const auto* b = reinterpret_cast<const unsigned char*>(&in->sin_addr.s_addr);
  const unsigned port = address.port();
  return std::to_string(b[0]) + "," + std::to_string(b[1]) + "," + std::to_string(b[2]) + "," +
         std::to_string(b[3]) + "," + std::to_string(port >> 8) + "," + std::to_string(port & 0xFF);
}

std::string format_eprt_argument(const io::SocketAddress& address) {
  const char* family = address.family() == AF_INET6 ? "2" : "1";
  return std::string("|") + family + "|" + address.ip() + "|" + std::to_string(address.port()) +
         "|";
}

std::optional<io::SocketAddress> route_source(const io::SocketAddress& server) {
  io::UniqueFd fd(::socket(server.family(), SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (!fd || ::connect(fd.get(), server.get(), server.length) != 0) return std::nullopt;
  auto local = io::local_address(fd.get());
  if (!local) return std::nullopt;
  return io::SocketAddress::parse(local->ip(), 0);
}

}  // namespace ringftpd::ftpsload
