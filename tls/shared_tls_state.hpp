// tls::SharedTlsState: the TLS resumption state every worker process shares
// (DESIGN.md §2): the session ticket keys and the TLS 1.2 session cache, in
// one anonymous shared memory region. Any worker resumes any worker's
// sessions; a data connection that lands on worker B resumes the ticket its
// control connection got from worker A (the origin travels inside the ticket,
// resumption.hpp).
//
// Who calls what:
//   master, before fork:  state = SharedTlsState::create(options)
//   master, on a timer:   state->rotate_ticket_keys_if_due(steady_clock::now())
//                         (at least every min(rotation, 60 s); cheap when not due)
//   master, for metrics:  state->stats()
//   each worker, after fork: Resumption(state) (resumption.hpp), which seals
//                         and opens tickets and caches sessions through it.
//
// Contract:
// - One mmap(MAP_SHARED | MAP_ANONYMOUS) region: no file, no name, so only
//   the creator and its descendants can reach it. It is inherited by fork;
//   the object and every copy of the shared_ptr are process-local, and
//   destroying them unmaps this process's view only (never wipes: others
//   still use it). The region is excluded from core dumps (it holds ticket
//   keys and master secrets: threat, a core file read by someone else).
// - Safe for many processes at once, one thread each; a process may hold
//   copies in several threads only if they never call it concurrently.
// - One robust process-shared mutex guards the region. Critical sections
//   copy a few hundred bytes at most: no allocation, no syscall, no wolfSSL.
//   A process killed while holding the lock neither blocks the others nor
//   leaves them a torn entry: the next locker repairs what it was writing
//   (`lock_recoveries`), and every entry is checksummed and verified on
//   read besides (`corrupt`).
// - Bounded: max_sessions entries of at most max_session_bytes. A full
//   probe window drops its expired entries first, then the one that expires
//   first (evictions). A session that is not stored (oversized, or the lock
//   failed) merely resumes by ticket or gets a full handshake.
// - Times are steady_clock (CLOCK_MONOTONIC, machine-wide) and supplied by
//   the caller, so tests need no clock.
// - create() throws TlsError (start-up); everything else is noexcept and
//   reports failure as a value.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>

#include "tls/shared_record.hpp"
#include "tls/shared_tls_layout.hpp"

