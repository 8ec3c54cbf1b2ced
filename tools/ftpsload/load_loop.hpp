// LoadLoop: one thread's event loop: one io_uring, one TLS client context,
// and a fixed set of FtpClients (its share of --concurrency), in the shape
// of liburing's echo server: submit and wait -> for each completion, decode
// the tag -> hand it to the client in that slot.
//
// Time: the loop wakes at least every kTick to refresh its clock, fire the
// clients' deadlines and start clients under --ramp. At the run's deadline
// (or a stop request) it stops every client and drains the ring, for at most
// kDrainGrace; run() then returns, whatever is still in flight.
//
// Made in the main thread (so that a failure to create the ring or the TLS
// context is reported before anything starts), then run() in its own thread.
// stats() may be read once run() has returned (and the thread is joined);
// its Live counters at any time.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "io/ring.hpp"
#include "tls/context.hpp"
#include "tools/ftpsload/ftp_client.hpp"
#include "tools/ftpsload/plan.hpp"
#include "tools/ftpsload/stats.hpp"

namespace ringftpd::ftpsload {

class LoadLoop {
 public:
  // `clients` FtpClients numbered first_index, first_index + 1, ...
  LoadLoop(const Plan& plan, RunControl& run, unsigned clients, std::uint32_t first_index,
           unsigned ramp);
  LoadLoop(const LoadLoop&) = delete;
  LoadLoop& operator=(const LoadLoop&) = delete;

  void run() noexcept;

  [[nodiscard]] ThreadStats& stats() noexcept { return stats_; }
  [[nodiscard]] bool has_finished() const noexcept { return finished_.load(); }
  // When this loop stopped working: its last client finished, or the stop.
  [[nodiscard]] Clock::time_point end_time() const noexcept { return end_time_; }
  [[nodiscard]] std::uint64_t late_completions() const noexcept { return late_completions_; }
  // Whether sockets live in the ring's file table (else: ordinary fds, and
  // RLIMIT_NOFILE bounds the connections of the whole process).
  [[nodiscard]] bool uses_fixed_files() const noexcept { return uses_fixed_files_; }

 private:
  void dispatch(std::uint64_t user_data, int res) noexcept;
  void fire_deadlines() noexcept;
  void fill_ramp() noexcept;
  void begin_stop() noexcept;

  RunControl& run_;
  const unsigned ramp_;
  ThreadStats stats_;
  std::optional<tls::ClientContext> tls_;
  LoopEnv env_;
  std::vector<std::unique_ptr<FtpClient>> clients_;
  // Declared last, destroyed first: the kernel is done with the clients'
  // buffers before they are freed.
  io::Ring ring_;
  std::size_t next_start_ = 0;
  Clock::time_point end_time_{};
  std::uint64_t late_completions_ = 0;
  bool uses_fixed_files_ = false;
  std::atomic<bool> finished_{false};
};

// The client side TLS options of a run (--tls).
[[nodiscard]] tls::ClientOptions client_tls_options(const Options& options);

}  // namespace ringftpd::ftpsload
