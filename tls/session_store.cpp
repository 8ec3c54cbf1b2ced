#include "tls/session_store.hpp"

#include <string.h>  // explicit_bzero

#include <algorithm>
#include <cstring>

namespace ringftpd::tls {

InProcessSessionStore::Secret& InProcessSessionStore::Secret::operator=(Secret&& other) noexcept {
  if (this != &other) {
    wipe();  // a vector's move assignment would free our bytes unwiped
    bytes_ = std::move(other.bytes_);
  }
  return *this;
}

void InProcessSessionStore::Secret::wipe() noexcept {
  if (!bytes_.empty()) explicit_bzero(bytes_.data(), bytes_.size());
}

std::optional<InProcessSessionStore::Key> InProcessSessionStore::key_of(
    std::span<const std::uint8_t> id) noexcept {
  Key key;
  if (id.empty() || id.size() > key.bytes.size()) return std::nullopt;
  std::copy(id.begin(), id.end(), key.bytes.begin());
  key.size = id.size();
  return key;
}

std::size_t InProcessSessionStore::KeyHash::operator()(const Key& key) const noexcept {
  // Stored ids come from the server's DRBG. A client picks the ids it looks
  // up, but lookups insert nothing, so it cannot lengthen a bucket.
  std::uint64_t h = 0;
  std::memcpy(&h, key.bytes.data(), sizeof h);
  return static_cast<std::size_t>(h ^ key.size);
}

InProcessSessionStore::InProcessSessionStore(std::size_t max_entries) : map_(max_entries) {}

bool InProcessSessionStore::put(std::span<const std::uint8_t> id, std::span<const std::uint8_t> der,
                                std::uint64_t origin, SteadyTime expires, SteadyTime now) noexcept {
  const std::optional<Key> key = key_of(id);
  if (!key || der.empty()) return false;
  try {
    map_.put(*key, Entry{Secret(der), origin}, expires, now);
    return true;
  } catch (...) {  // std::bad_alloc: nothing may leave a wolfSSL callback
    return false;
  }
}

std::optional<std::uint64_t> InProcessSessionStore::get(
    std::span<const std::uint8_t> id, SteadyTime now, std::vector<std::uint8_t>& der_out) noexcept {
  const std::optional<Key> key = key_of(id);
  if (!key) return std::nullopt;
  try {
    const Entry* entry = map_.find(*key, now);
    if (entry == nullptr) return std::nullopt;
    der_out.assign(entry->der.bytes().begin(), entry->der.bytes().end());
    return entry->origin;
  } catch (...) {
    return std::nullopt;
  }
}

void InProcessSessionStore::remove(std::span<const std::uint8_t> id) noexcept {
  if (const std::optional<Key> key = key_of(id)) map_.erase(*key);
}

}  // namespace ringftpd::tls
