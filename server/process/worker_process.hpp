// The body of a forked worker: give up privileges, then serve (DESIGN.md §2).
//
// Order matters: raise RLIMIT_NOFILE while still allowed to; set
// NO_NEW_PRIVS; become `run_as` (when started as root); only then create the
// ring, the TLS context and the worker, so nothing of the child's own is ever
// made with root's credentials, and nothing ring-related is inherited.
#pragma once

#include <sys/types.h>

#include <memory>
#include <optional>

#include "server/log.hpp"
#include "server/process/counters.hpp"
#include "server/process/privileges.hpp"
#include "server/process/serving_snapshot.hpp"
#include "server/transfer_log.hpp"
#include "server/worker.hpp"
#include "tls/shared_tls_state.hpp"

namespace ringftpd::server {

struct WorkerProcessSetup {
  const ServingSnapshot* snapshot = nullptr;
  std::shared_ptr<tls::SharedTlsState> tls_state;
  WorkerOptions worker;  // config, sockets, auth end, passive slice, name
  std::optional<RunAs> run_as;
  pid_t master = 0;
};

// Returns the child's exit status; never throws.
[[nodiscard]] int run_worker_process(WorkerProcessSetup setup, Log& log, TransferLog& xferlog,
                                     WorkerCounters& counters) noexcept;

}  // namespace ringftpd::server
