#include "io/socket.hpp"

#include <arpa/inet.h>
#include <netinet/tcp.h>

#include <cerrno>
#include <cstring>
#include <system_error>

namespace ringftpd::io {

std::optional<SocketAddress> SocketAddress::parse(std::string_view ip, std::uint16_t port) {
  SocketAddress a;
  const std::string text(ip);
  auto* v4 = reinterpret_cast<sockaddr_in*>(&a.storage);
  if (inet_pton(AF_INET, text.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(port);
    a.length = sizeof(sockaddr_in);
    return a;
  }
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&a.storage);
  if (inet_pton(AF_INET6, text.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(port);
    a.length = sizeof(sockaddr_in6);
    return a;
  }
  return std::nullopt;
}

std::uint16_t SocketAddress::port() const noexcept {
  if (family() == AF_INET) return ntohs(reinterpret_cast<const sockaddr_in*>(&storage)->sin_port);
  if (family() == AF_INET6) {
    return ntohs(reinterpret_cast<const sockaddr_in6*>(&storage)->sin6_port);
  }
  return 0;
}

std::string SocketAddress::ip() const {
  char buf[INET6_ADDRSTRLEN] = {};
  if (family() == AF_INET) {
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(&storage)->sin_addr, buf, sizeof buf);
  } else if (family() == AF_INET6) {
    inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(&storage)->sin6_addr, buf,
              sizeof buf);
  }
  return buf;
}

std::string SocketAddress::to_string() const {
  if (family() == AF_INET6) return "[" + ip() + "]:" + std::to_string(port());
  return ip() + ":" + std::to_string(port());
}

bool SocketAddress::same_host(const SocketAddress& other) const noexcept {
  if (family() != other.family()) return false;
  if (family() == AF_INET) {
    return reinterpret_cast<const sockaddr_in*>(&storage)->sin_addr.s_addr ==
           reinterpret_cast<const sockaddr_in*>(&other.storage)->sin_addr.s_addr;
  }
  if (family() == AF_INET6) {
    return std::memcmp(&reinterpret_cast<const sockaddr_in6*>(&storage)->sin6_addr,
                       &reinterpret_cast<const sockaddr_in6*>(&other.storage)->sin6_addr,
                       sizeof(in6_addr)) == 0;
  }
  return false;
}

UniqueFd listen_on(const SocketAddress& address, const ListenOptions& options) {
  const auto fail = [&](const char* what) {
    return std::system_error(errno, std::generic_category(), address.to_string() + ": " + what);
  };
  UniqueFd fd(::socket(address.family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd) throw fail("socket");
  const int one = 1;
  setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (options.reuse_port && setsockopt(fd.get(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0) {
    throw fail("SO_REUSEPORT");
  }
  if (address.family() == AF_INET6) {
    // An IPv6 listener serves IPv6 only; IPv4 gets its own listener, so
    // addresses are never reported as v4-mapped.
    setsockopt(fd.get(), IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
  }
  if (::bind(fd.get(), address.get(), address.length) != 0) throw fail("bind");
  if (::listen(fd.get(), options.backlog) != 0) throw fail("listen");
  return fd;
}

namespace {
template <class Fn>
std::optional<SocketAddress> query(int fd, Fn fn) {
  SocketAddress a;
  a.length = sizeof a.storage;
  if (fn(fd, a.get(), &a.length) != 0) return std::nullopt;
  return a;
}
}  // namespace

std::optional<SocketAddress> local_address(int fd) {
  return query(fd, ::getsockname);
}
std::optional<SocketAddress> peer_address(int fd) {
  return query(fd, ::getpeername);
}

}  // namespace ringftpd::io
