// A worker: one io_uring event loop serving many control sessions.
//
// Runs in the process that constructs it (after fork, when there is a
// master); owns its ring, its receive buffers and its sessions. The loop has
// the shape of liburing's echo server: submit_and_wait -> for each CQE ->
// decode tag -> dispatch -> advance. Nothing in the loop blocks.
#pragma once

#include <signal.h>
#include <sys/signalfd.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "io/buffer_ring.hpp"
#include "io/ring.hpp"
#include "io/unique_fd.hpp"
#include "server/auth_link.hpp"
#include "server/control_session.hpp"
#include "server/data_channel.hpp"
#include "server/fd_budget.hpp"
#include "server/log.hpp"
#include "server/process/address_table.hpp"
#include "server/process/counters.hpp"
#include "server/process/user_limits.hpp"
#include "server/proxy_intake.hpp"
#include "server/security_log.hpp"
#include "server/session_table.hpp"
#include "server/transfer_log.hpp"
#include "tls/context.hpp"

namespace ringftpd::server {

struct ListenSocket {
  io::UniqueFd fd;
  bool implicit_tls = false;
};

// Blocks the signals the server's processes read through signalfds (SIGTERM,
// SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGCHLD) in the calling thread;
// threads and processes created afterwards inherit the mask. Call before
// starting any thread, so that no helper thread ever takes one. SIGPIPE is
// blocked too: a log pipe whose reader went away (or any write to a broken
// pipe) returns EPIPE instead of killing the process.
void block_server_signals();

struct WorkerOptions {
  config::Snapshot config;
  std::vector<ListenSocket> listeners;  // this worker's SO_REUSEPORT sockets
  io::UniqueFd auth_fd;                 // this worker's end of the auth service's socket
  const tls::ServerContext* tls_context = nullptr;  // null: no TLS; outlives the worker
  config::PortRange passive_ports;                  // this worker's slice
  std::string name = "worker";                      // in log lines
  // Every worker's counters, for the server-wide max_sessions; null: this
  // worker's own sessions are all there are.
  const CounterRegion* all_counters = nullptr;
  // Sessions per client address on the whole server (made by the master
  // before fork; outlives the worker). Null: the worker keeps a table of
  // its own, and the limit holds for its sessions alone.
  AddressTable* address_table = nullptr;
  // The master's per-user and per-listener limits; null: the worker makes
  // its own (tests, a single process).
  UserLimits* user_limits = nullptr;
  // Restrictions for the worker's ring (the sandbox); none: unrestricted.
  std::optional<io::RingRestrictions> ring_restrictions;
};

class Worker {
 public:
  // Reads its signals through a signalfd on the ring. Throws on ring set-up
  // failure. log, xferlog and counters outlive the worker.
  Worker(WorkerOptions options, Log& log, TransferLog& xferlog, WorkerCounters& counters);

  // Sessions this worker takes at once, from its fd budget (fd_budget.hpp).
  [[nodiscard]] const FdBudget& fd_budget() const noexcept { return budget_; }

  // Runs until told to stop and every session has closed. Returns the
  // process exit status. Signals (sent by the master):
  //   SIGQUIT  retire (after a reload): stop accepting, serve the sessions
  //            already here until they end, then exit;
  //   SIGTERM  graceful stop: stop accepting, close idle sessions with 421,
  //            let transfers in progress finish, then close those too;
  //   SIGINT   (or a second SIGTERM) stop now: 421 to everyone, close;
  //   SIGUSR2  the auth service restarted: logins in flight are refused.
  int run();

  // For the sandbox, which checks that the ring is restricted.
  [[nodiscard]] const io::Ring& ring() const noexcept { return ring_; }

