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
  if (now_ns < header_->rotation_held_until_ns) return false;
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

void TicketKeyRing::hold_rotation_until(std::int64_t until_ns) noexcept {
  header_->rotation_held_until_ns = until_ns;
}

void TicketKeyRing::write(std::uint32_t index, const AdoptedKey& key) noexcept {
  header_->dirty.store(dirty_mark(DirtyKind::TicketKey, index), std::memory_order_relaxed);
  std::atomic_signal_fence(std::memory_order_seq_cst);
  TicketKeyRecord& r = record(index);
  r.id = key.id;
  r.created_ns = key.created_ns;
  r.retired_ns = key.retired_ns;
  r.drop_after_ns = key.drop_after_ns;
  std::memcpy(r.aes_key, key.material.aes_key, sizeof r.aes_key);
  std::memcpy(r.mask_key, key.material.mask_key, sizeof r.mask_key);
  r.live = 1;
  std::atomic_signal_fence(std::memory_order_seq_cst);
  header_->dirty.store(0, std::memory_order_relaxed);
}

std::uint32_t TicketKeyRing::adopt(std::int64_t now_ns, std::span<const AdoptedKey> keys) noexcept {
  bool changes = false;
  // One record stays for a key of this host's own (its current one, while
  // no adopted key is current yet).
  const std::size_t take = std::min<std::size_t>(keys.size(), capacity_ - 1);
  const std::span<const AdoptedKey> chosen = keys.last(take);
  std::optional<std::size_t> newest_active;
  for (std::size_t k = 0; k < chosen.size(); ++k) {
    if (chosen[k].created_ns <= now_ns) newest_active = k;
  }
  auto same_material = [](const TicketKeyRecord& r, const AdoptedKey& k) {
    return std::memcmp(r.aes_key, k.material.aes_key, sizeof r.aes_key) == 0 &&
           std::memcmp(r.mask_key, k.material.mask_key, sizeof r.mask_key) == 0;
  };
  auto chosen_index = [&](std::uint32_t id) -> std::optional<std::size_t> {
    for (std::size_t k = 0; k < chosen.size(); ++k) {
      if (chosen[k].id == id) return k;
    }
    return std::nullopt;
  };
  // 1. Ring keys that clash with an adopted id (other material) go; so do
  // the oldest local keys beyond the room left. The current key is kept.
  std::uint32_t room = capacity_ - static_cast<std::uint32_t>(chosen.size());
  for (;;) {
    std::uint32_t locals = 0;
    std::optional<std::uint32_t> oldest;
    for (std::uint32_t i = 0; i < capacity_; ++i) {
      const TicketKeyRecord& r = record(i);
      if (r.live == 0) continue;
      const auto k = chosen_index(r.id);
      if (k && !same_material(r, chosen[*k])) {
        if (i != header_->current_key) {
          wipe(i);
          changes = true;
          continue;
        }
      } else if (k) {
        continue;  // an adopted key already here
      }
      ++locals;
      if (i != header_->current_key && (!oldest || r.created_ns < record(*oldest).created_ns)) {
        oldest = i;
      }
    }
    if (locals <= room || !oldest) break;
    header_->dirty.store(dirty_mark(DirtyKind::TicketKey, *oldest), std::memory_order_relaxed);
    std::atomic_signal_fence(std::memory_order_seq_cst);
    wipe(*oldest);
    std::atomic_signal_fence(std::memory_order_seq_cst);
    header_->dirty.store(0, std::memory_order_relaxed);
    changes = true;
  }
  // 2. Adopted keys: refresh their times, or install them.
  std::uint32_t added = 0;
  std::optional<std::uint32_t> new_current;
  for (std::size_t k = 0; k < chosen.size(); ++k) {
    std::optional<std::uint32_t> at;
    for (std::uint32_t i = 0; i < capacity_ && !at; ++i) {
      const TicketKeyRecord& r = record(i);
      if (r.live != 0 && r.id == chosen[k].id && same_material(r, chosen[k])) at = i;
    }
    if (!at) {
      for (std::uint32_t i = 0; i < capacity_ && !at; ++i) {
        if (record(i).live == 0) at = i;
      }
      if (!at) continue;  // only if the current key clashed with this id: next time
      ++added;
    }
    const TicketKeyRecord& r = record(*at);
    // Times are converted from the wall clock afresh each round: within a
    // second of what the ring holds is the same time (no rewrite, and the
    // workers need not copy the ring again).
    auto near = [](std::int64_t a, std::int64_t b) {
      if (a == kNever || b == kNever || a == 0 || b == 0) return a == b;
      return (a > b ? a - b : b - a) < 1'000'000'000;
    };
    const bool same = r.live != 0 && r.id == chosen[k].id && same_material(r, chosen[k]) &&
                      near(r.created_ns, chosen[k].created_ns) &&
                      near(r.retired_ns, chosen[k].retired_ns) &&
                      near(r.drop_after_ns, chosen[k].drop_after_ns);
    if (!same) {
      write(*at, chosen[k]);
      changes = true;
    }
    if (newest_active == k) new_current = *at;
  }
  // 3. The switch. The previous current key, if it is not adopted, retires.
  if (new_current && *new_current != header_->current_key) {
    TicketKeyRecord& old = record(header_->current_key);
    if (old.live != 0 && !chosen_index(old.id) && old.retired_ns == 0) {
      old.retired_ns = now_ns;
      old.drop_after_ns = now_ns + header_->session_lifetime_ns;
    }
    header_->current_key = *new_current;
    changes = true;
  }
  // 4. A former current key whose id an adopted key took (with other
  // material) goes now: one id, one key.
  for (std::uint32_t i = 0; i < capacity_; ++i) {
    const TicketKeyRecord& r = record(i);
    if (r.live == 0 || i == header_->current_key) continue;
    const auto k = chosen_index(r.id);
    if (k && !same_material(r, chosen[*k])) {
      wipe(i);
      changes = true;
    }
  }
  // Workers copy the ring again only when something changed.
  if (changes) changed();
  return added;
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
