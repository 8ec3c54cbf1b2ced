#include "server/process/counters.hpp"

#include <sys/mman.h>

#include <cerrno>
#include <new>
#include <system_error>

namespace ringftpd::server {

static_assert(std::atomic<std::uint64_t>::is_always_lock_free,
              "counters are shared between processes: they must be lock-free");
static_assert(std::atomic<pid_t>::is_always_lock_free);

std::string_view counter_name(Counter c) noexcept {
  switch (c) {
    case Counter::SessionsActive:
      return "sessions_active";
    case Counter::SessionsTotal:
      return "sessions_total";
    case Counter::SessionsRefused:
      return "sessions_refused";
    case Counter::SessionsRefusedCapacity:
      return "sessions_refused_capacity";
    case Counter::SessionsRefusedPerAddress:
      return "sessions_refused_per_address";
    case Counter::SessionsRefusedAddressTable:
      return "sessions_refused_address_table_full";
    case Counter::LoginsRefusedUserLimit:
      return "logins_refused_user_limit";
    case Counter::ProxyRefusedUntrusted:
      return "proxy_refused_untrusted";
    case Counter::ProxyRefusedMalformed:
      return "proxy_refused_malformed";
    case Counter::ProxyRefusedTimeout:
      return "proxy_refused_timeout";
    case Counter::SessionsRefusedMaxSessions:
      return "sessions_refused_max_sessions";
    case Counter::SessionCapacity:
      return "session_capacity";
    case Counter::LoginsOk:
      return "logins_ok";
    case Counter::LoginsFailed:
      return "logins_failed";
    case Counter::TransfersOk:
      return "transfers_ok";
    case Counter::TransfersFailed:
      return "transfers_failed";
    case Counter::BytesSent:
      return "bytes_sent";
    case Counter::BytesReceived:
      return "bytes_received";
    case Counter::ControlTlsFull:
      return "control_tls_full";
    case Counter::ControlTlsResumed:
      return "control_tls_resumed";
    case Counter::DataTlsFull:
      return "data_tls_full";
    case Counter::DataTlsResumed:
      return "data_tls_resumed";
    case Counter::DataRefusedNotResumed:
      return "data_refused_not_resumed";
    case Counter::DataRefusedForeign:
      return "data_refused_foreign_session";
    case Counter::DataRefusedUnknown:
      return "data_refused_unknown_session";
    case Counter::LogLinesDropped:
      return "log_lines_dropped";
    case Counter::SessionsSendTimedOut:
      return "sessions_send_timed_out";
    case Counter::MemorySessionBytes:
      return "memory_session_bytes";
    case Counter::MemoryHeapBytes:
      return "memory_heap_bytes";
    case Counter::SharedRedisErrors:
      return "shared_redis_errors";
    case Counter::SharedLeaseWins:
      return "shared_lease_wins";
    case Counter::SharedKeysPublished:
      return "shared_keys_published";
    case Counter::SharedKeyPicks:
      return "shared_key_picks";
    case Counter::SharedRecordsRejected:
      return "shared_records_rejected";
    case Counter::SharedSessionsStored:
      return "shared_sessions_stored";
    case Counter::SharedSessionsDropped:
      return "shared_sessions_dropped";
    case Counter::SharedLookupHits:
      return "shared_lookup_hits";
    case Counter::SharedLookupMisses:
      return "shared_lookup_misses";
    case Counter::kCount:
      break;
  }
  return "?";
}

CounterRegion::CounterRegion() {
  void* p =
      mmap(nullptr, sizeof(Shared), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) throw std::system_error(errno, std::generic_category(), "mmap counters");
  shared_ = new (p) Shared{};  // zero pages; atomics value-initialised
}

CounterRegion::~CounterRegion() {
  if (shared_ != nullptr) munmap(shared_, sizeof(Shared));
}

WorkerCounters* CounterRegion::acquire(std::uint32_t slot, std::uint32_t generation) noexcept {
  for (WorkerCounters& b : shared_->blocks) {
    pid_t expected = 0;
    // -1 marks "reserved, not yet forked": readers skip it.
    if (!b.owner_.compare_exchange_strong(expected, -1)) continue;
    for (auto& v : b.values_) v.store(0, std::memory_order_relaxed);
    for (auto& h : b.histograms_) {
      for (auto& c : h.counts) c.store(0, std::memory_order_relaxed);
      h.sum_us.store(0, std::memory_order_relaxed);
    }
    b.serving_.store(false, std::memory_order_relaxed);
    b.slot_.store(slot, std::memory_order_relaxed);
    b.generation_.store(generation, std::memory_order_relaxed);
    return &b;
  }
  return nullptr;
}

void CounterRegion::assign(WorkerCounters* block, pid_t pid) noexcept {
  block->owner_.store(pid, std::memory_order_release);
}

void CounterRegion::release(WorkerCounters* block) noexcept {
  for (std::size_t k = 0; k < kCounterCount; ++k) {
    if (is_gauge(static_cast<Counter>(k))) continue;
    shared_->retired[k].fetch_add(block->values_[k].load(std::memory_order_relaxed),
                                  std::memory_order_relaxed);
  }
  for (std::size_t h = 0; h < kHistogramCount; ++h) {
    auto& from = block->histograms_[h];
    auto& to = shared_->retired_histograms[h];
    for (std::size_t i = 0; i < kHistogramCells; ++i) {
      to.counts[i].fetch_add(from.counts[i].load(std::memory_order_relaxed),
                             std::memory_order_relaxed);
    }
    to.sum_us.fetch_add(from.sum_us.load(std::memory_order_relaxed), std::memory_order_relaxed);
  }
  block->owner_.store(0, std::memory_order_release);
}

void CounterRegion::add_to_totals(Counter c, std::uint64_t n) noexcept {
  if (n != 0) shared_->retired[WorkerCounters::index(c)].fetch_add(n, std::memory_order_relaxed);
}

std::uint64_t CounterRegion::active_sessions() const noexcept {
  std::uint64_t n = 0;
  constexpr auto k = WorkerCounters::index(Counter::SessionsActive);
  for (const WorkerCounters& b : shared_->blocks) {
    if (b.owner_.load(std::memory_order_relaxed) > 0) {
      n += b.values_[k].load(std::memory_order_relaxed);
    }
  }
  return n;
}

CounterValues CounterRegion::totals() const noexcept {
  CounterValues out{};
  for (std::size_t k = 0; k < kCounterCount; ++k) {
    out[k] = shared_->retired[k].load(std::memory_order_relaxed);
  }
  for_each_live([&out](const WorkerCounterView& v) {
    for (std::size_t k = 0; k < kCounterCount; ++k) out[k] += v.values[k];
  });
  return out;
}

void CounterRegion::read_histograms(const WorkerCounters& b, HistogramSet& out) noexcept {
  for (std::size_t h = 0; h < kHistogramCount; ++h) {
    for (std::size_t i = 0; i < kHistogramCells; ++i) {
      out[h].cells[i] = b.histograms_[h].counts[i].load(std::memory_order_relaxed);
    }
    out[h].sum_us = b.histograms_[h].sum_us.load(std::memory_order_relaxed);
  }
}

HistogramSet CounterRegion::histogram_totals() const noexcept {
  HistogramSet out{};
  for (std::size_t h = 0; h < kHistogramCount; ++h) {
    const auto& r = shared_->retired_histograms[h];
    for (std::size_t i = 0; i < kHistogramCells; ++i) {
      out[h].cells[i] = r.counts[i].load(std::memory_order_relaxed);
    }
    out[h].sum_us = r.sum_us.load(std::memory_order_relaxed);
  }
  for_each_live([&out](const WorkerCounterView& v) {
    for (std::size_t h = 0; h < kHistogramCount; ++h) {
      for (std::size_t i = 0; i < kHistogramCells; ++i) out[h].cells[i] += v.histograms[h].cells[i];
      out[h].sum_us += v.histograms[h].sum_us;
    }
  });
  return out;
}

bool CounterRegion::make_read_only() noexcept {
  return mprotect(shared_, sizeof(Shared), PROT_READ) == 0;
}

}  // namespace ringftpd::server
