// Live counters of every worker, in memory shared with the master, so an
// operator can read sessions, transfers, bytes and handshakes without a
// debugger (SIGUSR1 -> status report, see status_report.hpp).
//
// Layout: one anonymous MAP_SHARED mapping made by the master before it forks
// anyone: totals of workers that have exited ("retired"), then a fixed array
// of per-worker blocks. The master hands a block to each worker it forks and,
// when it reaps the worker, folds the block into the retired totals and frees
// it, so totals never go backwards when a worker dies.
//
// Contract: each block has one writer (its worker's loop thread) and any
// number of readers; values are relaxed atomics (lock-free on every target
// we build for), so a reader sees each value whole, not a consistent set.
// Nothing here can block or fail after construction.
#pragma once

#include <sys/types.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace ringftpd::server {

enum class Counter : std::uint8_t {
  SessionsActive,               // a gauge: not carried into the retired totals
  SessionsTotal,                // accepted control connections
  SessionsRefused,              // refused at accept (limits), every reason
  SessionsRefusedCapacity,      // ... because the worker is at its fd-budget capacity
  SessionsRefusedPerAddress,    // ... because of max_sessions_per_address (all workers)
  SessionsRefusedAddressTable,  // ... because the shared address table had no slot
  SessionsRefusedMaxSessions,   // ... because limits.max_sessions (all workers) was reached
  SessionCapacity,              // a gauge: sessions the worker's fd budget allows
  LoginsOk,
  LoginsFailed,
  LoginsRefusedUserLimit,  // a right password over the user's max_sessions (530, not a failure)
  TransfersOk,
  TransfersFailed,
  BytesSent,      // file and listing bytes on data connections
  BytesReceived,  // uploaded bytes
  ControlTlsFull,
  ControlTlsResumed,
  DataTlsFull,
  DataTlsResumed,
  DataRefusedNotResumed,  // draft §10.2: full handshake on a data connection
  DataRefusedForeign,     // resumed another control connection's session
  DataRefusedUnknown,     // resumed a session of unknown (expired, unbound) origin
  LogLinesDropped,        // log lines dropped: the log could not keep up
  SessionsSendTimedOut,   // closed: the client stopped reading its replies
  MemorySessionBytes,     // a gauge: buffers held by this worker's sessions
  MemoryHeapBytes,        // a gauge: the worker's heap in use (mallinfo2)
  // Connections on a PROXY listener (control or passive) closed before their
  // header was taken, by reason.
  ProxyRefusedUntrusted,  // not from a proxy_trusted address
  ProxyRefusedMalformed,  // no valid header (or none at all: the bytes were something else)
  ProxyRefusedTimeout,    // the header did not arrive in time
  // [shared] (the sharedd helper; in the totals only).
  SharedRedisErrors,      // sync rounds that failed: Redis unreachable or refusing
  SharedLeaseWins,        // this host took the ticket key lease
  SharedKeysPublished,    // ticket keys this host made for the cluster
  SharedKeyPicks,         // cluster ticket keys new to this host's ring
  SharedRecordsRejected,  // records in Redis ignored: malformed, other version, bad MAC
  SharedSessionsStored,   // TLS 1.2 sessions copied to Redis
  SharedSessionsDropped,  // ... not copied: queue full, or Redis unreachable
  SharedLookupHits,       // a TLS 1.2 session ID unknown here, found in Redis in time
  SharedLookupMisses,     // ... not found, or not in time (a late answer is a miss)
  kCount,
};

inline constexpr std::size_t kCounterCount = static_cast<std::size_t>(Counter::kCount);

// "sessions_total", for reports.
[[nodiscard]] std::string_view counter_name(Counter c) noexcept;
// A gauge is a level, not a count: it is not carried into the retired totals
// when its worker exits (sessions_active, session_capacity).
[[nodiscard]] constexpr bool is_gauge(Counter c) noexcept {
  return c == Counter::SessionsActive || c == Counter::SessionCapacity ||
         c == Counter::MemorySessionBytes || c == Counter::MemoryHeapBytes;
}

