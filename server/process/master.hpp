// The master process (DESIGN.md §2): never touches client bytes.
//
// It owns what outlives any one worker: the listening sockets (ListenerSet),
// the shared TLS state (session cache and ticket keys), the counters, the
// per-address session table (it purges a dead worker's entries when it reaps
// it), the pid file, and the master's copy of every worker's auth socket. It forks authd
// and the workers and supervises them from a small poll() loop over a
// signalfd:
//   SIGCHLD  reap; a worker that died is replaced on its slot (immediately,
//            or with a growing back-off if it keeps dying young); a dead
//            authd is restarted on the same sockets and the workers told;
//   SIGHUP   reload: a new snapshot (config, certificate, users) is loaded
//            and checked; if good, a new generation of workers takes the
//            listeners and the old one retires (serves its sessions to the
//            end, accepts nothing). If bad, the error is logged and nothing
//            changes;
//   SIGTERM  (or SIGQUIT) graceful stop: workers stop accepting, idle
//            sessions get 421, transfers may finish for
//            limits.shutdown_grace_seconds; then everyone is closed;
//   SIGINT   (or a second SIGTERM) stop now;
//   SIGUSR1  write the live counters to the log and to state_dir/ringftpd.status.
// With [shared], it reads the shared secret and Redis password at start and
// forks sharedd (sharedd.hpp) to keep the TLS state in step with the other
// hosts', restarting it like metricsd.
// With [metrics], it binds the scrape socket at start and forks metricsd
// (metricsd.hpp) to serve it, restarting it like authd if it dies.
// It also rotates the TLS ticket keys on their period, and tells a service
// manager (ServiceNotifier) when it is ready (every current worker serving),
// reloading and stopping.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "io/unique_fd.hpp"
#include "server/embedded_default.hpp"
#include "server/log.hpp"
#include "server/process/address_table.hpp"
#include "server/process/counters.hpp"
#include "server/process/listener_set.hpp"
#include "server/process/pid_file.hpp"
#include "server/process/privileges.hpp"
#include "server/process/service_notifier.hpp"
#include "server/process/serving_snapshot.hpp"
#include "server/process/sharedd.hpp"
#include "server/process/user_limits.hpp"
#include "server/transfer_log.hpp"
#include "tls/shared_tls_state.hpp"

namespace ringftpd::server {

struct MasterSetup {
  ServingSnapshot snapshot;                  // loaded and checked by the caller
  const EmbeddedAccount* account = nullptr;  // embedded default: users never reload
  std::string config_path;                   // empty: embedded default
};

class Master {
 public:
  // Binds the listeners, creates the shared memory and the pid file, opens
  // the logs. Throws (start-up errors; the caller prints them).
  explicit Master(MasterSetup setup);
  ~Master();
  Master(const Master&) = delete;
  Master& operator=(const Master&) = delete;

  [[nodiscard]] Log& log() noexcept { return *log_; }

  // Forks authd and the workers and supervises until stopped. Returns the
  // exit status.
  int run();

 private:
  using Clock = std::chrono::steady_clock;

  // One configuration being served, and what was made from it.
  struct Generation {
    std::uint32_t number = 0;
    ServingSnapshot snapshot;
    std::shared_ptr<ListenerSet> listeners;
    std::shared_ptr<TransferLog> xferlog;
    std::optional<RunAs> run_as;
    std::uint32_t workers = 0;
  };
  struct Child {
    std::uint32_t slot = 0;
    std::shared_ptr<const Generation> generation;
    WorkerCounters* counters = nullptr;
    io::UniqueFd service_end;  // authd's end of this worker's socket (the master's copy)
    Clock::time_point started;
    bool retiring = false;
  };
  struct Slot {
    pid_t pid = 0;
    bool respawn_due = false;
    Clock::time_point respawn_at;
    std::chrono::milliseconds backoff{0};
  };
  enum class Stop { None, Graceful, Immediate };

