#include "tls/session_table.hpp"

#include <string.h>  // explicit_bzero

#include <algorithm>
#include <bit>
#include <cstring>

namespace ringftpd::tls::detail {

namespace {

constexpr std::uint64_t kMultiplier = 0x9e3779b97f4a7c15;  // odd: a bijection mod 2^64

// murmur3's finaliser: every input bit reaches every output bit.
constexpr std::uint64_t finalise(std::uint64_t h) noexcept {
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccd;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53;
  h ^= h >> 33;
  return h;
}

}  // namespace

// Each step (xor a word, multiply by an odd constant, rotate) is a bijection
// of the state, so a change confined to one 8-byte word always changes the
// result; wider damage goes unseen with probability about 2^-64.
std::uint64_t hash_bytes(std::span<const std::uint8_t> bytes, std::uint64_t seed) noexcept {
  std::uint64_t h = seed ^ (bytes.size() * kMultiplier);
  std::size_t i = 0;
  for (; i + 8 <= bytes.size(); i += 8) {
    std::uint64_t w;
    std::memcpy(&w, bytes.data() + i, sizeof w);
    h = std::rotl((h ^ w) * kMultiplier, 29);
  }
  if (i < bytes.size()) {
    std::uint64_t w = 0;
    std::memcpy(&w, bytes.data() + i, bytes.size() - i);
    h = std::rotl((h ^ w) * kMultiplier, 29);
  }
  return finalise(h);
}

std::uint64_t slot_checksum(const SessionSlotHeader& h,
                            std::span<const std::uint8_t> data) noexcept {
  SessionSlotHeader copy = h;
  copy.checksum = 0;
  const std::uint64_t head = hash_bytes(
      std::span<const std::uint8_t>(reinterpret_cast<const std::uint8_t*>(&copy), sizeof copy),
      0x736c6f74);  // "slot"
  return hash_bytes(data, head);
}

SessionTable::SessionTable(RegionHeader& header, std::byte* region) noexcept
    : header_(&header),
      slots_(region + header.sessions_offset),
      capacity_(header.session_capacity),
      window_(header.probe_window),
      stride_(header.slot_stride),
      max_data_(header.max_session_bytes),
      seed_(header.hash_seed) {}

SessionSlotHeader& SessionTable::slot(std::uint32_t index) const noexcept {
  return *reinterpret_cast<SessionSlotHeader*>(slots_ + std::size_t{index} * stride_);
}

std::uint8_t* SessionTable::data(std::uint32_t index) const noexcept {
  return reinterpret_cast<std::uint8_t*>(slots_ + std::size_t{index} * stride_ +
                                         sizeof(SessionSlotHeader));
}

std::uint32_t SessionTable::home(std::span<const std::uint8_t> id) const noexcept {
  // Seeded: stored ids come from wolfSSL's DRBG, but a client picks the ids
  // it looks up; with a secret seed it cannot aim at one window either.
  return static_cast<std::uint32_t>(hash_bytes(id, seed_) % capacity_);
}

bool SessionTable::holds(std::uint32_t index, std::span<const std::uint8_t> id) const noexcept {
  const SessionSlotHeader& s = slot(index);
  return s.live != 0 && s.id_len == id.size() && std::memcmp(s.id, id.data(), id.size()) == 0;
}

std::optional<std::uint32_t> SessionTable::find(std::span<const std::uint8_t> id) const noexcept {
  const std::uint32_t first = home(id);
  for (std::uint32_t k = 0; k < window_; ++k) {
    const std::uint32_t i = (first + k) % capacity_;
    if (holds(i, id)) return i;
  }
  return std::nullopt;
}

SessionTable::Target SessionTable::choose(std::span<const std::uint8_t> id,
                                          std::int64_t now_ns) const noexcept {
  const std::uint32_t first = home(id);
  std::optional<std::uint32_t> empty;
  std::uint32_t oldest = first;
  std::int64_t oldest_expiry = INT64_MAX;
  for (std::uint32_t k = 0; k < window_; ++k) {
    const std::uint32_t i = (first + k) % capacity_;
    const SessionSlotHeader& s = slot(i);
    if (s.live == 0) {
      if (!empty) empty = i;
      continue;
    }
    if (holds(i, id)) return {i, Reason::Replace};
    if (s.expires_ns < oldest_expiry) {
      oldest = i;
      oldest_expiry = s.expires_ns;
    }
  }
  if (empty) return {*empty, Reason::Empty};
  return {oldest, oldest_expiry <= now_ns ? Reason::Expired : Reason::Evict};
}

void SessionTable::write(std::uint32_t index, const SessionSlotHeader& header,
                         std::span<const std::uint8_t> data_in) noexcept {
  SessionSlotHeader& s = slot(index);
  std::uint8_t* d = data(index);
  const bool was_live = s.live != 0;
  const std::uint32_t old_length = std::min(s.length, max_data_);
  header_->dirty.store(dirty_mark(DirtyKind::SessionSlot, index), std::memory_order_relaxed);
  std::atomic_signal_fence(std::memory_order_seq_cst);  // the mark first, then the slot
  std::memcpy(&s, &header, sizeof header);
  std::memcpy(d, data_in.data(), data_in.size());
  if (old_length > data_in.size()) {  // the tail of a longer, older session
    explicit_bzero(d + data_in.size(), old_length - data_in.size());
  }
  std::atomic_signal_fence(std::memory_order_seq_cst);  // the slot first, then the mark
  header_->dirty.store(0, std::memory_order_relaxed);
  if (!was_live) header_->counters.entries_in_use.fetch_add(1, std::memory_order_relaxed);
}

SessionSlotHeader SessionTable::read(std::uint32_t index,
                                     std::span<std::uint8_t> data_out) const noexcept {
  SessionSlotHeader h;
  std::memcpy(&h, &slot(index), sizeof h);
  const std::size_t n = std::min<std::size_t>({h.length, max_data_, data_out.size()});
  std::memcpy(data_out.data(), data(index), n);
  return h;
}

void SessionTable::wipe(std::uint32_t index) noexcept {
  SessionSlotHeader& s = slot(index);
  const bool was_live = s.live != 0;
  const std::uint32_t length = std::min(s.length, max_data_);
  s.live = 0;
  std::atomic_signal_fence(std::memory_order_seq_cst);  // empty first: a torn wipe is harmless
  explicit_bzero(data(index), length);
  s = SessionSlotHeader{};
  if (was_live) header_->counters.entries_in_use.fetch_sub(1, std::memory_order_relaxed);
}

std::uint64_t SessionTable::count_live() const noexcept {
  std::uint64_t n = 0;
  for (std::uint32_t i = 0; i < capacity_; ++i) n += slot(i).live != 0 ? 1 : 0;
  return n;
}

}  // namespace ringftpd::tls::detail
