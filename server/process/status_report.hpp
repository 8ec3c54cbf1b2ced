// The operator's view of a running server: per-worker and total counters,
// the shared TLS session cache's and the per-address table's figures, as
// plain "key value" text.
// The master writes it to the log and to state_dir/ringftpd.status on
// SIGUSR1; `ringftpd --status` asks for it and prints the file.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "server/log.hpp"
#include "server/process/address_table.hpp"
#include "server/process/counters.hpp"
#include "tls/shared_tls_state.hpp"

namespace ringftpd::server {

struct WorkerStatus {
  WorkerCounterView counters;
  bool retiring = false;
};

[[nodiscard]] std::string format_status(pid_t master, pid_t authd,
                                        const std::vector<WorkerStatus>& workers,
                                        const CounterValues& totals,
                                        const tls::SharedTlsStats& cache,
                                        const AddressTableStats& addresses);

// Replaces state_dir/ringftpd.status atomically (write, then rename).
void write_status_file(const std::string& state_dir, const std::string& text, Log& log) noexcept;

[[nodiscard]] std::string status_file_path(const std::string& state_dir);

}  // namespace ringftpd::server
