// SharedTlsState's second-level lookups ([shared] session_ids): a worker
// whose client offers a TLS 1.2 session ID this host does not hold asks
// sharedd to fetch it from Redis into the cache, and waits for the answer
// off its loop (ControlSession's TlsLookup phase polls it every
// 250 µs, up to a deadline). A table of kLookupSlots requests in the
// region, under its lock; sharedd sleeps on a futex word the workers bump.
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstring>

#include "tls/session_table.hpp"
#include "tls/shared_tls_lock.hpp"
#include "tls/shared_tls_state.hpp"

namespace ringftpd::tls {
namespace {

using detail::LookupSlot;
using detail::LookupStateValue;

bool same_id(const LookupSlot& s, std::span<const std::uint8_t> id) {
  return s.id_len == id.size() && std::memcmp(s.id, id.data(), id.size()) == 0;
}

}  // namespace

bool SharedTlsState::contains_session(std::span<const std::uint8_t> id, SteadyTime now) noexcept {
  if (id.empty() || id.size() > detail::kMaxSessionIdBytes) return false;
  const Lock lock(*this);
  if (!lock) return false;
  detail::SessionTable table(header(), base());
  const auto found = table.find(id);
  return found && table.slot(*found).expires_ns > detail::to_ns(now);
}

std::optional<LookupTicket> SharedTlsState::request_lookup(std::span<const std::uint8_t> id,
                                                           SteadyTime now) noexcept {
  detail::RegionHeader& h = header();
  if (h.lookup_capacity == 0 || id.empty() || id.size() > detail::kMaxSessionIdBytes) {
    return std::nullopt;
  }
  const std::int64_t t = detail::to_ns(now);
  std::optional<LookupTicket> ticket;
  {
    const Lock lock(*this);
    if (!lock) return std::nullopt;
    LookupSlot* slots = lookup_slots();
    for (std::uint32_t i = 0; i < h.lookup_capacity && !ticket; ++i) {
      LookupSlot& s = slots[i];
      // Free, or held past its lease by someone who died or forgot it.
      if (s.state != LookupStateValue::Free && t - s.claimed_ns < detail::kLookupSlotLeaseNs) {
        continue;
      }
      s.state = LookupStateValue::Pending;
      s.seq += 1;
      s.claimed_ns = t;
      s.id_len = static_cast<std::uint8_t>(id.size());
      std::memcpy(s.id, id.data(), id.size());
      ticket = LookupTicket{i, s.seq};
    }
  }
  if (ticket) {
    h.lookup_signal.fetch_add(1, std::memory_order_release);
    // Never blocks: wakes sharedd if it sleeps on the word.
    (void)::syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(&h.lookup_signal), FUTEX_WAKE, 1,
                    nullptr, nullptr, 0);
  }
  return ticket;
}

LookupState SharedTlsState::poll_lookup(LookupTicket ticket) noexcept {
  detail::RegionHeader& h = header();
  if (ticket.index >= h.lookup_capacity) return LookupState::Missing;
  const Lock lock(*this);
  if (!lock) return LookupState::Missing;
  LookupSlot& s = lookup_slots()[ticket.index];
  if (s.seq != ticket.seq) return LookupState::Missing;  // reclaimed: too late
  switch (s.state) {
    case LookupStateValue::Found:
    case LookupStateValue::Missing: {
      const bool found = s.state == LookupStateValue::Found;
      s.state = LookupStateValue::Free;
      return found ? LookupState::Found : LookupState::Missing;
    }
    case LookupStateValue::Free:
      return LookupState::Missing;
    case LookupStateValue::Pending:
    case LookupStateValue::Taken:
      break;
  }
  return LookupState::Pending;
}

void SharedTlsState::cancel_lookup(LookupTicket ticket) noexcept {
  if (ticket.index >= header().lookup_capacity) return;
  const Lock lock(*this);
  if (!lock) return;
  LookupSlot& s = lookup_slots()[ticket.index];
  if (s.seq == ticket.seq) s.state = LookupStateValue::Free;
}

std::size_t SharedTlsState::take_lookups(std::span<PendingLookup> out) noexcept {
  detail::RegionHeader& h = header();
  std::size_t n = 0;
  const Lock lock(*this);
  if (!lock) return 0;
  LookupSlot* slots = lookup_slots();
  for (std::uint32_t i = 0; i < h.lookup_capacity && n < out.size(); ++i) {
    LookupSlot& s = slots[i];
    if (s.state != LookupStateValue::Pending) continue;
    s.state = LookupStateValue::Taken;
    PendingLookup& p = out[n++];
    p.index = i;
    p.seq = s.seq;
    p.id_len = s.id_len;
    std::memcpy(p.id, s.id, sizeof p.id);
  }
  return n;
}

void SharedTlsState::answer_lookup(const PendingLookup& lookup, bool found) noexcept {
  if (lookup.index >= header().lookup_capacity) return;
  const Lock lock(*this);
  if (!lock) return;
  LookupSlot& s = lookup_slots()[lookup.index];
  // The asker may have given up and the slot serve another request now.
  if (s.seq != lookup.seq || s.state != LookupStateValue::Taken ||
      !same_id(s, std::span<const std::uint8_t>(lookup.id, lookup.id_len))) {
    return;
  }
  s.state = found ? LookupStateValue::Found : LookupStateValue::Missing;
}

std::uint32_t SharedTlsState::lookup_signal() const noexcept {
  return header().lookup_signal.load(std::memory_order_acquire);
}

bool SharedTlsState::wait_for_lookups(std::uint32_t& seen,
                                      std::chrono::milliseconds timeout) noexcept {
  detail::RegionHeader& h = header();
  if (h.lookup_capacity == 0) return false;
  if (h.lookup_signal.load(std::memory_order_acquire) == seen) {
    timespec ts{};
    ts.tv_sec = static_cast<time_t>(timeout.count() / 1000);
    ts.tv_nsec = static_cast<long>(timeout.count() % 1000 * 1'000'000);
    // Returns at once if the word moved past `seen` meanwhile (EAGAIN).
    (void)::syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(&h.lookup_signal), FUTEX_WAIT, seen,
                    &ts, nullptr, 0);
  }
  seen = h.lookup_signal.load(std::memory_order_acquire);
  return true;
}

}  // namespace ringftpd::tls