  [[nodiscard]] std::shared_ptr<Generation> make_generation(ServingSnapshot snapshot);
  void fork_worker(std::uint32_t slot) noexcept;
  // The slot's worker died (or could not start) after living `lived`.
  void schedule_respawn(Slot& slot, Clock::duration lived) noexcept;
  void fork_authd() noexcept;
  void fork_metricsd() noexcept;
  void on_metricsd_exit(int status) noexcept;
  void fork_sharedd() noexcept;
  void on_sharedd_exit(int status) noexcept;
  // SIGTERM, then SIGKILL if it is not gone within kAuthdStopWait.
  void stop_helper(pid_t& pid) noexcept;
  void on_signal(int signo) noexcept;
  void reap() noexcept;
  void on_worker_exit(pid_t pid, int status) noexcept;
  void on_authd_exit(int status) noexcept;
  void reload() noexcept;
  void begin_stop(Stop how) noexcept;
  void on_timers(Clock::time_point now) noexcept;
  void signal_workers(int signo) noexcept;
  void stop_authd() noexcept;
  void report_status() noexcept;
  // Whether every slot of the current generation has a worker that serves.
  [[nodiscard]] bool current_generation_serving() const noexcept;
  // Sends READY=1 once a start or a reload is complete (see ready_pending_).
  void announce_ready_when_serving() noexcept;
  void log_notify_failure(const std::string& error) noexcept;
  // Writes queued log lines; the master's dropped ones join the totals.
  void flush_log() noexcept;
  [[nodiscard]] int poll_timeout_ms(Clock::time_point now) const noexcept;

  std::unique_ptr<Log> log_;
  std::string config_path_;
  const EmbeddedAccount* account_ = nullptr;
  pid_t self_ = 0;
  std::shared_ptr<tls::SharedTlsState> tls_state_;
  CounterRegion counters_;
  std::unique_ptr<AddressTable> addresses_;  // sized from max_sessions at start
  std::unique_ptr<UserLimits> user_limits_;  // likewise; per-user and per-listener limits
  std::optional<PidFile> pid_file_;
  io::UniqueFd signals_;

  std::shared_ptr<Generation> current_;
  std::vector<Slot> slots_;
  std::unordered_map<pid_t, Child> workers_;

  pid_t authd_pid_ = 0;
  io::UniqueFd authd_admin_;
  bool authd_respawn_due_ = false;
  Clock::time_point authd_respawn_at_;
  Clock::time_point authd_started_;
  std::chrono::milliseconds authd_backoff_{0};
  bool authd_started_once_ = false;

  // [metrics] as started: the socket and its helper keep them until a restart.
  config::MetricsSettings metrics_;
  io::UniqueFd metrics_listen_;
  pid_t metricsd_pid_ = 0;
  bool metricsd_respawn_due_ = false;
  Clock::time_point metricsd_respawn_at_;
  Clock::time_point metricsd_started_;
  std::chrono::milliseconds metricsd_backoff_{0};
  // [shared] as started: it keeps them until a restart.
  config::SharedSettings shared_;
  SharedSecrets shared_secrets_;
  pid_t sharedd_pid_ = 0;
  bool sharedd_respawn_due_ = false;
  Clock::time_point sharedd_respawn_at_;
  Clock::time_point sharedd_started_;
  std::chrono::milliseconds sharedd_backoff_{0};
  ServiceNotifier notifier_;
  // A start or an accepted reload whose workers have not all begun serving:
  // READY=1 is owed to the service manager.
  bool ready_pending_ = true;

  Stop stop_ = Stop::None;
  Clock::time_point grace_deadline_;
  Clock::time_point kill_deadline_;
  bool killed_ = false;
};

// "killed by signal 9 (Killed)", "exited with status 1", for log lines.
[[nodiscard]] std::string describe_exit(int wait_status);

// For the master's own files (master*.cpp).
// A helper or worker that lived `lived` and died: how long until it is
// started again (0 after a healthy life; doubling while it keeps dying young).
[[nodiscard]] std::chrono::milliseconds next_backoff(std::chrono::milliseconds current,
                                                     std::chrono::steady_clock::duration lived);
// "1.2 s", for log lines.
[[nodiscard]] std::string ms_text(std::chrono::milliseconds ms);
// Queued log lines get this long to reach a slow reader before the master
// replaces its log (reload) or a process exits; the rest are counted as dropped.
inline constexpr std::chrono::milliseconds kLogDrain{200};

}  // namespace ringftpd::server