 private:
  // Multishot, or one at a time when near capacity (see near_capacity()).
  void arm_accept(std::uint32_t index);
  [[nodiscard]] bool near_capacity() const noexcept;
  void arm_signal_read();
  void arm_tick();
  void arm_pace_if_needed();
  void arm_lookup_if_needed();
  void on_lookup_timer() noexcept;
  void on_pace() noexcept;
  void dispatch(std::uint64_t user_data, int res, std::uint32_t flags) noexcept;
  void on_accept(std::uint32_t index, int res, std::uint32_t flags) noexcept;
  void on_proxy_header(std::uint32_t index, int res) noexcept;
  // Makes the session for a connection on listener `index` whose client is
  // `peer` (the socket's, or a PROXY header's), after the admission checks;
  // early_input is what the client sent after the header.
  void admit(io::UniqueFd fd, const io::SocketAddress& peer, const io::SocketAddress& local,
             std::uint32_t index, std::span<const std::byte> early_input) noexcept;
  void on_signal(int res) noexcept;
  void on_auth_reply(int res) noexcept;
  void on_tick() noexcept;
  void reject(io::UniqueFd fd, std::string_view why) noexcept;
  // Refuses at accept: a 421 line, the counters, a log line.
  // Counts, answers `reply` and logs the refusal (security_log.hpp).
  void refuse(io::UniqueFd fd, Counter reason, std::string_view reply,
              const io::SocketAddress& peer, Refusal why, std::string_view detail) noexcept;
  void collect_log_drops() noexcept;
  void release_if_finished(std::uint32_t slot, ControlSession& s) noexcept;
  void stop_accepting() noexcept;
  void begin_shutdown(const char* why) noexcept;
  void begin_graceful_stop() noexcept;

  config::Snapshot config_;
  std::string name_;
  Log& log_;
  WorkerCounters& counters_;
  const CounterRegion* all_counters_;
  std::vector<ListenSocket> listeners_;
  io::UniqueFd signal_fd_;
  // Declared before the ring so it is destroyed after the ring has drained.
  signalfd_siginfo signal_info_{};
  __kernel_timespec tick_interval_{};
  Pacer pacer_;
  bool pace_armed_ = false;
  __kernel_timespec pace_interval_{
      0, std::chrono::duration_cast<std::chrono::nanoseconds>(Pacer::kInterval).count()};
  // Sessions waiting for a second-level lookup: their timer runs only while
  // someone waits, and only with [shared] session_ids.
  Pacer lookup_waiters_;
  bool lookup_armed_ = false;
  // 250 µs: an answer usually comes within a few hundred µs, and a client
  // should not wait a whole millisecond more than that for it.
  __kernel_timespec lookup_interval_{0, 250'000};
  // The kernel writes into auth_'s receive buffer: it must outlive the ring.
  AuthLink auth_;
  io::Ring ring_;
  io::BufferRing recv_buffers_;
  PassivePorts passive_ports_;
  TransferLog& xferlog_;
  const tls::ServerContext* tls_context_;
  std::vector<std::byte> scratch_;  // decrypted control bytes land here first
  // Counted after the ring, listeners, signalfd and auth socket exist.
  FdBudget budget_;
  SessionTable<ControlSession> sessions_;
  // Connections on PROXY listeners until their header is read: each holds a
  // descriptor, so they count against the capacity with the sessions.
  ProxyIntake intake_;
  std::unique_ptr<AddressTable> own_addresses_;  // when the options gave none
  AddressTable* addresses_;
  std::unique_ptr<UserLimits> own_user_limits_;  // when the options gave none
  UserLimits* user_limits_;
  pid_t self_;  // this worker's owner id in the address table
  std::uint64_t late_completions_ = 0;
  std::vector<bool> accept_paused_;       // per listener: out of fds, retry at the next tick
  std::vector<bool> accept_downgrading_;  // per listener: multishot cancelled near capacity
  bool accepting_ = true;
  bool stopping_ = false;  // exit once the last session has closed
  bool closing_ = false;   // sessions are being closed: refuse latecomers
  int stop_signals_ = 0;
};

}  // namespace ringftpd::server