namespace ringftpd::tls {

using SteadyTime = std::chrono::steady_clock::time_point;

struct SharedTlsOptions {
  // TLS 1.2 sessions resumable by ID (config: session_cache_entries). The
  // region holds max_sessions * ~(max_session_bytes + 80) bytes, touched
  // only as it fills.
  std::size_t max_sessions = 20000;
  // Per entry: a serialized TLS 1.2 session is a few hundred bytes (more
  // with a client certificate); a larger one is not stored.
  std::size_t max_session_bytes = 2048;
  // How long a retired ticket key keeps opening its tickets: the ticket
  // lifetime the contexts advertise (ServerOptions::session_lifetime; give
  // both the same value, or tickets die early). 1 s .. 7 days.
  std::chrono::seconds session_lifetime = std::chrono::hours(8);
  // How often the master draws a new ticket key. >= 1 s.
  std::chrono::seconds ticket_key_rotation = std::chrono::hours(1);
  // Sessions stored by put_session that wait for sharedd to copy them to
  // Redis ([shared] session_ids); 0: none are queued. <= 4096. Non-zero
  // also makes room for kLookupSlots second-level lookups.
  std::size_t export_slots = 0;
};

struct SharedTlsStats {
  std::uint64_t hits = 0;             // get_session found a live, intact entry
  std::uint64_t misses = 0;           // get_session found nothing usable
  std::uint64_t stores = 0;           // put_session stored an entry
  std::uint64_t evictions = 0;        // live entries overwritten to make room
  std::uint64_t expired = 0;          // expired entries dropped (lookup or overwrite)
  std::uint64_t corrupt = 0;          // entries whose checksum failed, dropped
  std::uint64_t lock_recoveries = 0;  // locks taken over from a dead process
  std::uint64_t entries_in_use = 0;
  std::uint64_t capacity = 0;  // max_sessions
  std::uint64_t ticket_keys_live = 0;
  std::uint64_t rotations = 0;
  std::uint64_t exports_dropped = 0;  // not queued for Redis: the queue was full
};

// A session taken from the export queue (sharedd).
struct ExportedSession {
  std::uint8_t id[detail::kMaxSessionIdBytes] = {};
  std::size_t id_len = 0;
  std::uint64_t origin = 0;
  SteadyTime expires;
  std::size_t size = 0;  // bytes of the caller's buffer
};

// A lookup a worker asked sharedd for (request_lookup).
struct LookupTicket {
  std::uint32_t index = 0;
  std::uint32_t seq = 0;
};
enum class LookupState : std::uint8_t {
  Pending,  // not answered yet
  Found,    // the session is in this cache now
  Missing,  // Redis does not have it, or could not be asked
};
// A lookup for sharedd to do (take_lookups).
struct PendingLookup {
  std::uint32_t index = 0;
  std::uint32_t seq = 0;
  std::uint8_t id_len = 0;
  std::uint8_t id[detail::kMaxSessionIdBytes] = {};
};

// What get_session found.
struct SessionFound {
  std::uint64_t origin = 0;  // 0: none (resumes, never accepted on a data connection)
  std::size_t size = 0;      // bytes written to the caller's buffer
};

enum class KeyRotation : std::uint8_t {
  NotDue,   // nothing to do (retired keys past their time may have been dropped)
  Rotated,  // a new current key
  Failed,   // no fresh key (DRBG failure, lock failure): the old one stays; retry later
};

class SharedTlsState {
 public:
  // Maps and initialises the region and draws the first ticket key. Throws
  // TlsError on bad options or when the region cannot be mapped. Call it
  // before fork, in the master (a tls::Library must be alive).
  [[nodiscard]] static std::shared_ptr<SharedTlsState> create(const SharedTlsOptions& options);

  ~SharedTlsState();
  SharedTlsState(const SharedTlsState&) = delete;
  SharedTlsState& operator=(const SharedTlsState&) = delete;

  [[nodiscard]] const SharedTlsOptions& options() const noexcept { return options_; }

  // --- TLS 1.2 sessions by ID ----------------------------------------------
  // Stores `der` (1..max_session_bytes) under `id` (1..32 bytes) until
  // `expires`, replacing any entry with that id. false if not stored.
  // `queue_export`: also queue it for Redis (when exports are on); sharedd
  // storing what it fetched from Redis says no.
  bool put_session(std::span<const std::uint8_t> id, std::span<const std::uint8_t> der,
                   std::uint64_t origin, SteadyTime expires, SteadyTime now,
                   bool queue_export = true) noexcept;
  // Copies the live entry for `id` into `der_out` (give it max_session_bytes;
  // the caller wipes it after use). nullopt: absent, expired, corrupt, or
  // larger than der_out.
  [[nodiscard]] std::optional<SessionFound> get_session(std::span<const std::uint8_t> id,
                                                        SteadyTime now,
                                                        std::span<std::uint8_t> der_out) noexcept;
  // --- the second level (sharedd, [shared] session_ids) ---------------------
  // Whether `id` has a live entry; counts nothing (a peek before wolfSSL's
  // own lookup).
  [[nodiscard]] bool contains_session(std::span<const std::uint8_t> id, SteadyTime now) noexcept;
  // A worker: asks sharedd to fetch `id` from Redis into this cache, and
  // wakes it (FUTEX_WAKE: never blocks). nullopt: lookups are off (no
  // [shared]) or all kLookupSlots are busy: go on without.
  [[nodiscard]] std::optional<LookupTicket> request_lookup(std::span<const std::uint8_t> id,
                                                           SteadyTime now) noexcept;
  // A worker: the answer so far. Found and Missing free the slot.
  [[nodiscard]] LookupState poll_lookup(LookupTicket ticket) noexcept;
  // A worker that stops waiting (its deadline, its connection closed).
  void cancel_lookup(LookupTicket ticket) noexcept;
  // sharedd: the requests not yet taken (now theirs), at most out.size().
  std::size_t take_lookups(std::span<PendingLookup> out) noexcept;
  // sharedd: after storing the session (put_session, export off) or not.
  void answer_lookup(const PendingLookup& lookup, bool found) noexcept;
  // sharedd: sleeps until a worker asks (the signal moves past `seen`) or
  // `timeout`; `seen` is updated. false if lookups are off.
  bool wait_for_lookups(std::uint32_t& seen, std::chrono::milliseconds timeout) noexcept;
  [[nodiscard]] std::uint32_t lookup_signal() const noexcept;

