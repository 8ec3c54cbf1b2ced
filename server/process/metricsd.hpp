// metricsd: the master's helper that serves [metrics] (DESIGN.md §2's
// "never on a worker's loop").
//
// Why a process and not a thread in the master: the master forks workers and
// authd, and a child forked from a multi-threaded process gets only the
// forking thread, with whatever locks the others held (malloc's, MHD's)
// frozen. So the master stays single-threaded and forks this helper, whose
// libmicrohttpd thread lives here and never forks.
//
// It inherits the shared memory (counters, TLS session cache, per-address
// table) by fork, makes the counter region read-only in its own view, becomes
// run_as (when started as root) with no way back and no new privileges, and
// keeps only the listening socket (made by the master, which keeps a copy so
// a restarted helper serves the same socket) and the log. A scrape reads
// every block with relaxed loads: it takes no lock any worker takes.
//
// Signals: SIGTERM exits (also sent when the master dies, PR_SET_PDEATHSIG).
#pragma once

#include <sys/types.h>

#include <memory>
#include <optional>

#include "io/unique_fd.hpp"
#include "server/log.hpp"
#include "server/process/address_table.hpp"
#include "server/process/counters.hpp"
#include "server/process/privileges.hpp"
#include "tls/shared_tls_state.hpp"

namespace ringftpd::server {

struct MetricsdSetup {
  io::UniqueFd listen_fd;  // bound and listening
  CounterRegion* counters = nullptr;
  std::shared_ptr<const tls::SharedTlsState> tls_state;
  const AddressTable* addresses = nullptr;
  std::optional<RunAs> run_as;
  pid_t master = 0;
};

// The body of the metricsd child. Returns its exit status; never throws.
[[nodiscard]] int run_metricsd(MetricsdSetup setup, Log& log) noexcept;

}  // namespace ringftpd::server
