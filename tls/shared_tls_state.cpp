#include "tls/shared_tls_state.hpp"

#include <string.h>  // explicit_bzero, strerror
#include <sys/mman.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <new>
#include <string>

#include "tls/error.hpp"
#include "tls/random.hpp"
#include "tls/session_export_queue.hpp"
#include "tls/session_table.hpp"
#include "tls/shared_tls_lock.hpp"
#include "tls/ticket_key_ring.hpp"

namespace ringftpd::tls {

namespace {

using detail::RegionHeader;
using detail::SessionSlotHeader;
using detail::SessionTable;
using detail::TicketKeyMaterial;
using detail::TicketKeyRing;
using detail::to_ns;

constexpr std::size_t kMaxSessions = std::size_t{1} << 24;
constexpr std::size_t kMinSessionBytes = 64;
constexpr std::size_t kMaxSessionBytes = 64 * 1024;
constexpr std::chrono::seconds kMaxLifetime{7 * 24 * 3600};  // TLS 1.3's cap (RFC 8446, 4.6.1)

constexpr std::size_t kPageBytes = 4096;

constexpr std::size_t round_up(std::size_t n, std::size_t align) noexcept {
  return (n + align - 1) / align * align;
}

void validate(const SharedTlsOptions& o) {
  if (o.max_sessions < 1 || o.max_sessions > kMaxSessions) {
    throw TlsError("TLS session cache: between 1 and " + std::to_string(kMaxSessions) + " entries");
  }
  if (o.max_session_bytes < kMinSessionBytes || o.max_session_bytes > kMaxSessionBytes) {
    throw TlsError("TLS session cache: entries of " + std::to_string(kMinSessionBytes) + " to " +
                   std::to_string(kMaxSessionBytes) + " bytes");
  }
  if (o.session_lifetime < std::chrono::seconds{1} || o.session_lifetime > kMaxLifetime) {
    throw TlsError("TLS session lifetime must be between 1 second and 7 days");
  }
  if (o.export_slots > 4096) throw TlsError("TLS session export queue: at most 4096 entries");
  if (o.ticket_key_rotation < std::chrono::seconds{1}) {
    throw TlsError("TLS ticket key rotation must be at least 1 second");
  }
}

// A fresh key, from a DRBG made for the purpose: none outlives the call, so
// none is ever duplicated by fork (random.hpp).
bool draw_key(TicketKeyMaterial& out) noexcept {
  try {
    Random rng;
    return rng.fill(out.aes_key) && rng.fill(out.mask_key);
  } catch (...) {  // TlsError: the DRBG cannot be seeded
    return false;
  }
}

}  // namespace

std::shared_ptr<SharedTlsState> SharedTlsState::create(const SharedTlsOptions& options) {
  validate(options);
  const auto lifetime_ns = std::chrono::nanoseconds(options.session_lifetime).count();
  const auto rotation_ns = std::chrono::nanoseconds(options.ticket_key_rotation).count();
  const std::uint32_t keys = detail::ticket_key_capacity(lifetime_ns, rotation_ns);
  const std::size_t stride =
      round_up(sizeof(SessionSlotHeader) + options.max_session_bytes, detail::kSlotAlign);
  // The keys start on a page of their own, so a process that only reads the
  // statistics (metricsd) can make everything after the header unreadable.
  const std::size_t keys_offset = round_up(sizeof(RegionHeader), kPageBytes);
  const std::size_t sessions_offset =
      round_up(keys_offset + keys * sizeof(detail::TicketKeyRecord), detail::kSlotAlign);
  const std::size_t lookups_offset = sessions_offset + options.max_sessions * stride;
  const std::size_t lookups = options.export_slots > 0 ? detail::kLookupSlots : 0;
  const std::size_t exports_offset =
      round_up(lookups_offset + lookups * sizeof(detail::LookupSlot), detail::kSlotAlign);
  const std::size_t bytes = exports_offset + options.export_slots * stride;

  void* region = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (region == MAP_FAILED) {
    throw TlsError("cannot map " + std::to_string(bytes) +
                   " bytes of shared memory for the TLS session cache: " + std::strerror(errno));
  }
  std::shared_ptr<SharedTlsState> state;
  try {
    state.reset(new SharedTlsState(region, bytes, options));
  } catch (...) {
    ::munmap(region, bytes);
    throw;
  }
  // Keys and master secrets stay out of core dumps (best effort: old kernels
  // lack MADV_DONTDUMP, and the region works the same without it).
  (void)::madvise(region, bytes, MADV_DONTDUMP);

  // The mapping is zeroed: empty slots and records need no initialisation.
  auto* h = new (region) RegionHeader();
  h->version = detail::kLayoutVersion;
  h->session_capacity = static_cast<std::uint32_t>(options.max_sessions);
  h->probe_window = std::min<std::uint32_t>(detail::kProbeWindow, h->session_capacity);
  h->slot_stride = static_cast<std::uint32_t>(stride);
  h->max_session_bytes = static_cast<std::uint32_t>(options.max_session_bytes);
  h->key_capacity = keys;
  h->region_bytes = bytes;
  h->keys_offset = keys_offset;
  h->sessions_offset = sessions_offset;
  h->exports_offset = exports_offset;
  h->lookups_offset = lookups_offset;
  h->lookup_capacity = static_cast<std::uint32_t>(lookups);
  h->export_capacity = static_cast<std::uint32_t>(options.export_slots);
  h->session_lifetime_ns = lifetime_ns;
  h->rotation_ns = rotation_ns;
  if (!h->mutex.init()) throw TlsError("cannot initialise a process-shared robust mutex");

  Random rng;  // throws TlsError; gone before anyone forks
  TicketKeyMaterial first;
  std::uint8_t ids[12];  // hash seed, first key id
  const bool drawn = rng.fill(first.aes_key) && rng.fill(first.mask_key) && rng.fill(ids);
  if (drawn) {
    std::memcpy(&h->hash_seed, ids, sizeof h->hash_seed);
    std::uint32_t first_id;
    std::memcpy(&first_id, ids + sizeof h->hash_seed, sizeof first_id);
    TicketKeyRing(*h, state->base())
        .install_first(to_ns(std::chrono::steady_clock::now()), first_id, first);
  }
  explicit_bzero(&first, sizeof first);
  if (!drawn) throw TlsError("cannot draw the first session ticket key");
  h->magic = detail::kRegionMagic;
  return state;
}

SharedTlsState::SharedTlsState(void* region, std::size_t bytes,
                               const SharedTlsOptions& options) noexcept
    : region_(region), bytes_(bytes), options_(options) {}

SharedTlsState::~SharedTlsState() {
  ::munmap(region_, bytes_);  // this process's view only; no wipe (see the header)
}

RegionHeader& SharedTlsState::header() const noexcept {
  return *static_cast<RegionHeader*>(region_);
}

detail::LookupSlot* SharedTlsState::lookup_slots() const noexcept {
  return reinterpret_cast<detail::LookupSlot*>(base() + header().lookups_offset);
}

void SharedTlsState::recover_locked() noexcept {
  RegionHeader& h = header();
  const std::uint64_t mark = h.dirty.load(std::memory_order_relaxed);
  SessionTable table(h, base());
  TicketKeyRing ring(h, base());
  switch (detail::dirty_kind(mark)) {
    case detail::DirtyKind::SessionSlot:
      if (detail::dirty_index(mark) < table.capacity()) table.wipe(detail::dirty_index(mark));
      break;
    case detail::DirtyKind::TicketKey:
      ring.recover(detail::dirty_index(mark));
      break;
    case detail::DirtyKind::ExportSlot:
      detail::SessionExportQueue(h, base()).recover(detail::dirty_index(mark));
      break;
    case detail::DirtyKind::None:
      break;  // it died reading, or between two writes
  }
  h.dirty.store(0, std::memory_order_relaxed);
  // The dead owner may have stopped between a slot write and its count.
  h.counters.entries_in_use.store(table.count_live(), std::memory_order_relaxed);
  h.counters.ticket_keys_live.store(ring.count_live(), std::memory_order_relaxed);
}

// --- TLS 1.2 sessions --------------------------------------------------------

bool SharedTlsState::put_session(std::span<const std::uint8_t> id,
                                 std::span<const std::uint8_t> der, std::uint64_t origin,
                                 SteadyTime expires, SteadyTime now, bool queue_export) noexcept {
  RegionHeader& h = header();
  if (id.empty() || id.size() > detail::kMaxSessionIdBytes || der.empty() ||
      der.size() > h.max_session_bytes) {
    return false;
  }
  // Everything but the copy happens before the lock, the checksum included.
  SessionSlotHeader entry;
  entry.live = 1;
  entry.id_len = static_cast<std::uint8_t>(id.size());
  std::memcpy(entry.id, id.data(), id.size());
  entry.origin = origin;
  entry.expires_ns = to_ns(expires);
  entry.length = static_cast<std::uint32_t>(der.size());
  entry.checksum = detail::slot_checksum(entry, der);

  const Lock lock(*this);
  if (!lock) return false;
  SessionTable table(h, base());
  const SessionTable::Target target = table.choose(id, to_ns(now));
  if (target.reason == SessionTable::Reason::Expired) {
    h.counters.expired.fetch_add(1, std::memory_order_relaxed);
  } else if (target.reason == SessionTable::Reason::Evict) {
    h.counters.evictions.fetch_add(1, std::memory_order_relaxed);
  }
  table.write(target.index, entry, der);
  h.counters.stores.fetch_add(1, std::memory_order_relaxed);
  detail::SessionExportQueue exports(h, base());
  if (queue_export && exports.is_enabled() && !exports.push(entry, der)) {
    h.counters.exports_dropped.fetch_add(1, std::memory_order_relaxed);
  }
  return true;
}

std::optional<SessionFound> SharedTlsState::get_session(std::span<const std::uint8_t> id,
                                                        SteadyTime now,
                                                        std::span<std::uint8_t> der_out) noexcept {
  RegionHeader& h = header();
  auto miss = [&h]() -> std::optional<SessionFound> {
    h.counters.misses.fetch_add(1, std::memory_order_relaxed);
    return std::nullopt;
  };
  if (id.empty() || id.size() > detail::kMaxSessionIdBytes) return miss();
  SessionTable table(h, base());
  std::uint32_t index = 0;
  SessionSlotHeader entry;
  {
    const Lock lock(*this);
    if (!lock) return miss();
    const std::optional<std::uint32_t> found = table.find(id);
    if (!found) return miss();
    if (table.slot(*found).expires_ns <= to_ns(now)) {
      table.wipe(*found);
      h.counters.expired.fetch_add(1, std::memory_order_relaxed);
      return miss();
    }
    index = *found;
    entry = table.read(index, der_out);
  }
  // Verified outside the lock: the copy is ours now.
  if (entry.length <= h.max_session_bytes && entry.length > der_out.size()) return miss();
  const bool intact = entry.length >= 1 && entry.length <= h.max_session_bytes &&
                      detail::slot_checksum(entry, der_out.first(entry.length)) == entry.checksum;
  if (intact) {
    h.counters.hits.fetch_add(1, std::memory_order_relaxed);
    return SessionFound{entry.origin, entry.length};
  }
  explicit_bzero(der_out.data(), std::min<std::size_t>(der_out.size(), h.max_session_bytes));
  {
    const Lock lock(*this);
    // Drop it unless someone replaced it meanwhile.
    if (lock && table.slot(index).live != 0 && table.slot(index).checksum == entry.checksum &&
        table.find(id) == index) {
      table.wipe(index);
    }
  }
  h.counters.corrupt.fetch_add(1, std::memory_order_relaxed);
  return miss();
}

std::optional<ExportedSession> SharedTlsState::take_exported_session(
    std::span<std::uint8_t> der_out) noexcept {
  RegionHeader& h = header();
  SessionSlotHeader entry;
  {
    const Lock lock(*this);
    if (!lock || !detail::SessionExportQueue(h, base()).pop(entry, der_out)) return std::nullopt;
  }
  // Checked outside the lock, as get_session does: a torn push is dropped.
  if (entry.id_len == 0 || entry.id_len > detail::kMaxSessionIdBytes ||
      detail::slot_checksum(entry, der_out.first(entry.length)) != entry.checksum) {
    explicit_bzero(der_out.data(), std::min<std::size_t>(der_out.size(), entry.length));
    h.counters.corrupt.fetch_add(1, std::memory_order_relaxed);
    return std::nullopt;
  }
  ExportedSession out;
  std::memcpy(out.id, entry.id, entry.id_len);
  out.id_len = entry.id_len;
  out.origin = entry.origin;
  out.expires = SteadyTime(std::chrono::nanoseconds(entry.expires_ns));
  out.size = entry.length;
  return out;
}

bool SharedTlsState::remove_session(std::span<const std::uint8_t> id) noexcept {
  if (id.empty() || id.size() > detail::kMaxSessionIdBytes) return false;
  const Lock lock(*this);
  if (!lock) return false;
  SessionTable table(header(), base());
  const std::optional<std::uint32_t> found = table.find(id);
  if (found) table.wipe(*found);
  return found.has_value();
}

// --- ticket keys -------------------------------------------------------------

KeyRotation SharedTlsState::rotate_ticket_keys_if_due(SteadyTime now) noexcept {
  const std::int64_t t = to_ns(now);
  TicketKeyRing ring(header(), base());
  {
    const Lock lock(*this);
    if (!lock) return KeyRotation::Failed;
    if (!ring.is_rotation_due(t)) {
      (void)ring.drop_expired(t);
      return KeyRotation::NotDue;
    }
  }
  TicketKeyMaterial fresh;
  KeyRotation result = KeyRotation::Failed;
  if (draw_key(fresh)) {  // outside the lock: the DRBG makes syscalls
    const Lock lock(*this);
    if (lock) {
      result = KeyRotation::NotDue;  // unless nobody beat us to it:
      if (ring.is_rotation_due(t)) {
        ring.rotate(t, fresh);
        result = KeyRotation::Rotated;
      }
      (void)ring.drop_expired(t);
    }
  }
  explicit_bzero(&fresh, sizeof fresh);
  return result;
}

std::optional<std::uint32_t> SharedTlsState::adopt_ticket_keys(
    std::span<const SharedTicketKey> keys, SteadyTime now,
    std::chrono::system_clock::time_point wall_now, SteadyTime hold_until) noexcept {
  constexpr std::int64_t kNever = INT64_MAX;
  const std::int64_t now_ns = to_ns(now);
  const std::int64_t wall_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(wall_now.time_since_epoch()).count();
  // A wall time in ms as steady ns, clamped far from overflow.
  auto steady_ns = [&](std::int64_t unix_ms) {
    const std::int64_t delta_ms = std::clamp<std::int64_t>(
        unix_ms - wall_ms, -(std::int64_t{1} << 40), std::int64_t{1} << 40);
    return now_ns + delta_ms * 1'000'000;
  };
  std::array<detail::AdoptedKey, detail::kMaxTicketKeys> adopted{};
  std::array<const SharedTicketKey*, detail::kMaxTicketKeys> sorted{};
  // The newest kMaxTicketKeys, oldest first.
  std::size_t n = 0;
  for (const SharedTicketKey& k : keys) {
    if (k.id == 0) continue;
    if (n < sorted.size()) {
      sorted[n++] = &k;
    } else {
      auto oldest = std::min_element(sorted.begin(), sorted.end(), [](auto* a, auto* b) {
        return a->not_before_unix_ms < b->not_before_unix_ms;
      });
      if ((*oldest)->not_before_unix_ms < k.not_before_unix_ms) *oldest = &k;
    }
  }
  std::sort(sorted.begin(), sorted.begin() + static_cast<std::ptrdiff_t>(n),
            [](auto* a, auto* b) { return a->not_before_unix_ms < b->not_before_unix_ms; });
  std::size_t m = 0;
  for (std::size_t i = 0; i < n; ++i) {
    detail::AdoptedKey& a = adopted[m];
    a.id = sorted[i]->id;
    a.created_ns = steady_ns(sorted[i]->not_before_unix_ms);
    a.retired_ns = i + 1 < n ? steady_ns(sorted[i + 1]->not_before_unix_ms) : 0;
    a.drop_after_ns = a.retired_ns != 0 ? a.retired_ns + header().session_lifetime_ns : kNever;
    if (a.drop_after_ns <= now_ns) continue;  // its tickets are all past their lifetime
    std::memcpy(a.material.aes_key, sorted[i]->aes_key, sizeof a.material.aes_key);
    std::memcpy(a.material.mask_key, sorted[i]->mask_key, sizeof a.material.mask_key);
    ++m;
  }
  std::optional<std::uint32_t> added;
  {
    const Lock lock(*this);
    if (lock) {
      TicketKeyRing ring(header(), base());
      added = ring.adopt(now_ns, std::span<const detail::AdoptedKey>(adopted.data(), m));
      // No cluster key yet (a new cluster, or every record refused): this
      // host keeps rotating on its own.
      if (m > 0) ring.hold_rotation_until(to_ns(hold_until));
      (void)ring.drop_expired(now_ns);
    }
  }
  explicit_bzero(adopted.data(), sizeof adopted);
  return added;
}

std::uint64_t SharedTlsState::ticket_key_generation() const noexcept {
  return header().key_generation.load(std::memory_order_acquire);
}

std::size_t SharedTlsState::ticket_key_capacity() const noexcept {
  return header().key_capacity;
}

std::size_t SharedTlsState::snapshot_ticket_keys(std::span<detail::TicketKeyRecord> out,
                                                 std::uint32_t& current_id,
                                                 std::uint64_t& generation) noexcept {
  const Lock lock(*this);
  if (!lock) return 0;
  generation = header().key_generation.load(std::memory_order_relaxed);
  return TicketKeyRing(header(), base()).snapshot(out, current_id);
}

bool SharedTlsState::restrict_to_statistics() const noexcept {
  const std::size_t keys = header().keys_offset;
  return ::mprotect(region_, keys, PROT_READ) == 0 &&
         ::mprotect(base() + keys, bytes_ - keys, PROT_NONE) == 0;
}

SharedTlsStats SharedTlsState::stats() const noexcept {
  const detail::SharedCounters& c = header().counters;
  auto get = [](const std::atomic<std::uint64_t>& v) { return v.load(std::memory_order_relaxed); };
  SharedTlsStats s;
  s.hits = get(c.hits);
  s.misses = get(c.misses);
  s.stores = get(c.stores);
  s.evictions = get(c.evictions);
  s.expired = get(c.expired);
  s.corrupt = get(c.corrupt);
  s.lock_recoveries = get(c.lock_recoveries);
  s.entries_in_use = get(c.entries_in_use);
  s.capacity = header().session_capacity;
  s.ticket_keys_live = get(c.ticket_keys_live);
  s.rotations = get(c.rotations);
  s.exports_dropped = get(c.exports_dropped);
  return s;
}

}  // namespace ringftpd::tls
