#include "server/process/listener_set.hpp"

#include <fcntl.h>

#include <cerrno>
#include <stdexcept>
#include <system_error>

#include "io/socket.hpp"
#include "server/worker.hpp"

namespace ringftpd::server {

ListenerSet::ListenerSet(const std::vector<config::Listener>& listeners, std::uint32_t workers)
    : listeners_(listeners), workers_(workers) {
  io::ListenOptions options;
  options.reuse_port = true;
  for (const config::Listener& l : listeners) {
    const auto address = io::SocketAddress::parse(l.address, l.port);
    if (!address) throw std::runtime_error(l.address + ": not a numeric IP address");
    std::vector<io::UniqueFd> per_slot;
    for (std::uint32_t slot = 0; slot < workers; ++slot) {
      per_slot.push_back(io::listen_on(*address, options));
    }
    sockets_.push_back(std::move(per_slot));
  }
}

bool ListenerSet::matches(const std::vector<config::Listener>& listeners,
                          std::uint32_t workers) const {
  if (workers != workers_ || listeners.size() != listeners_.size()) return false;
  for (std::size_t i = 0; i < listeners.size(); ++i) {
    const config::Listener& a = listeners[i];
    const config::Listener& b = listeners_[i];
    if (a.address != b.address || a.port != b.port || a.implicit_tls != b.implicit_tls) {
      return false;
    }
  }
  return true;
}

std::vector<ListenSocket> ListenerSet::for_slot(std::uint32_t slot) const {
  std::vector<ListenSocket> out;
  for (std::size_t i = 0; i < sockets_.size(); ++i) {
    io::UniqueFd dup(fcntl(sockets_[i].at(slot).get(), F_DUPFD_CLOEXEC, 3));
    if (!dup) throw std::system_error(errno, std::generic_category(), "dup listener");
    out.push_back({std::move(dup), listeners_[i].implicit_tls});
  }
  return out;
}

std::vector<int> ListenerSet::fds() const {
  std::vector<int> out;
  for (const auto& per_slot : sockets_) {
    for (const auto& fd : per_slot) out.push_back(fd.get());
  }
  return out;
}

}  // namespace ringftpd::server
