#include "server/metrics/exposition.hpp"

#include <array>
#include <string_view>

#include "server/metrics/text_format.hpp"

namespace ringftpd::server::metrics {
namespace {

// One counter of ours as one series of a family.
struct Part {
  Counter counter;
  std::string_view labels;
};

struct Family {
  std::string_view name;  // after "ringftpd_" / "ringftpd_worker_"
  std::string_view help;
  MetricType type;
  std::vector<Part> parts;
};

const std::vector<Family>& counter_families() {
  using enum Counter;
  static const std::vector<Family> kFamilies = {
      {"sessions_active", "Open control connections.", MetricType::Gauge, {{SessionsActive, ""}}},
      {"session_capacity",
       "Sessions the workers' file descriptor budgets allow.",
       MetricType::Gauge,
       {{SessionCapacity, ""}}},
      {"sessions_total",
       "Control connections accepted.",
       MetricType::Counter,
       {{SessionsTotal, ""}}},
      {"sessions_refused_total",
       "Control connections refused at accept, by reason.",
       MetricType::Counter,
       {{SessionsRefusedCapacity, R"(reason="capacity")"},
        {SessionsRefusedMaxSessions, R"(reason="max_sessions")"},
        {SessionsRefusedPerAddress, R"(reason="per_address")"},
        {SessionsRefusedAddressTable, R"(reason="address_table_full")"}}},
      {"logins_total",
       "Logins completed, by result.",
       MetricType::Counter,
       {{LoginsOk, R"(result="ok")"},
        {LoginsFailed, R"(result="failed")"},
        {LoginsRefusedUserLimit, R"(result="refused_user_limit")"}}},
      {"transfers_total",
       "Transfers (files and listings) ended, by result.",
       MetricType::Counter,
       {{TransfersOk, R"(result="ok")"}, {TransfersFailed, R"(result="failed")"}}},
      {"data_sent_bytes_total",
       "File and listing bytes sent on data connections.",
       MetricType::Counter,
       {{BytesSent, ""}}},
      {"data_received_bytes_total",
       "Uploaded bytes received on data connections.",
       MetricType::Counter,
       {{BytesReceived, ""}}},
      {"tls_handshakes_total",
       "TLS handshakes completed, by connection and kind.",
       MetricType::Counter,
       {{ControlTlsFull, R"(channel="control",kind="full")"},
        {ControlTlsResumed, R"(channel="control",kind="resumed")"},
        {DataTlsFull, R"(channel="data",kind="full")"},
        {DataTlsResumed, R"(channel="data",kind="resumed")"}}},
      {"data_connections_refused_total",
       "Protected data connections refused by required session reuse, by reason.",
       MetricType::Counter,
       {{DataRefusedNotResumed, R"(reason="not_resumed")"},
        {DataRefusedForeign, R"(reason="foreign_session")"},
        {DataRefusedUnknown, R"(reason="unknown_session")"}}},
      {"sessions_send_timed_out_total",
       "Sessions closed because the client stopped reading its replies.",
       MetricType::Counter,
       {{SessionsSendTimedOut, ""}}},
      {"log_lines_dropped_total",
       "Log and xferlog lines dropped because their reader was too slow.",
       MetricType::Counter,
       {{LogLinesDropped, ""}}},
      {"session_memory_bytes",
       "Buffers held by sessions.",
       MetricType::Gauge,
       {{MemorySessionBytes, ""}}},
      {"heap_bytes", "Heap in use by workers.", MetricType::Gauge, {{MemoryHeapBytes, ""}}},
      {"proxy_refused_total",
       "Connections on PROXY protocol listeners closed before their header was taken, by "
       "reason.",
       MetricType::Counter,
       {{ProxyRefusedUntrusted, R"(reason="untrusted")"},
        {ProxyRefusedMalformed, R"(reason="malformed")"},
        {ProxyRefusedTimeout, R"(reason="timeout")"}}},
      {"shared_redis_errors_total",
       "Rounds with Redis ([shared]) that failed: this host served from local TLS state.",
       MetricType::Counter,
       {{SharedRedisErrors, ""}}},
      {"shared_ticket_key_lease_wins_total",
       "Times this host took the lease to rotate the cluster's ticket keys.",
       MetricType::Counter,
       {{SharedLeaseWins, ""}}},
      {"shared_ticket_keys_total",
       "Cluster ticket keys this host published, and picked up from Redis.",
       MetricType::Counter,
       {{SharedKeysPublished, R"(event="published")"}, {SharedKeyPicks, R"(event="picked")"}}},
      {"shared_records_rejected_total",
       "Records in Redis ignored: malformed, another version, or a MAC that fails.",
       MetricType::Counter,
       {{SharedRecordsRejected, ""}}},
      {"shared_sessions_total",
       "TLS 1.2 sessions offered to Redis, by result.",
       MetricType::Counter,
       {{SharedSessionsStored, R"(result="stored")"},
        {SharedSessionsDropped, R"(result="dropped")"}}},
      {"shared_session_lookups_total",
       "TLS 1.2 session IDs unknown here, looked up in Redis, by result (a late answer is a miss).",
       MetricType::Counter,
       {{SharedLookupHits, R"(result="hit")"}, {SharedLookupMisses, R"(result="miss")"}}},
  };
  return kFamilies;
}

struct HistogramFamily {
  Histogram which;
  std::string_view name;
  std::string_view help;
};
constexpr HistogramFamily kHistograms[] = {
    {Histogram::LoginSeconds, "login_duration_seconds",
     "Time from a login's request to authd to the login's completion."},
    {Histogram::DataSetupSeconds, "data_connection_setup_seconds",
     "Time from a transfer command to its data connection being ready (TLS resumed)."},
};

constexpr std::array<double, kHistogramBoundsUs.size()> bounds_in_seconds() {
  std::array<double, kHistogramBoundsUs.size()> out{};
  for (std::size_t i = 0; i < out.size(); ++i) {
    out[i] = static_cast<double>(kHistogramBoundsUs[i]) / 1e6;
  }
  return out;
}
constexpr auto kBoundsSeconds = bounds_in_seconds();

// A set of counters under one prefix: the totals, or the live workers.
struct Series {
  std::string labels;
  const CounterValues* values;
  const HistogramSet* histograms;
};

void write_counters(TextWriter& w, std::string_view prefix, const std::vector<Series>& series) {
  if (series.empty()) return;
  for (const Family& f : counter_families()) {
    const std::string name = std::string(prefix) + std::string(f.name);
    w.family(name, f.help, f.type);
    for (const Series& s : series) {
      for (const Part& p : f.parts) {
        w.sample(name, join_labels(s.labels, p.labels),
                 (*s.values)[static_cast<std::size_t>(p.counter)]);
      }
    }
  }
  for (const HistogramFamily& h : kHistograms) {
    const std::string name = std::string(prefix) + std::string(h.name);
    w.family(name, h.help, MetricType::Histogram);
    for (const Series& s : series) {
      const HistogramValues& v = (*s.histograms)[static_cast<std::size_t>(h.which)];
      w.histogram(name, s.labels, kBoundsSeconds, v.cells, static_cast<double>(v.sum_us) / 1e6);
    }
  }
}

void write_one(TextWriter& w, std::string_view name, std::string_view help, MetricType type,
               std::uint64_t value) {
  w.family(name, help, type);
  w.sample(name, "", value);
}

void write_shared_tables(TextWriter& w, const Figures& f) {
  constexpr auto kCounter = MetricType::Counter;
  constexpr auto kGauge = MetricType::Gauge;
  const tls::SharedTlsStats& c = f.cache;
  w.family("ringftpd_tls_session_cache_lookups_total",
           "Lookups in the shared TLS session cache, by result.", kCounter);
  w.sample("ringftpd_tls_session_cache_lookups_total", R"(result="hit")", c.hits);
  w.sample("ringftpd_tls_session_cache_lookups_total", R"(result="miss")", c.misses);
  write_one(w, "ringftpd_tls_session_cache_stores_total", "Sessions stored in the cache.", kCounter,
            c.stores);
  write_one(w, "ringftpd_tls_session_cache_evictions_total",
            "Live cache entries overwritten to make room.", kCounter, c.evictions);
  write_one(w, "ringftpd_tls_session_cache_expired_total", "Expired cache entries dropped.",
            kCounter, c.expired);
  write_one(w, "ringftpd_tls_session_cache_corrupt_total",
            "Cache entries whose checksum failed, dropped.", kCounter, c.corrupt);
  write_one(w, "ringftpd_tls_session_cache_lock_recoveries_total",
            "Cache locks taken over from a dead process.", kCounter, c.lock_recoveries);
  write_one(w, "ringftpd_tls_session_cache_entries", "Cache entries in use.", kGauge,
            c.entries_in_use);
  write_one(w, "ringftpd_tls_session_cache_capacity", "Cache entries available.", kGauge,
            c.capacity);
  write_one(w, "ringftpd_tls_ticket_keys", "Live TLS session ticket keys.", kGauge,
            c.ticket_keys_live);
  write_one(w, "ringftpd_tls_ticket_key_rotations_total", "TLS ticket key rotations.", kCounter,
            c.rotations);
  const AddressTableStats& a = f.addresses;
  write_one(w, "ringftpd_address_table_slots", "Slots of the per-address session table.", kGauge,
            a.slots);
  write_one(w, "ringftpd_address_table_pairs", "(address, worker) pairs holding sessions.", kGauge,
            a.pairs_in_use);
  write_one(w, "ringftpd_address_table_sessions", "Sessions counted in the per-address table.",
            kGauge, a.sessions);
  write_one(w, "ringftpd_address_table_full_total",
            "Admissions refused because the per-address table had no slot.", kCounter,
            a.table_full);
  write_one(w, "ringftpd_address_table_lock_recoveries_total",
            "Per-address table locks taken over from a dead process.", kCounter, a.lock_recoveries);
}

}  // namespace

bool is_exported(Counter c) noexcept {
  for (const Family& f : counter_families()) {
    for (const Part& p : f.parts) {
      if (p.counter == c) return true;
    }
  }
  return false;
}

Figures read_figures(const CounterRegion& counters, const tls::SharedTlsState& tls,
                     const AddressTable& addresses) {
  Figures f;
  counters.for_each_live([&f](const WorkerCounterView& v) {
    f.workers.push_back({v.slot + 1, v.generation, v.values, v.histograms});
  });
  f.totals = counters.totals();
  f.histogram_totals = counters.histogram_totals();
  f.cache = tls.stats();
  f.addresses = addresses.stats();
  return f;
}

std::string render(const Figures& f) {
  TextWriter w;
  write_one(w, "ringftpd_workers", "Live worker processes (draining ones included).",
            MetricType::Gauge, f.workers.size());
  write_counters(w, "ringftpd_", {{"", &f.totals, &f.histogram_totals}});
  std::vector<Series> workers;
  workers.reserve(f.workers.size());
  for (const WorkerFigures& wf : f.workers) {
    workers.push_back({join_labels(label("worker", std::to_string(wf.worker)),
                                   label("generation", std::to_string(wf.generation))),
                       &wf.values, &wf.histograms});
  }
  write_counters(w, "ringftpd_worker_", workers);
  write_shared_tables(w, f);
  return w.take();
}

}  // namespace ringftpd::server::metrics