// Durations, as Prometheus histograms (the metrics listener).
enum class Histogram : std::uint8_t {
  LoginSeconds,      // password sent to authd -> login complete (root open)
  DataSetupSeconds,  // transfer command -> data connection ready (TLS resumed)
  kCount,
};
inline constexpr std::size_t kHistogramCount = static_cast<std::size_t>(Histogram::kCount);
// Upper bounds of the buckets in microseconds (integers: observe() stays two
// fetch_adds and a short scan); a duration above the last is in the +Inf cell.
inline constexpr std::array<std::uint64_t, 14> kHistogramBoundsUs = {
    500,     1'000,   2'500,   5'000,     10'000,    25'000,    50'000,
    100'000, 250'000, 500'000, 1'000'000, 2'500'000, 5'000'000, 10'000'000};
inline constexpr std::size_t kHistogramCells = kHistogramBoundsUs.size() + 1;

// One histogram read out: per-bucket counts (not cumulative; the last is +Inf).
struct HistogramValues {
  std::array<std::uint64_t, kHistogramCells> cells{};
  std::uint64_t sum_us = 0;
};
using HistogramSet = std::array<HistogramValues, kHistogramCount>;

// The bucket a duration of `us` microseconds falls in.
[[nodiscard]] constexpr std::size_t histogram_cell(std::uint64_t us) noexcept {
  std::size_t i = 0;
  while (i < kHistogramBoundsUs.size() && us > kHistogramBoundsUs[i]) ++i;
  return i;
}

class WorkerCounters {
 public:
  void add(Counter c, std::uint64_t n = 1) noexcept {
    values_[index(c)].fetch_add(n, std::memory_order_relaxed);
  }
  void set(Counter c, std::uint64_t v) noexcept {  // gauges
    values_[index(c)].store(v, std::memory_order_relaxed);
  }
  void sub(Counter c, std::uint64_t n = 1) noexcept {
    values_[index(c)].fetch_sub(n, std::memory_order_relaxed);
  }
  [[nodiscard]] std::uint64_t get(Counter c) const noexcept {
    return values_[index(c)].load(std::memory_order_relaxed);
  }
  void observe(Histogram h, std::chrono::steady_clock::duration d) noexcept {
    const auto us = std::chrono::duration_cast<std::chrono::microseconds>(d).count();
    const std::uint64_t v = us > 0 ? static_cast<std::uint64_t>(us) : 0;
    HistogramCells& cells = histograms_[static_cast<std::size_t>(h)];
    cells.counts[histogram_cell(v)].fetch_add(1, std::memory_order_relaxed);
    cells.sum_us.fetch_add(v, std::memory_order_relaxed);
  }
  // The worker: its loop is about to take connections (the master's
  // readiness, reported to the service manager, waits for every worker's).
  void mark_serving() noexcept { serving_.store(true, std::memory_order_release); }
  [[nodiscard]] bool is_serving() const noexcept {
    return serving_.load(std::memory_order_acquire);
  }

 private:
  friend class CounterRegion;
  struct HistogramCells {
    std::array<std::atomic<std::uint64_t>, kHistogramCells> counts;
    std::atomic<std::uint64_t> sum_us;
  };
  static constexpr std::size_t index(Counter c) noexcept { return static_cast<std::size_t>(c); }
  std::array<std::atomic<std::uint64_t>, kCounterCount> values_{};
  std::array<HistogramCells, kHistogramCount> histograms_{};
  std::atomic<pid_t> owner_{0};  // 0 = free
  std::atomic<std::uint32_t> slot_{0};
  std::atomic<std::uint32_t> generation_{0};
  std::atomic<bool> serving_{false};
};

using CounterValues = std::array<std::uint64_t, kCounterCount>;

struct WorkerCounterView {
  pid_t pid = 0;
  std::uint32_t slot = 0;
  std::uint32_t generation = 0;
  CounterValues values{};
  HistogramSet histograms{};
};

class CounterRegion {
 public:
  // Workers at once, old generations draining included.
  static constexpr std::size_t kMaxBlocks = 1024;

  // Maps the region. Throws std::system_error.
  CounterRegion();
  ~CounterRegion();
  CounterRegion(const CounterRegion&) = delete;
  CounterRegion& operator=(const CounterRegion&) = delete;

  // Master: a zeroed block for a worker about to be forked (owner set later
  // by assign). nullptr when every block is taken.
  [[nodiscard]] WorkerCounters* acquire(std::uint32_t slot, std::uint32_t generation) noexcept;
  void assign(WorkerCounters* block, pid_t pid) noexcept;
  // Master: the worker is gone; its figures join the retired totals.
  void release(WorkerCounters* block) noexcept;
  // Master: a figure of no worker's (its own dropped log lines) for the totals.
  void add_to_totals(Counter c, std::uint64_t n) noexcept;

  // Open sessions of all workers now (the sum of the live gauges): the
  // server-wide max_sessions check at accept. Reads every block: ~1 µs.
  [[nodiscard]] std::uint64_t active_sessions() const noexcept;

  // Retired totals plus every live block.
  [[nodiscard]] CounterValues totals() const noexcept;
  [[nodiscard]] HistogramSet histogram_totals() const noexcept;

  // A reader that must not write (the metrics helper): the mapping becomes
  // read-only in this process. false if mprotect failed.
  [[nodiscard]] bool make_read_only() noexcept;
  // Calls f(WorkerCounterView) for each live block.
  template <typename F>
  void for_each_live(F&& f) const {
    for (std::size_t i = 0; i < kMaxBlocks; ++i) {
      const WorkerCounters& b = shared_->blocks[i];
      const pid_t pid = b.owner_.load(std::memory_order_acquire);
      if (pid <= 0) continue;
      WorkerCounterView v{pid,
                          b.slot_.load(std::memory_order_relaxed),
                          b.generation_.load(std::memory_order_relaxed),
                          {}};
      for (std::size_t k = 0; k < kCounterCount; ++k) {
        v.values[k] = b.values_[k].load(std::memory_order_relaxed);
      }
      read_histograms(b, v.histograms);
      f(v);
    }
  }

 private:
  static void read_histograms(const WorkerCounters& b, HistogramSet& out) noexcept;

  struct Shared {
    std::array<std::atomic<std::uint64_t>, kCounterCount> retired;
    std::array<WorkerCounters::HistogramCells, kHistogramCount> retired_histograms;
    std::array<WorkerCounters, kMaxBlocks> blocks;
  };
  Shared* shared_ = nullptr;
};

}  // namespace ringftpd::server
