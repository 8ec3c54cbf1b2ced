#include "tls/shared_tls_state_testing.hpp"

#include <signal.h>

#include <cstdlib>
#include <cstring>

#include "tls/session_table.hpp"
#include "tls/ticket_key_ring.hpp"

namespace ringftpd::tls {

using detail::dirty_mark;
using detail::DirtyKind;
using detail::to_ns;

namespace {

[[noreturn]] void die() noexcept {
  ::raise(SIGKILL);
  std::abort();  // not reached
}

}  // namespace

void SharedTlsStateTesting::die_while_writing_session(SharedTlsState& state,
                                                      std::span<const std::uint8_t> id,
                                                      std::span<const std::uint8_t> der,
                                                      std::uint64_t origin, SteadyTime expires,
                                                      SteadyTime now) noexcept {
  detail::RegionHeader& h = state.header();
  if (h.mutex.lock() == detail::RobustMutex::Locked::Failed) std::abort();
  detail::SessionTable table(h, state.base());
  detail::SessionSlotHeader entry;
  entry.live = 1;
  entry.id_len = static_cast<std::uint8_t>(id.size());
  std::memcpy(entry.id, id.data(), id.size());
  entry.origin = origin;
  entry.expires_ns = to_ns(expires);
  entry.length = static_cast<std::uint32_t>(der.size());
  entry.checksum = detail::slot_checksum(entry, der);
  const std::uint32_t index = table.choose(id, to_ns(now)).index;
  h.dirty.store(dirty_mark(DirtyKind::SessionSlot, index), std::memory_order_relaxed);
  std::atomic_signal_fence(std::memory_order_seq_cst);
  std::memcpy(&table.slot(index), &entry, sizeof entry);
  std::memcpy(table.data(index), der.data(), der.size() / 2);
  std::atomic_signal_fence(std::memory_order_seq_cst);
  die();
}

void SharedTlsStateTesting::die_while_rotating(SharedTlsState& state, SteadyTime now) noexcept {
  detail::RegionHeader& h = state.header();
  if (h.mutex.lock() == detail::RobustMutex::Locked::Failed) std::abort();
  // As TicketKeyRing::rotate, stopped before the switch of current_key.
  std::uint32_t index = 0;
  auto* records = reinterpret_cast<detail::TicketKeyRecord*>(state.base() + h.keys_offset);
  while (index < h.key_capacity && records[index].live != 0) ++index;
  if (index == h.key_capacity) std::abort();  // the tests leave room
  h.dirty.store(dirty_mark(DirtyKind::TicketKey, index), std::memory_order_relaxed);
  std::atomic_signal_fence(std::memory_order_seq_cst);
  detail::TicketKeyRecord& fresh = records[index];
  fresh.id = h.next_key_id;
  fresh.created_ns = to_ns(now);
  fresh.drop_after_ns = INT64_MAX;
  std::memset(fresh.aes_key, 0xab, sizeof fresh.aes_key);
  fresh.live = 1;
  detail::TicketKeyRecord& old = records[h.current_key];
  old.retired_ns = to_ns(now);
  old.drop_after_ns = to_ns(now) + h.session_lifetime_ns;
  std::atomic_signal_fence(std::memory_order_seq_cst);
  die();
}

bool SharedTlsStateTesting::corrupt_session(SharedTlsState& state,
                                            std::span<const std::uint8_t> id) noexcept {
  detail::SessionTable table(state.header(), state.base());
  const std::optional<std::uint32_t> index = table.find(id);
  if (!index) return false;
  table.data(*index)[table.slot(*index).length / 2] ^= 0x40;
  return true;
}

std::uint64_t SharedTlsStateTesting::magic(const SharedTlsState& state) noexcept {
  return state.header().magic;
}

std::uint32_t SharedTlsStateTesting::probe_window(const SharedTlsState& state) noexcept {
  return state.header().probe_window;
}

}  // namespace ringftpd::tls
