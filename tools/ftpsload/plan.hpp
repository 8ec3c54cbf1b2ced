// What the event loops of one run share.
//
// Plan: the validated options turned into addresses and expectations; built
// by the main thread before any loop starts and immutable afterwards.
// RunControl: the few things loops coordinate through, all atomics: the
// --count budget, the stop flag (a signal), the deadline of --duration
// (set once, before the loops start).
// LoopEnv: what every client of one loop shares (its ring, TLS context,
// statistics, clock); owned by the Loop, used by one thread only.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "io/ring.hpp"
#include "io/socket.hpp"
#include "tls/context.hpp"
#include "tools/ftpsload/cli.hpp"
#include "tools/ftpsload/sha256.hpp"
#include "tools/ftpsload/stats.hpp"

namespace ringftpd::ftpsload {

using Clock = std::chrono::steady_clock;

struct Plan {
  Options options;
  io::SocketAddress server;
  std::vector<io::SocketAddress> sources;  // --bind (port 0); empty: the kernel's choice
  Clock::duration timeout{};
  Clock::duration keepalive{};  // zero: none

  [[nodiscard]] bool verifies() const noexcept {
    return options.expect_size.has_value() || options.expect_sha256.has_value();
  }
  // A transfer's payload is hashed only when there is a digest to compare.
  [[nodiscard]] bool hashes() const noexcept { return options.expect_sha256.has_value(); }
};

class RunControl {
 public:
  explicit RunControl(std::uint64_t count) noexcept : count_(count) {}
  // Before any loop runs (thread creation publishes it).
  void set_deadline(Clock::time_point deadline) noexcept { deadline_ = deadline; }

  // Takes one unit of the --count budget (always true without --count).
  [[nodiscard]] bool claim() noexcept {
    return count_ == 0 || claimed_.fetch_add(1, std::memory_order_relaxed) < count_;
  }
  [[nodiscard]] bool budget_left() const noexcept {
    return count_ == 0 || claimed_.load(std::memory_order_relaxed) < count_;
  }
  [[nodiscard]] Clock::time_point deadline() const noexcept { return deadline_; }
  void request_stop() noexcept { stop_.store(true, std::memory_order_relaxed); }
  [[nodiscard]] bool stop_requested() const noexcept {
    return stop_.load(std::memory_order_relaxed);
  }

 private:
  const std::uint64_t count_;
  Clock::time_point deadline_ = Clock::time_point::max();
  std::atomic<std::uint64_t> claimed_{0};
  std::atomic<bool> stop_{false};
};

struct LoopEnv {
  const Plan& plan;
  RunControl& run;
  ThreadStats& stats;
  io::Ring* ring = nullptr;
  const tls::ClientContext* tls = nullptr;  // null with --no-tls
  Clock::time_point now{};                  // refreshed by the loop every round
  bool stopping = false;                    // the run is over: cut, do not start
  unsigned in_first_setup = 0;              // clients whose first session is being set up (--ramp)
  unsigned finished = 0;                    // clients that are Done for good
};

}  // namespace ringftpd::ftpsload
