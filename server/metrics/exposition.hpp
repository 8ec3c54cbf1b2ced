// What a scrape shows: the shared counters, histograms, TLS session cache and
// per-address table figures as Prometheus families (text_format.hpp).
//
// Totals are "ringftpd_<name>" (retired workers included, so counters never
// go backwards when a worker is replaced); the live workers' own figures are
// "ringftpd_worker_<name>" with labels worker="<slot, from 1>" and
// generation="<reload generation>" (an old generation may still be draining
// beside the new one on the same slot). docs/configuration.md lists them.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "server/process/address_table.hpp"
#include "server/process/counters.hpp"
#include "tls/shared_tls_state.hpp"

namespace ringftpd::server::metrics {

struct WorkerFigures {
  std::uint32_t worker = 0;  // slot + 1
  std::uint32_t generation = 0;
  CounterValues values{};
  HistogramSet histograms{};
};

// One read of the shared memory.
struct Figures {
  std::vector<WorkerFigures> workers;
  CounterValues totals{};
  HistogramSet histogram_totals{};
  tls::SharedTlsStats cache{};
  AddressTableStats addresses{};
};

[[nodiscard]] Figures read_figures(const CounterRegion& counters, const tls::SharedTlsState& tls,
                                   const AddressTable& addresses);

// The exposition text of one scrape.
[[nodiscard]] std::string render(const Figures& f);

// Whether a counter is exported (every one is, but SessionsRefused, which is
// the sum of its reasons); for a test that a new counter is not forgotten.
[[nodiscard]] bool is_exported(Counter c) noexcept;

}  // namespace ringftpd::server::metrics
