// tls::detail::SessionTable: the TLS 1.2 session slots of SharedTlsState's
// region (shared_tls_layout.hpp), an open-addressing table keyed by session
// id. A view: it owns nothing, and holds no pointer into the region that
// another process could see.
//
// Placement: an id's home slot is a seeded hash of its bytes; it may live in
// the home slot or in the kProbeWindow - 1 slots after it (wrapping). Every
// lookup reads the whole window, so removal needs no tombstone and no chain
// can grow past the window.
//
// Eviction (choose()): the slot already holding the id; else the first empty
// slot of the window; else the window's entry that expires first, counted as
// `expired` if it already has, as `evictions` otherwise. All entries are
// stored with one lifetime, so "expires first" is "oldest".
//
// Contract: every member except home() runs under the region's lock, and
// does memcpy-sized work only: no allocation, no syscall, no wolfSSL.
// write() brackets its stores with the dirty mark; wipe() needs none (it
// clears `live` first, so a torn wipe leaves an empty slot).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

#include "tls/shared_tls_layout.hpp"

namespace ringftpd::tls::detail {

class SessionTable {
 public:
  SessionTable(RegionHeader& header, std::byte* region) noexcept;

  [[nodiscard]] std::uint32_t capacity() const noexcept { return capacity_; }
  [[nodiscard]] std::uint32_t max_data_bytes() const noexcept { return max_data_; }

  // The slot an id hashes to (geometry only: no lock needed).
  [[nodiscard]] std::uint32_t home(std::span<const std::uint8_t> id) const noexcept;

  // The live slot holding `id` in its window (expired or not), if any.
  [[nodiscard]] std::optional<std::uint32_t> find(std::span<const std::uint8_t> id) const noexcept;

  enum class Reason : std::uint8_t { Replace, Empty, Expired, Evict };
  struct Target {
    std::uint32_t index;
    Reason reason;
  };
  // Where an entry for `id` goes (see the eviction rule above).
  [[nodiscard]] Target choose(std::span<const std::uint8_t> id, std::int64_t now_ns) const noexcept;

  // Writes `header` (live, checksum set by the caller) and `data` into slot
  // `index` between setting and clearing the dirty mark.
  void write(std::uint32_t index, const SessionSlotHeader& header,
             std::span<const std::uint8_t> data) noexcept;
  // Copies slot `index` out: its header, and its data into `data_out` (as
  // many bytes as the header's length, bounded by the geometry and by
  // data_out.size(); a length out of bounds is left for the checksum to
  // catch). Returns the header.
  [[nodiscard]] SessionSlotHeader read(std::uint32_t index,
                                       std::span<std::uint8_t> data_out) const noexcept;
  // Empties slot `index` and zeroes what it held (a session's master secret).
  void wipe(std::uint32_t index) noexcept;

  // Live slots, counted the slow way (after a recovery).
  [[nodiscard]] std::uint64_t count_live() const noexcept;

  // Direct access for shared_tls_state_testing.cpp.
  [[nodiscard]] SessionSlotHeader& slot(std::uint32_t index) const noexcept;
  [[nodiscard]] std::uint8_t* data(std::uint32_t index) const noexcept;

 private:
  [[nodiscard]] bool holds(std::uint32_t index, std::span<const std::uint8_t> id) const noexcept;

  RegionHeader* header_;
  std::byte* slots_;
  std::uint32_t capacity_;
  std::uint32_t window_;
  std::uint32_t stride_;
  std::uint32_t max_data_;
  std::uint64_t seed_;
};

}  // namespace ringftpd::tls::detail
