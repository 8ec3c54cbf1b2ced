// tls::detail::TicketKeyRing: the session ticket keys in SharedTlsState's
// region (shared_tls_layout.hpp), shared by every worker so that each one
// opens the tickets of all. A view: it owns nothing.
//
// The ring holds the current key, which seals new tickets, and the retired
// ones, each of which still opens its tickets until retired_at + the session
// lifetime (then it is dropped and its material wiped; its tickets get a full
// handshake). K = ceil(lifetime / rotation) + 2 records, capped at
// kMaxTicketKeys, hold every key that can still be live plus one of slack for
// a late timer. Should the ring still be full at a rotation (a rotation
// period under lifetime / 62, or a master whose timer stalled), the oldest
// retired key is dropped early: its tickets get full handshakes sooner than
// advertised, never failures.
//
// Key ids count up from a random start (skipping 0): unique within the ring,
// and a ticket from a previous run of the server names an unknown id rather
// than being mistaken for a forgery.
//
// Crash safety: rotate() and drop_expired() bracket their stores with the
// dirty mark; recover() either completes the change (a drop) or undoes it (a
// rotation cut before the new key became current). Every change bumps
// RegionHeader::key_generation, which workers poll without the lock.
//
// Contract: every member runs under the region's lock (install_first: before
// fork, no lock needed), and does memcpy-sized work: the material is drawn
// by the caller outside the lock.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "tls/shared_tls_layout.hpp"

namespace ringftpd::tls::detail {

struct TicketKeyMaterial {
  std::uint8_t aes_key[kTicketKeyBytes];
  std::uint8_t mask_key[kMaskKeyBytes];
};

// A key for TicketKeyRing::adopt, its times on this host's steady clock.
struct AdoptedKey {
  std::uint32_t id = 0;
  std::int64_t created_ns = 0;     // seals new tickets from then on
  std::int64_t retired_ns = 0;     // 0: no successor yet
  std::int64_t drop_after_ns = 0;  // INT64_MAX while not retired
  TicketKeyMaterial material{};
};

// The number of key records for a lifetime and a rotation period (both > 0).
[[nodiscard]] std::uint32_t ticket_key_capacity(std::int64_t lifetime_ns,
                                                std::int64_t rotation_ns) noexcept;

class TicketKeyRing {
 public:
  TicketKeyRing(RegionHeader& header, std::byte* region) noexcept;

  [[nodiscard]] std::uint32_t capacity() const noexcept { return capacity_; }

  // Before fork, on a fresh region: `material` becomes the current key.
  void install_first(std::int64_t now_ns, std::uint32_t first_id,
                     const TicketKeyMaterial& material) noexcept;

  [[nodiscard]] bool is_rotation_due(std::int64_t now_ns) const noexcept;
  [[nodiscard]] bool is_drop_due(std::int64_t now_ns) const noexcept;

  // Makes `material` the current key and retires the current one.
  void rotate(std::int64_t now_ns, const TicketKeyMaterial& material) noexcept;
  // Installs keys from elsewhere (the cluster's, through Redis: sharedd).
  // `keys` are sorted oldest first with distinct ids. They all become live
  // (the newest capacity()-1 of them, if there are more); the newest whose
  // created_ns <= now becomes current. Keys of the ring that are not among
  // them stay, retired now if they were not already, so that tickets sealed
  // while the cluster was out of reach still open for their lifetime; the
  // oldest of those go first when room runs out. A ring key with the id of
  // an adopted one but other material is replaced. Returns how many keys
  // were new to the ring.
  std::uint32_t adopt(std::int64_t now_ns, std::span<const AdoptedKey> keys) noexcept;
  // Until `until_ns`, is_rotation_due() says no: someone else (the
  // cluster) rotates, and this host only follows.
  void hold_rotation_until(std::int64_t until_ns) noexcept;

  // Drops (wipes) retired keys whose time is up; returns how many.
  std::uint32_t drop_expired(std::int64_t now_ns) noexcept;

  // Copies the live records into `out` (at least capacity() long); returns
  // how many, and the current key's id in `current_id`.
  std::size_t snapshot(std::span<TicketKeyRecord> out, std::uint32_t& current_id) const noexcept;

  // The owner died with record `index` dirty: finish or undo its change.
  void recover(std::uint32_t index) noexcept;

  [[nodiscard]] std::uint64_t count_live() const noexcept;

 private:
  [[nodiscard]] TicketKeyRecord& record(std::uint32_t index) const noexcept;
  void wipe(std::uint32_t index) noexcept;
  void changed() noexcept;  // bumps the generation, recounts live keys
  // Writes `key` into record `index` under the dirty mark.
  void write(std::uint32_t index, const AdoptedKey& key) noexcept;

  RegionHeader* header_;
  TicketKeyRecord* records_;
  std::uint32_t capacity_;
};

}  // namespace ringftpd::tls::detail
