// The layout of SharedTlsState's shared memory region (shared_tls_state.hpp).
// Internal to tls/: SessionTable and TicketKeyRing read and write it under
// the region's lock; nothing else should.
//
//   [RegionHeader]              magic, version, geometry, the robust mutex,
//                               the dirty mark, the key ring's state, counters
//   [TicketKeyRecord x K]       the ticket key ring, K = key_capacity
//   [session slot x N]          N = session_capacity, each slot_stride bytes:
//                               SessionSlotHeader, then max_session_bytes of data
//   [LookupSlot x L]            L = lookup_capacity (0 unless [shared]): TLS 1.2
//                               session IDs a worker waits for sharedd to fetch
//                               from Redis into this cache (shared_tls_lookups.cpp)
//   [export slot x E]           E = export_capacity (0 unless [shared] copies
//                               sessions to Redis): a FIFO of sessions stored
//                               here, for sharedd to take (SessionExportQueue),
//                               each laid out like a session slot
//
// Everything is fixed-size and found by arithmetic from the geometry, which
// is written once before fork and never changes: no pointers live in the
// region (each process maps it at its own address), and a half-written slot
// or key record can damage only itself.
//
// The dirty mark. Before the lock holder writes a slot or a key record it
// records which one in RegionHeader::dirty, and clears the mark once done. A
// process that inherits the lock from a dead owner (EOWNERDEAD) wipes the
// marked record: what was half-written is dropped, never served. Stores to
// the mark are ordered against the record's stores with a compiler fence:
// SIGKILL stops a process between two instructions, and every store it has
// executed is visible to the next owner (the kernel's robust-futex hand-off
// comes after them), so program order is what counts.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <span>
#include <type_traits>

#include "tls/robust_mutex.hpp"

namespace ringftpd::tls::detail {

inline constexpr std::uint64_t kRegionMagic = 0x534c544450544652;  // "RFTPDTLS" in memory
inline constexpr std::uint32_t kLayoutVersion = 2;
inline constexpr std::size_t kMaxSessionIdBytes = 32;  // TLS 1.2 session IDs (RFC 5246)
inline constexpr std::size_t kTicketKeyBytes = 32;     // AES-256-GCM
inline constexpr std::size_t kMaskKeyBytes = 32;       // HMAC-SHA256 key of the origin mask
// Slots a session id may occupy: its home slot and the next ones. Every
// lookup reads the whole window (no tombstones, no unbounded chains); 8
// slot headers are a few cache lines.
inline constexpr std::uint32_t kProbeWindow = 8;
// The key ring never holds more keys than this (see TicketKeyRing).
inline constexpr std::uint32_t kMaxTicketKeys = 64;
inline constexpr std::size_t kSlotAlign = 64;  // a cache line

// Nanoseconds on CLOCK_MONOTONIC (steady_clock on Linux): one clock for the
// whole machine, so every process agrees on an expiry.
using SteadyTime = std::chrono::steady_clock::time_point;
[[nodiscard]] inline std::int64_t to_ns(SteadyTime t) noexcept {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}

// What the lock holder is writing (RegionHeader::dirty).
enum class DirtyKind : std::uint32_t { None = 0, SessionSlot = 1, TicketKey = 2, ExportSlot = 3 };
[[nodiscard]] constexpr std::uint64_t dirty_mark(DirtyKind kind, std::uint32_t index) noexcept {
  return (std::uint64_t{static_cast<std::uint32_t>(kind)} << 32) | index;
}
[[nodiscard]] constexpr DirtyKind dirty_kind(std::uint64_t mark) noexcept {
  return static_cast<DirtyKind>(mark >> 32);
}
[[nodiscard]] constexpr std::uint32_t dirty_index(std::uint64_t mark) noexcept {
  return static_cast<std::uint32_t>(mark);
}

// Counters anyone may bump without the lock (relaxed atomics).
struct SharedCounters {
  std::atomic<std::uint64_t> hits;
  std::atomic<std::uint64_t> misses;
  std::atomic<std::uint64_t> stores;
  std::atomic<std::uint64_t> evictions;
  std::atomic<std::uint64_t> expired;
  std::atomic<std::uint64_t> corrupt;
  std::atomic<std::uint64_t> lock_recoveries;
  std::atomic<std::uint64_t> rotations;
  std::atomic<std::uint64_t> exports_dropped;  // the export queue was full
  // Written under the lock (recounted after a recovery); read without.
  std::atomic<std::uint64_t> entries_in_use;
  std::atomic<std::uint64_t> ticket_keys_live;
};
static_assert(std::atomic<std::uint64_t>::is_always_lock_free,
              "counters in shared memory need lock-free atomics");

struct alignas(kSlotAlign) RegionHeader {
  // Identity and geometry: written by create() before fork, then read-only.
  std::uint64_t magic = 0;
  std::uint32_t version = 0;
  std::uint32_t session_capacity = 0;  // N
  std::uint32_t probe_window = 0;      // min(kProbeWindow, N)
  std::uint32_t slot_stride = 0;       // bytes per session slot
  std::uint32_t max_session_bytes = 0;
  std::uint32_t key_capacity = 0;  // K
  std::uint64_t region_bytes = 0;
  std::uint64_t keys_offset = 0;
  std::uint64_t sessions_offset = 0;
  std::uint64_t exports_offset = 0;
  std::uint64_t lookups_offset = 0;
  std::uint32_t lookup_capacity = 0;  // L
  // Bumped by a worker that asked for a lookup, and FUTEX_WAKEd: sharedd
  // sleeps on it (FUTEX_WAIT) between its rounds.
  std::atomic<std::uint32_t> lookup_signal;
  std::uint32_t export_capacity = 0;  // E
  // Under the lock: the export FIFO's oldest slot and its length.
  std::uint32_t export_head = 0;
  std::uint32_t export_count = 0;
  std::uint32_t pad0 = 0;
  std::uint64_t hash_seed = 0;  // random: which slot an id lands in is not predictable
  std::int64_t session_lifetime_ns = 0;
  std::int64_t rotation_ns = 0;

