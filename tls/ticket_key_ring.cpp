#include "tls/ticket_key_ring.hpp"

#include <string.h>  // explicit_bzero

#include <algorithm>
#include <cstring>
#include <optional>

namespace ringftpd::tls::detail {

namespace {

constexpr std::int64_t kNever = INT64_MAX;

std::uint32_t next_id(std::uint32_t id) noexcept {
  return id + 1 == 0 ? 1 : id + 1;
}

}  // namespace

std::uint32_t ticket_key_capacity(std::int64_t lifetime_ns, std::int64_t rotation_ns) noexcept {
  // Keys retired within the last lifetime, the current one, one of slack.
  const std::int64_t retired = (lifetime_ns + rotation_ns - 1) / rotation_ns;
  return static_cast<std::uint32_t>(std::min<std::int64_t>(retired + 2, kMaxTicketKeys));
}

TicketKeyRing::TicketKeyRing(RegionHeader& header, std::byte* region) noexcept
    : header_(&header),
      records_(reinterpret_cast<TicketKeyRecord*>(region + header.keys_offset)),
      capacity_(header.key_capacity) {}

TicketKeyRecord& TicketKeyRing::record(std::uint32_t index) const noexcept {
  return records_[index];
}

void TicketKeyRing::install_first(std::int64_t now_ns, std::uint32_t first_id,
                                  const TicketKeyMaterial& material) noexcept {
  TicketKeyRecord& r = record(0);
  r.live = 1;
  r.id = first_id != 0 ? first_id : 1;
  r.created_ns = now_ns;
  r.retired_ns = 0;
  r.drop_after_ns = kNever;
  std::memcpy(r.aes_key, material.aes_key, sizeof r.aes_key);
  std::memcpy(r.mask_key, material.mask_key, sizeof r.mask_key);
  header_->current_key = 0;
  header_->next_key_id = next_id(r.id);
  changed();
}

bool TicketKeyRing::is_rotation_due(std::int64_t now_ns) const noexcept {
  return now_ns - record(header_->current_key).created_ns >= header_->rotation_ns;
}

bool TicketKeyRing::is_drop_due(std::int64_t now_ns) const noexcept {
  for (std::uint32_t i = 0; i < capacity_; ++i) {
    const TicketKeyRecord& r = record(i);
    if (r.live != 0 && i != header_->current_key && r.drop_after_ns <= now_ns) return true;
  }
  return false;
}

void TicketKeyRing::rotate(std::int64_t now_ns, const TicketKeyMaterial& material) noexcept {
  // An empty record, else the retired key that is oldest (dropped early).
  std::optional<std::uint32_t> target;
  for (std::uint32_t i = 0; i < capacity_ && !target; ++i) {
    if (record(i).live == 0) target = i;
  }
  if (!target) {
    std::int64_t oldest = kNever;
    for (std::uint32_t i = 0; i < capacity_; ++i) {
      if (i != header_->current_key && record(i).retired_ns <= oldest) {
        target = i;
        oldest = record(i).retired_ns;
      }
    }
  }
  const std::uint32_t index = *target;  // capacity >= 3: never only the current one
  const std::uint32_t id = header_->next_key_id;
  header_->next_key_id = next_id(id);

  header_->dirty.store(dirty_mark(DirtyKind::TicketKey, index), std::memory_order_relaxed);
  std::atomic_signal_fence(std::memory_order_seq_cst);
  TicketKeyRecord& fresh = record(index);
  explicit_bzero(&fresh, sizeof fresh);  // an early-dropped key's material
  fresh.id = id;
  fresh.created_ns = now_ns;
  fresh.retired_ns = 0;
  fresh.drop_after_ns = kNever;
  std::memcpy(fresh.aes_key, material.aes_key, sizeof fresh.aes_key);
  std::memcpy(fresh.mask_key, material.mask_key, sizeof fresh.mask_key);
  fresh.live = 1;
  TicketKeyRecord& old = record(header_->current_key);
  old.retired_ns = now_ns;
  old.drop_after_ns = now_ns + header_->session_lifetime_ns;
  header_->current_key = index;  // the switch: from here on, recover() keeps the change
  changed();
  std::atomic_signal_fence(std::memory_order_seq_cst);
  header_->dirty.store(0, std::memory_order_relaxed);
  header_->counters.rotations.fetch_add(1, std::memory_order_relaxed);
}

std::uint32_t TicketKeyRing::drop_expired(std::int64_t now_ns) noexcept {
  std::uint32_t dropped = 0;
  for (std::uint32_t i = 0; i < capacity_; ++i) {
    const TicketKeyRecord& r = record(i);
    if (r.live == 0 || i == header_->current_key || r.drop_after_ns > now_ns) continue;
    header_->dirty.store(dirty_mark(DirtyKind::TicketKey, i), std::memory_order_relaxed);
    std::atomic_signal_fence(std::memory_order_seq_cst);
    wipe(i);
    std::atomic_signal_fence(std::memory_order_seq_cst);
    header_->dirty.store(0, std::memory_order_relaxed);
    ++dropped;
  }
  if (dropped > 0) changed();
  return dropped;
}

std::size_t TicketKeyRing::snapshot(std::span<TicketKeyRecord> out,
                                    std::uint32_t& current_id) const noexcept {
  std::size_t n = 0;
  for (std::uint32_t i = 0; i < capacity_ && n < out.size(); ++i) {
    if (record(i).live != 0) out[n++] = record(i);
  }
  current_id = record(header_->current_key).id;
  return n;
}

void TicketKeyRing::recover(std::uint32_t index) noexcept {
  if (index >= capacity_) return;
  if (index != header_->current_key) {
    // A drop (finish it) or a rotation cut before its switch (undo it: the
    // half-made key never sealed anything, and the current key, perhaps
    // already marked retired, stays current).
    wipe(index);
    TicketKeyRecord& current = record(header_->current_key);
    current.retired_ns = 0;
    current.drop_after_ns = kNever;
  }
  changed();  // either way, workers must look again
}

void TicketKeyRing::wipe(std::uint32_t index) noexcept {
  TicketKeyRecord& r = record(index);
  r.live = 0;
  std::atomic_signal_fence(std::memory_order_seq_cst);
  explicit_bzero(&r, sizeof r);
}

void TicketKeyRing::changed() noexcept {
  header_->key_generation.fetch_add(1, std::memory_order_release);
  header_->counters.ticket_keys_live.store(count_live(), std::memory_order_relaxed);
}

std::uint64_t TicketKeyRing::count_live() const noexcept {
  std::uint64_t n = 0;
  for (std::uint32_t i = 0; i < capacity_; ++i) n += record(i).live != 0 ? 1 : 0;
  return n;
}

}  // namespace ringftpd::tls::detail
