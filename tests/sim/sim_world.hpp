// sim::run_world: one seeded run of a simulated ringftpd worker.
//
// Real ControlSession / DataChannel / FsJob code, constructed and dispatched
// exactly as server::Worker does (tags decoded, sessions found by slot and
// generation, auth replies routed by request id, ticks), against a SimKernel
// and a handful of SimClients, in a temporary directory tree of users' roots.
// After every step the invariants are checked; the first violation ends the
// run. A drain phase at the end makes every client leave and advances the
// simulated clock until every session has finished and been destroyed.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "tests/sim/rng.hpp"
#include "tests/sim/sim_kernel.hpp"
#include "tls/context.hpp"
#include "tls/credentials.hpp"
#include "tls/library.hpp"

namespace ringftpd::sim {

// What every run of a process shares: the TLS library and contexts (a
// certificate is generated once).
class SharedTls {
 public:
  SharedTls();
  [[nodiscard]] const tls::ServerContext& server() const noexcept { return *server_; }
  [[nodiscard]] const tls::ClientContext& client() const noexcept { return *client_; }

 private:
  tls::Library library_;
  tls::Credentials creds_;
  std::unique_ptr<tls::ServerContext> server_;
  std::unique_ptr<tls::ClientContext> client_;
};

struct RunOptions {
  bool trace = false;
  unsigned steps = 0;    // 0: chosen by the PRNG (2000..8000)
  unsigned clients = 0;  // 0: chosen by the PRNG (1..5)
  bool faults = true;
  bool abor = true;         // normal clients send ABOR (finding 6 shifts their model)
  bool chaos_only = false;  // every client is a chaos client (the fuzzer)
  // Violations containing one of these are known findings (sim-findings.md):
  // they end the run like any other but do not fail it.
  std::vector<std::string> known;
};

struct RunResult {
  std::vector<std::string> violations;
  std::vector<std::string> known_findings;  // violations matching RunOptions::known
  std::deque<std::string> last_events;
  std::uint64_t sessions = 0;
  std::uint64_t steps = 0;
  std::uint64_t verified_downloads = 0;
  std::uint64_t verified_uploads = 0;
  KernelStats kernel;
  [[nodiscard]] bool ok() const noexcept { return violations.empty(); }
};

[[nodiscard]] RunResult run_world(const SharedTls& tls, Rng& rng, const RunOptions& options);

// Entries in /proc/self/fd.
[[nodiscard]] int open_fd_count();

}  // namespace ringftpd::sim