  RobustMutex mutex;
  // Under the lock.
  std::atomic<std::uint64_t> dirty;  // dirty_mark(), or 0
  std::uint32_t current_key = 0;     // index of the key that seals new tickets
  std::uint32_t next_key_id = 0;     // ids count up from a random start, never 0
  std::uint32_t pad = 0;
  // No local rotation before this (steady ns): the cluster's keys are adopted
  // (TicketKeyRing::hold_rotation_until).
  std::int64_t rotation_held_until_ns = 0;
  // Bumped under the lock at every change of the key ring; read without it,
  // so that a worker refreshes its copy only when something changed.
  std::atomic<std::uint64_t> key_generation;

  SharedCounters counters;
};

// One ticket key (its AES key and the HMAC key of the origin mask).
struct TicketKeyRecord {
  std::uint32_t live = 0;  // 0: empty slot
  std::uint32_t id = 0;    // named by tickets (the first 4 bytes of key_name)
  std::int64_t created_ns = 0;
  std::int64_t retired_ns = 0;     // 0 while it is (or was about to become) current
  std::int64_t drop_after_ns = 0;  // retired_ns + session lifetime; INT64_MAX until retired
  std::uint8_t aes_key[kTicketKeyBytes] = {};
  std::uint8_t mask_key[kMaskKeyBytes] = {};
};
static_assert(std::is_trivially_copyable_v<TicketKeyRecord>);

// A session ID waiting for sharedd (under the region's lock).
enum class LookupStateValue : std::uint32_t { Free = 0, Pending, Taken, Found, Missing };
struct LookupSlot {
  LookupStateValue state = LookupStateValue::Free;
  std::uint32_t seq = 0;        // which request holds it (tickets carry it)
  std::int64_t claimed_ns = 0;  // a slot held longer than kLookupSlotLease is free again
  std::uint8_t id_len = 0;
  std::uint8_t pad[7] = {};
  std::uint8_t id[kMaxSessionIdBytes] = {};
};
static_assert(std::is_trivially_copyable_v<LookupSlot>);
inline constexpr std::uint32_t kLookupSlots = 64;
inline constexpr std::int64_t kLookupSlotLeaseNs = 2'000'000'000;

// The fixed part of a session slot; `length` bytes of data follow it.
struct SessionSlotHeader {
  std::uint32_t live = 0;  // 0: empty
  std::uint8_t id_len = 0;
  std::uint8_t pad[3] = {};
  std::uint8_t id[kMaxSessionIdBytes] = {};
  std::uint64_t origin = 0;
  std::int64_t expires_ns = 0;
  std::uint32_t length = 0;
  std::uint32_t pad2 = 0;
  // Over all of the above (this field read as 0) and the data: a slot torn
  // by a writer that died unnoticed is detected on read, and dropped.
  std::uint64_t checksum = 0;
};
static_assert(std::is_trivially_copyable_v<SessionSlotHeader>);
static_assert(std::has_unique_object_representations_v<SessionSlotHeader>,
              "no hidden padding: the checksum hashes the header's bytes");

// A 64-bit hash, 8 bytes per step. Not cryptographic: it guards against torn
// writes and spreads server-made session ids, not against an attacker (no
// process outside the server can write the region). Defined, with
// slot_checksum, in session_table.cpp.
[[nodiscard]] std::uint64_t hash_bytes(std::span<const std::uint8_t> bytes,
                                       std::uint64_t seed) noexcept;

// The checksum a slot with header `h` (checksum field ignored) and `data`
// must carry.
[[nodiscard]] std::uint64_t slot_checksum(const SessionSlotHeader& h,
                                          std::span<const std::uint8_t> data) noexcept;

}  // namespace ringftpd::tls::detail
