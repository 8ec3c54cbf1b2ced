// libFuzzer target: whole control sessions of a simulated worker, driven by
// the fuzzer's bytes (tests/sim).
//
// The input is the PRNG of one simulation run (sim::Rng over bytes): it
// chooses the configuration, the control buffers, how many chaos clients
// connect, every byte they send (garbage, overlong lines, pipelined commands,
// logins, transfers, AUTH TLS), when they read, reset or leave, and the
// simulated kernel's schedule (which operation completes next, short reads
// and writes, injected errors, cancellations racing their targets). When the
// bytes run out the run drains: clients leave, time advances, and every
// session must finish with nothing pending and every fd closed once. Any
// invariant violation of the simulation aborts, so the fuzzer keeps the input.
#include <csignal>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <span>

#include "tests/sim/sim_world.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace ringftpd::sim;
  static const SharedTls* const tls = [] {
    std::signal(SIGPIPE, SIG_IGN);  // as in the server: EPIPE, not a signal
    return new SharedTls();         // one certificate per process
  }();
  Rng rng(std::span<const std::uint8_t>(data, size));
  RunOptions options;
  options.steps = 20000;  // the bytes end the run long before
  options.chaos_only = true;
  const RunResult r = run_world(*tls, rng, options);
  if (!r.ok()) {
    for (const auto& v : r.violations) std::fprintf(stderr, "VIOLATION %s\n", v.c_str());
    for (const auto& e : r.last_events) std::fprintf(stderr, "  %s\n", e.c_str());
    std::abort();
  }
  return 0;
}
