// ringftpd_sim: the deterministic simulation of a worker (tests/sim).
//
//   ringftpd_sim --seed S [--trace]          replay one run exactly
//   ringftpd_sim --seeds A..B [--minutes M]  explore; stops at B or after M minutes
// Options: --steps N, --clients N (else chosen by the seed), --no-faults,
// --no-abor (normal clients never send ABOR),
// --known TEXT (repeatable): a violation containing TEXT is a known finding
// (sim-findings.md): reported and counted, but the exit status stays 0.
// Prints every violation with its seed and last events; exits 1 if any.
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "tests/sim/sim_world.hpp"

namespace {

using namespace ringftpd::sim;

int usage() {
  std::fprintf(stderr,
               "usage: ringftpd_sim (--seed S | --seeds A..B [--minutes M]) [--trace] "
               "[--steps N] [--clients N] [--no-faults] [--no-abor] [--known TEXT]...\n");
  return 2;
}

void report(std::uint64_t seed, const RunResult& r) {
  std::printf("seed %llu: %zu violation(s)\n", static_cast<unsigned long long>(seed),
              r.violations.size());
  for (const auto& v : r.violations) std::printf("  VIOLATION %s\n", v.c_str());
  std::printf("  last events:\n");
  for (const auto& e : r.last_events) std::printf("    %s\n", e.c_str());
  std::printf("  replay: ringftpd_sim --seed %llu --trace\n",
              static_cast<unsigned long long>(seed));
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  std::uint64_t first = 0, last = 0;
  bool have_seed = false;
  double minutes = 0;
  RunOptions options;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    const char* next = i + 1 < argc ? argv[i + 1] : nullptr;
    if (a == "--seed" && next) {
      first = last = std::strtoull(next, nullptr, 10);
      have_seed = true;
      ++i;
    } else if (a == "--seeds" && next) {
      const std::string range = next;
      const auto dots = range.find("..");
      if (dots == std::string::npos) return usage();
      first = std::strtoull(range.substr(0, dots).c_str(), nullptr, 10);
      last = std::strtoull(range.substr(dots + 2).c_str(), nullptr, 10);
      have_seed = true;
      ++i;
    } else if (a == "--minutes" && next) {
      minutes = std::strtod(next, nullptr);
      ++i;
    } else if (a == "--steps" && next) {
      options.steps = static_cast<unsigned>(std::strtoul(next, nullptr, 10));
      ++i;
    } else if (a == "--clients" && next) {
      options.clients = static_cast<unsigned>(std::strtoul(next, nullptr, 10));
      ++i;
    } else if (a == "--trace") {
      options.trace = true;
    } else if (a == "--no-abor") {
      options.abor = false;
    } else if (a == "--no-faults") {
      options.faults = false;
    } else if (a == "--known" && next) {
      options.known.emplace_back(next);
      ++i;
    } else {
      return usage();
    }
  }
  if (!have_seed || last < first) return usage();

  // As in the server's processes: a splice into a socket the client reset
  // must fail with EPIPE, not kill the process.
  std::signal(SIGPIPE, SIG_IGN);
  SharedTls tls;
  const auto start = std::chrono::steady_clock::now();
  const auto limit = std::chrono::duration<double>(minutes * 60.0);
  std::uint64_t runs = 0, sessions = 0, bad = 0, downloads = 0, uploads = 0, injected = 0;
  std::uint64_t known = 0;
  for (std::uint64_t seed = first;; ++seed) {
    Rng rng(seed);
    const RunResult r = run_world(tls, rng, options);
    ++runs;
    sessions += r.sessions;
    downloads += r.verified_downloads;
    uploads += r.verified_uploads;
    injected += r.kernel.injected;
    if (!r.known_findings.empty()) {
      ++known;
      std::printf("seed %llu: known finding: %s\n", static_cast<unsigned long long>(seed),
                  r.known_findings.front().c_str());
    }
    if (!r.ok()) {
      ++bad;
      report(seed, r);
    } else if (first == last) {
      std::printf(
          "seed %llu: ok: %llu steps, %llu sessions, %llu downloads and %llu uploads "
          "verified, %llu completions, %llu faults injected\n",
          static_cast<unsigned long long>(seed), static_cast<unsigned long long>(r.steps),
          static_cast<unsigned long long>(r.sessions),
          static_cast<unsigned long long>(r.verified_downloads),
          static_cast<unsigned long long>(r.verified_uploads),
          static_cast<unsigned long long>(r.kernel.completions),
          static_cast<unsigned long long>(r.kernel.injected));
    }
    if (seed == last) break;
    if (minutes > 0 && std::chrono::steady_clock::now() - start > limit) break;
  }
  const double elapsed =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf(
      "seeds %llu..%llu: %llu runs in %.1f s (%.0f seeds/minute), %llu sessions "
      "simulated, %llu downloads and %llu uploads verified, %llu faults injected, "
      "%llu seed(s) with violations, %llu with known findings\n",
      static_cast<unsigned long long>(first), static_cast<unsigned long long>(first + runs - 1),
      static_cast<unsigned long long>(runs), elapsed, elapsed > 0 ? runs * 60.0 / elapsed : 0.0,
      static_cast<unsigned long long>(sessions), static_cast<unsigned long long>(downloads),
      static_cast<unsigned long long>(uploads), static_cast<unsigned long long>(injected),
      static_cast<unsigned long long>(bad), static_cast<unsigned long long>(known));
  return bad == 0 ? 0 : 1;
}