  // sharedd: takes the oldest session queued for export (see
  // SharedTlsOptions::export_slots), its DER into `der_out` (give it
  // max_session_bytes; wipe it after use). nullopt when the queue is empty.
  [[nodiscard]] std::optional<ExportedSession> take_exported_session(
      std::span<std::uint8_t> der_out) noexcept;

  // Forgets `id`; false if it was not there.
  bool remove_session(std::span<const std::uint8_t> id) noexcept;

  // --- ticket keys (the master) -----------------------------------------------
  // Draws a new current key if the current one is ticket_key_rotation old,
  // and drops (wipes) retired keys older than retired_at + session_lifetime.
  // The new key's material is drawn outside the lock, from a DRBG made for
  // the call (this object holds none, so nothing random is duplicated by fork).
  [[nodiscard]] KeyRotation rotate_ticket_keys_if_due(SteadyTime now) noexcept;

  // --- ticket keys from the cluster (sharedd, [shared]) ------------------------
  // Makes the cluster's keys (any order, distinct ids) this host's: each
  // seals from its not_before and opens until its successor's not_before +
  // session_lifetime; the newest already due becomes current. Keys of this
  // host's own stay, retired (TicketKeyRing::adopt). Local rotation waits
  // until `hold_until` (the cluster rotates; if the helper stops coming,
  // this host rotates alone again). Wall times map to steady ones through
  // (now, wall_now). Returns how many keys were new here; nullopt if the
  // lock failed.
  [[nodiscard]] std::optional<std::uint32_t> adopt_ticket_keys(
      std::span<const SharedTicketKey> keys, SteadyTime now,
      std::chrono::system_clock::time_point wall_now, SteadyTime hold_until) noexcept;

  // --- for TicketKeys (ticket_keys.hpp), the workers' side of the key ring ----
  // Changes whenever the ring does; read without the lock.
  [[nodiscard]] std::uint64_t ticket_key_generation() const noexcept;
  [[nodiscard]] std::size_t ticket_key_capacity() const noexcept;
  // Copies the live key records (out.size() >= ticket_key_capacity()) and the
  // current key's id; the generation they belong to is returned in
  // `generation`. 0 records: the lock failed.
  std::size_t snapshot_ticket_keys(std::span<detail::TicketKeyRecord> out,
                                   std::uint32_t& current_id, std::uint64_t& generation) noexcept;

  [[nodiscard]] SharedTlsStats stats() const noexcept;
  // For a process that only reports stats() (metricsd): in its own view the
  // header becomes read-only and the ticket keys and cached sessions
  // inaccessible (a read faults). False if mprotect failed.
  [[nodiscard]] bool restrict_to_statistics() const noexcept;

 private:
  class Lock;
  friend struct SharedTlsStateTesting;

  SharedTlsState(void* region, std::size_t bytes, const SharedTlsOptions& options) noexcept;
  [[nodiscard]] detail::RegionHeader& header() const noexcept;
  [[nodiscard]] detail::LookupSlot* lookup_slots() const noexcept;
  [[nodiscard]] std::byte* base() const noexcept { return static_cast<std::byte*>(region_); }
  void recover_locked() noexcept;  // after EOWNERDEAD, under the lock

  void* region_;
  std::size_t bytes_;
  SharedTlsOptions options_;
};

}  // namespace ringftpd::tls
