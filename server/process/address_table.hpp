// Open control sessions per client address, counted across every worker, so
// `limits.max_sessions_per_address` means what an operator reads: sessions
// from one address on the whole server, not per worker.
//
// Layout: one anonymous MAP_SHARED mapping made by the master before it forks
// anyone (like the counters and the TLS session cache): a header (a robust
// process-shared mutex, figures) and a fixed array of slots, a power of two,
// open addressing with linear probing bounded to kMaxProbe slots from the
// home slot. The home slot comes from SipHash-2-4 of the address under a key
// drawn at creation, so a client cannot aim many addresses at one window.
//
// A slot is one (address, owner) pair with a count; the owner is the worker's
// pid. The admission check sums the counts of every owner of the address in
// its window and adds one to the caller's own slot, all under the mutex, so
// the limit is exact across workers. Per-owner slots are what make a crash
// harmless: when the master reaps a worker it purges that pid's slots, and
// the address gets its sessions back (a dead worker's sessions died with it).
//
// Every mutation commits with one store (a count, or a slot's state last), so
// a worker killed while holding the lock leaves nothing half-done that
// matters; the next locker takes the lock over (EOWNERDEAD), marks it
// consistent and counts a recovery. A slot whose count is 0 is free.
//
// Full window (kMaxProbe slots all held by other pairs): the session is
// refused (fail closed, counted as `sessions_refused_address_table_full`),
// never admitted uncounted. The table has at least twice as many slots as
// max_sessions, so this takes either a changed max_sessions after a reload
// (the table keeps its size until a restart) or one address held by more
// than kMaxProbe workers at once.
//
// Memory: 24 bytes a slot (default max_sessions 4000: 8192 slots, 192 KiB;
// the largest, 1000000: 2^21 slots, 48 MiB), written once at creation;
// purge() scans the whole table.
//
// Critical sections are a bounded scan of kMaxProbe slots (~100 ns); a worker
// waits on the mutex only while another process is inside one.
#pragma once

#include <sys/types.h>

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>

#include "io/socket.hpp"
#include "tls/robust_mutex.hpp"

namespace ringftpd::server {

// An IPv4 address is stored v4-mapped (::ffff:a.b.c.d), so a client counts
// once whether it came through an IPv4 or a dual-stack IPv6 listener.
using AddressKey = std::array<std::uint8_t, 16>;
[[nodiscard]] AddressKey address_key(const io::SocketAddress& a) noexcept;

enum class Admission : std::uint8_t {
  Admitted,
  OverLimit,   // the address already holds `limit` sessions
  TableFull,   // no free slot in the address's window: refused, fail closed
  LockFailed,  // the mutex is unusable (a bug): refused, fail closed
};

struct AddressTableStats {
  std::uint64_t slots = 0;
  std::uint64_t pairs_in_use = 0;  // (address, worker) pairs with a session
  std::uint64_t sessions = 0;      // sum of every count
  std::uint64_t table_full = 0;    // admissions refused for want of a slot
  std::uint64_t lock_recoveries = 0;
};

class AddressTable {
 public:
  static constexpr std::uint32_t kMaxProbe = 32;
  static constexpr std::uint32_t kMinSlots = 64;

  // Maps a table of at least max(min_slots, kMinSlots) slots, rounded up to
  // a power of two. Throws std::system_error (mmap, getrandom) or
  // std::runtime_error (mutex attributes).
  explicit AddressTable(std::uint32_t min_slots);
  ~AddressTable();
  AddressTable(const AddressTable&) = delete;
  AddressTable& operator=(const AddressTable&) = delete;

  // Slots for a server whose max_sessions is `max_sessions` (2x, so windows
  // stay sparse).
  [[nodiscard]] static std::uint32_t slots_for(std::uint32_t max_sessions) noexcept;

  // Worker, at accept: one more session of `owner` (its pid) from `key`,
  // unless the address already holds `limit` sessions on the whole server.
  [[nodiscard]] Admission admit(const AddressKey& key, std::uint32_t limit, pid_t owner) noexcept;
  // Worker, when an admitted session ends. A key the owner holds no session
  // for is ignored (false).
  bool release(const AddressKey& key, pid_t owner) noexcept;
  // Master, when it reaps worker `owner`: forgets its sessions. Returns how
  // many there were.
  std::uint64_t purge(pid_t owner) noexcept;

  // Sessions from `key` on the whole server now.
  [[nodiscard]] std::uint32_t sessions_of(const AddressKey& key) noexcept;
  [[nodiscard]] AddressTableStats stats() const noexcept;  // lock-free read
  [[nodiscard]] std::uint32_t slots() const noexcept { return slots_; }

 private:
  struct Slot {
    std::atomic<std::uint32_t> count;  // 0 = free; the commit point of an insert
    std::atomic<pid_t> owner;
    std::array<std::atomic<std::uint64_t>, 2> key;
  };
  struct Header {
    tls::detail::RobustMutex mutex;
    std::array<std::uint64_t, 2> hash_key;  // SipHash key; written once before fork
    std::atomic<std::uint64_t> pairs;       // slots with a count
    std::atomic<std::uint64_t> sessions;    // sum of the counts
    std::atomic<std::uint64_t> table_full;
    std::atomic<std::uint64_t> lock_recoveries;
  };
  class Lock;

  [[nodiscard]] std::uint32_t home(const AddressKey& key) const noexcept;
  [[nodiscard]] static bool holds(const Slot& s, const AddressKey& key) noexcept;

  void* region_ = nullptr;
  std::size_t bytes_ = 0;
  Header* header_ = nullptr;
  Slot* slots_array_ = nullptr;
  std::uint32_t slots_ = 0;
};

}  // namespace ringftpd::server
