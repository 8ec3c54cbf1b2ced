#include "tls/origin_registry.hpp"

#include <cstring>

namespace ringftpd::tls {

std::size_t InProcessOriginRegistry::IdHash::operator()(const TicketId& id) const noexcept {
  // Ticket ids are drawn by the server's DRBG, never chosen by a client, so
  // their own bytes are a fine hash.
  std::uint64_t h = 0;
  std::memcpy(&h, id.data(), sizeof h);
  return static_cast<std::size_t>(h);
}

InProcessOriginRegistry::InProcessOriginRegistry(std::size_t max_entries) : map_(max_entries) {}

bool InProcessOriginRegistry::put(const TicketId& id, std::uint64_t origin, SteadyTime expires,
                                  SteadyTime now) noexcept {
  if (origin == 0) return false;
  try {
    map_.put(id, origin, expires, now);
    return true;
  } catch (...) {  // std::bad_alloc: nothing may leave a wolfSSL callback
    return false;
  }
}

std::optional<std::uint64_t> InProcessOriginRegistry::find(const TicketId& id,
                                                           SteadyTime now) noexcept {
  if (const std::uint64_t* origin = map_.find(id, now)) return *origin;
  return std::nullopt;
}

}  // namespace ringftpd::tls
