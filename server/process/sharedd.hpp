// sharedd: the master's helper that keeps this host's TLS resumption state
// in step with the other hosts' through Redis ([shared], docs/scale-out.md).
//
// Why a process of its own: Redis is spoken with blocking calls (each one
// bounded by shared.redis_timeout_ms). Here a stalled Redis stalls this
// helper only: never a worker's io_uring loop (workers never reach Redis;
// they read the shared memory this helper writes), and never the master's
// supervision. And, like metricsd, it is a process rather than a thread
// because the master forks and must stay single-threaded.
//
// What it does, once a second: a ticket key round (TicketKeySync: the
// lease, the leader's rotation, every host's adoption of the cluster's keys
// into the shared memory ring). With shared.session_ids, every 20 ms it also
// copies the TLS 1.2 sessions the workers stored (SharedTlsState's export
// queue) into Redis (SessionExport), and, woken by a worker through a futex
// in the shared region, fetches the sessions workers ask for by ID into the
// shared cache (SessionImport; the worker waits at most 10 ms, off its loop).
//
// It inherits the shared memory (TLS state, counters) by fork, drops to
// run_as (when started as root) with no way back, and keeps only the log.
// The secret and the Redis password come from the master, which read them
// before forking (they are root's files); neither is ever logged.
//
// Signals: SIGTERM exits (also sent when the master dies, PR_SET_PDEATHSIG).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "server/log.hpp"
#include "server/process/counters.hpp"
#include "server/process/privileges.hpp"
#include "tls/shared_tls_state.hpp"

namespace ringftpd::server {

struct SharedSecrets {
  std::vector<std::uint8_t> secret;  // shared.secret_file
  std::string redis_password;        // shared.redis_password_file's first line; may be empty
};

// Reads both files of [shared]. Throws std::runtime_error naming the file
// (not its content) when one cannot be read or the secret is too short.
[[nodiscard]] SharedSecrets read_shared_secrets(const config::SharedSettings& settings);

struct SharedSetup {
  config::SharedSettings settings;
  SharedSecrets secrets;
  std::chrono::seconds rotation{3600};   // [tls] ticket_key_rotation_seconds
  std::chrono::seconds lifetime{28800};  // [tls] session_lifetime_seconds
  std::shared_ptr<tls::SharedTlsState> tls_state;
  CounterRegion* counters = nullptr;
  std::optional<RunAs> run_as;
  pid_t master = 0;
};

// The body of the sharedd child. Returns its exit status; never throws.
[[nodiscard]] int run_sharedd(SharedSetup setup, Log& log) noexcept;

}  // namespace ringftpd::server
