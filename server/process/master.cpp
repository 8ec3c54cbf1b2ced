#include "server/process/master.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <exception>
#include <filesystem>
#include <stdexcept>
#include <system_error>

#include "io/socket.hpp"
#include "server/process/authd.hpp"
#include "server/process/fd_hygiene.hpp"
#include "server/process/metricsd.hpp"
#include "server/process/status_report.hpp"
#include "server/process/worker_process.hpp"

namespace ringftpd::server {
namespace {

constexpr char kWho[] = "master";
using namespace std::chrono_literals;

// A child that lived this long was healthy: if it dies, replace it at once;
// one that dies younger is replaced after a back-off that doubles each time.
constexpr auto kHealthyLifetime = 10s;
constexpr std::chrono::milliseconds kFirstBackoff = 250ms;
constexpr std::chrono::milliseconds kLongestBackoff = 10s;
// After "stop now", workers get this long to say goodbye before SIGKILL.
constexpr auto kKillAfter = 5s;
constexpr auto kAuthdStopWait = 2s;

io::UniqueFd make_master_signal_fd() {
  sigset_t set;
  sigemptyset(&set);
  for (int sig : {SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGCHLD}) sigaddset(&set, sig);
  io::UniqueFd fd(signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK));
  if (!fd) throw std::system_error(errno, std::generic_category(), "signalfd");
  return fd;
}

std::string pid_file_path(const config::Config& cfg) {
  return cfg.pid_file.empty() ? cfg.state_dir + "/ringftpd.pid" : cfg.pid_file;
}

}  // namespace

std::chrono::milliseconds next_backoff(std::chrono::milliseconds current,
                                       std::chrono::steady_clock::duration lived) {
  if (lived >= kHealthyLifetime) return 0ms;
  return std::clamp(current * 2, kFirstBackoff, kLongestBackoff);
}

std::string ms_text(std::chrono::milliseconds ms) {
  return std::to_string(ms.count() / 1000) + "." + std::to_string(ms.count() % 1000 / 100) + " s";
}

std::string describe_exit(int wait_status) {
  if (WIFSIGNALED(wait_status)) {
    const int sig = WTERMSIG(wait_status);
    const char* name = strsignal(sig);
    return "killed by signal " + std::to_string(sig) + " (" + (name ? name : "?") + ")" +
           (WCOREDUMP(wait_status) ? ", core dumped" : "");
  }
  if (WIFEXITED(wait_status))
    return "exited with status " + std::to_string(WEXITSTATUS(wait_status));
  return "stopped";
}

Master::Master(MasterSetup setup)
    : config_path_(std::move(setup.config_path)), account_(setup.account), self_(getpid()) {
  const config::Config& cfg = *setup.snapshot.config;
  log_ = std::make_unique<Log>(cfg.log.level, cfg.log.file, cfg.log.json);
  signals_ = make_master_signal_fd();
  const std::string pid_path = pid_file_path(cfg);
  std::error_code ec;  // the state directory exists only if a certificate was generated
  std::filesystem::create_directories(std::filesystem::path(pid_path).parent_path(), ec);
  pid_file_.emplace(pid_path);
  tls::SharedTlsOptions tls_options;
  tls_options.max_sessions = cfg.tls.session_cache_entries;
  tls_options.session_lifetime = std::chrono::seconds(cfg.tls.session_lifetime_seconds);
  tls_options.ticket_key_rotation = std::chrono::seconds(cfg.tls.ticket_key_rotation_seconds);
  // Room for a burst of new TLS 1.2 sessions between two of sharedd's
  // copies to Redis (every 20 ms); more are counted and not copied.
  if (cfg.shared.enabled && cfg.shared.session_ids) tls_options.export_slots = 256;
  tls_state_ = tls::SharedTlsState::create(tls_options);
  addresses_ = std::make_unique<AddressTable>(AddressTable::slots_for(cfg.limits.max_sessions));
  user_limits_ = std::make_unique<UserLimits>(cfg.limits.max_sessions);
  metrics_ = cfg.metrics;
  if (metrics_.enabled) {
    // Bound here, so a taken port fails the start with its address.
    const auto where = io::SocketAddress::parse(metrics_.address, metrics_.port);
    if (!where) throw std::runtime_error("metrics.address " + metrics_.address + " is not numeric");
    metrics_listen_ = io::listen_on(*where, io::ListenOptions{64, false});
  }
  shared_ = cfg.shared;
  if (shared_.enabled) shared_secrets_ = read_shared_secrets(shared_);  // root's files: now
  current_ = make_generation(std::move(setup.snapshot));
  slots_.resize(current_->workers);
}

Master::~Master() = default;

std::shared_ptr<Master::Generation> Master::make_generation(ServingSnapshot snapshot) {
  auto g = std::make_shared<Generation>();
  g->number = current_ ? current_->number + 1 : 1;
  const config::Config& cfg = *snapshot.config;
  g->workers = worker_count(cfg);
  // Same listeners: keep the sockets, and the connections queued on them.
  if (current_ && current_->listeners->matches(cfg.listeners, g->workers)) {
    g->listeners = current_->listeners;
  } else {
    g->listeners = std::make_shared<ListenerSet>(cfg.listeners, g->workers);
  }
  g->run_as = resolve_run_as(cfg.run_as);
  if (current_ && current_->snapshot.config->log.xferlog == cfg.log.xferlog) {
    g->xferlog = current_->xferlog;
  } else {
    g->xferlog = std::make_shared<TransferLog>(cfg.log.xferlog);
  }
  g->snapshot = std::move(snapshot);
  return g;
}

int Master::run() {
  log_->info(kWho, "pid " + std::to_string(self_) + ", " + std::to_string(current_->workers) +
                       " worker(s)" +
                       (current_->run_as ? " as " + current_->run_as->name : std::string()) +
                       ", pid file " + pid_file_->path());
  fork_authd();
  if (metrics_listen_) fork_metricsd();
  if (shared_.enabled) fork_sharedd();
  for (std::uint32_t slot = 0; slot < current_->workers; ++slot) fork_worker(slot);

  for (;;) {
    if (stop_ != Stop::None && workers_.empty()) break;
    const auto now = Clock::now();
    pollfd p{signals_.get(), POLLIN, 0};
    const int rc = poll(&p, 1, poll_timeout_ms(now));
    if (rc < 0 && errno != EINTR) {
      log_->error(kWho, std::string("poll: ") + std::strerror(errno));
      break;
    }
    signalfd_siginfo info{};
    while (read(signals_.get(), &info, sizeof info) == static_cast<ssize_t>(sizeof info)) {
      on_signal(static_cast<int>(info.ssi_signo));
    }
    reap();  // SIGCHLDs coalesce: always look
    on_timers(Clock::now());
    announce_ready_when_serving();
    flush_log();
  }
  stop_authd();
  stop_helper(metricsd_pid_);
  stop_helper(sharedd_pid_);
  log_->info(kWho, "stopped");
  log_->drain(kLogDrain);
  return 0;
}

void Master::flush_log() noexcept {
  log_->flush();
  counters_.add_to_totals(Counter::LogLinesDropped, log_->take_dropped());
}

int Master::poll_timeout_ms(Clock::time_point now) const noexcept {
  // Ticket key rotation, deadlines: checked at least once a second; workers
  // starting up (owed READY=1) every 20 ms.
  auto until = now + (ready_pending_ ? std::chrono::milliseconds(20) : 1s);
  for (const Slot& s : slots_) {
    if (s.respawn_due) until = std::min(until, s.respawn_at);
  }
  if (authd_respawn_due_) until = std::min(until, authd_respawn_at_);
  if (metricsd_respawn_due_) until = std::min(until, metricsd_respawn_at_);
  if (sharedd_respawn_due_) until = std::min(until, sharedd_respawn_at_);
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(until - now).count();
  return static_cast<int>(std::clamp<long long>(ms + 1, 0, 1000));
}

void Master::schedule_respawn(Slot& slot, Clock::duration lived) noexcept {
  slot.backoff = next_backoff(slot.backoff, lived);
  slot.respawn_due = true;
  slot.respawn_at = Clock::now() + slot.backoff;
}

void Master::fork_worker(std::uint32_t slot) noexcept {
  Slot& s = slots_[slot];
  s.respawn_due = false;
  const std::shared_ptr<const Generation> gen = current_;
  const std::string name = "worker " + std::to_string(slot + 1);
  WorkerCounters* block = counters_.acquire(slot, gen->number);
  int sv[2];
  if (block == nullptr ||
      socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv) != 0) {
    log_->error(kWho, "cannot prepare " + name + ": " +
                          (block == nullptr ? std::string("no counter block left")
                                            : std::string(std::strerror(errno))));
    if (block != nullptr) counters_.release(block);
    schedule_respawn(s, 0s);
    return;
  }
  io::UniqueFd worker_end(sv[0]);
  io::UniqueFd service_end(sv[1]);
  std::vector<ListenSocket> sockets;
  try {
    sockets = gen->listeners->for_slot(slot);
  } catch (const std::exception& e) {
    log_->error(kWho, "cannot prepare " + name + ": " + e.what());
    counters_.release(block);
    schedule_respawn(s, 0s);
    return;
  }
  const pid_t pid = fork();
  if (pid == 0) {
    // The master's queued log lines are the master's to write, not a copy's.
    log_->after_fork(name);
    gen->xferlog->after_fork();
    int status = 1;
    try {
      std::vector<int> keep{log_->fd(), worker_end.get()};
      if (log_->json_fd() >= 0) keep.push_back(log_->json_fd());
      if (gen->xferlog->fd() >= 0) keep.push_back(gen->xferlog->fd());
      for (const ListenSocket& l : sockets) keep.push_back(l.fd.get());
      close_all_fds_except(std::move(keep));
      WorkerProcessSetup setup;
      setup.snapshot = &gen->snapshot;
      setup.tls_state = tls_state_;
      setup.worker.config = gen->snapshot.config;
      setup.worker.listeners = std::move(sockets);
      setup.worker.auth_fd = std::move(worker_end);
      setup.worker.passive_ports =
          passive_slice(gen->snapshot.config->passive.ports, slot, gen->workers);
      setup.worker.name = name;
      setup.worker.all_counters = &counters_;
      setup.worker.address_table = addresses_.get();
      setup.worker.user_limits = user_limits_.get();
      setup.run_as = gen->run_as;
      setup.master = self_;
      status = run_worker_process(std::move(setup), *log_, *gen->xferlog, *block);
    } catch (const std::exception& e) {
      log_->error(name, std::string("cannot start: ") + e.what());
    }
    _exit(status);  // no destructors: they belong to the master's objects
  }
  if (pid < 0) {
    log_->error(kWho, "fork " + name + ": " + std::strerror(errno));
    counters_.release(block);
    schedule_respawn(s, 0s);
    return;
  }
  counters_.assign(block, pid);
  if (authd_admin_) (void)send_client_to_authd(authd_admin_.get(), service_end.get());
  s.pid = pid;
  Child child;
  child.slot = slot;
  child.generation = gen;
  child.counters = block;
  child.service_end = std::move(service_end);
  child.started = Clock::now();
  workers_.emplace(pid, std::move(child));
}

void Master::fork_authd() noexcept {
  authd_respawn_due_ = false;
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) {
    log_->error(kWho, std::string("cannot prepare authd: ") + std::strerror(errno));
    authd_respawn_due_ = true;
    authd_backoff_ = next_backoff(authd_backoff_, 0s);
    authd_respawn_at_ = Clock::now() + authd_backoff_;
    return;
  }
  io::UniqueFd master_end(sv[0]);
  io::UniqueFd authd_end(sv[1]);
  const pid_t pid = fork();
  if (pid == 0) {
    log_->after_fork("authd");
    int status = 1;
    try {
      std::vector<int> keep{log_->fd(), authd_end.get()};
      if (log_->json_fd() >= 0) keep.push_back(log_->json_fd());
      AuthdSetup setup;
      for (const auto& [_, child] : workers_) {
        // Duplicated so the inherited object (never destroyed: _exit) and
        // the service do not share ownership of one number.
        setup.clients.emplace_back(fcntl(child.service_end.get(), F_DUPFD_CLOEXEC, 3));
      }
      for (const io::UniqueFd& fd : setup.clients) keep.push_back(fd.get());
      close_all_fds_except(std::move(keep));
      setup.config = current_->snapshot.config;
      setup.account = account_;
      setup.admin = std::move(authd_end);
      setup.master = self_;
      status = run_authd(std::move(setup), *log_);
    } catch (const std::exception& e) {
      log_->error("authd", std::string("cannot start: ") + e.what());
    }
    _exit(status);
  }
  if (pid < 0) {
    log_->error(kWho, std::string("fork authd: ") + std::strerror(errno));
    authd_respawn_due_ = true;
    authd_backoff_ = next_backoff(authd_backoff_, 0s);
    authd_respawn_at_ = Clock::now() + authd_backoff_;
    return;
  }
  authd_pid_ = pid;
  authd_admin_ = std::move(master_end);
  authd_started_ = Clock::now();
  if (authd_started_once_) {
    // Requests the old authd had read died with it: the workers refuse
    // those logins now rather than at their timeout.
    signal_workers(SIGUSR2);
  }
  authd_started_once_ = true;
}

void Master::fork_metricsd() noexcept {
  metricsd_respawn_due_ = false;
  const pid_t pid = fork();
  if (pid == 0) {
    log_->after_fork("metricsd");
    int status = 1;
    try {
      MetricsdSetup setup;
      // A duplicate: the inherited object is never destroyed here (_exit).
      setup.listen_fd = io::UniqueFd(fcntl(metrics_listen_.get(), F_DUPFD_CLOEXEC, 3));
      if (!setup.listen_fd) throw std::system_error(errno, std::generic_category(), "dup");
      std::vector<int> keep{log_->fd(), setup.listen_fd.get()};
      if (log_->json_fd() >= 0) keep.push_back(log_->json_fd());
      close_all_fds_except(std::move(keep));
      setup.counters = &counters_;
      setup.tls_state = tls_state_;
      setup.addresses = addresses_.get();
      setup.run_as = current_->run_as;
      setup.master = self_;
      status = run_metricsd(std::move(setup), *log_);
    } catch (const std::exception& e) {
      log_->error("metricsd", std::string("cannot start: ") + e.what());
      log_->drain(kLogDrain);
    }
    _exit(status);
  }
  if (pid < 0) {
    log_->error(kWho, std::string("fork metricsd: ") + std::strerror(errno));
    on_metricsd_exit(0);
    return;
  }
  metricsd_pid_ = pid;
  metricsd_started_ = Clock::now();
}

void Master::on_metricsd_exit(int status) noexcept {
  const bool forked = metricsd_pid_ > 0;
  metricsd_pid_ = 0;
  if (stop_ != Stop::None) return;
  metricsd_backoff_ = next_backoff(metricsd_backoff_,
                                   forked ? Clock::now() - metricsd_started_ : Clock::duration{});
  metricsd_respawn_due_ = true;
  metricsd_respawn_at_ = Clock::now() + metricsd_backoff_;
  if (forked) {
    log_->error(kWho, "metricsd " + describe_exit(status) + "; restarting it in " +
                          ms_text(metricsd_backoff_));
  }
}

void Master::on_signal(int signo) noexcept {
  switch (signo) {
    case SIGCHLD:
      break;  // reap() runs after every wake-up
    case SIGHUP:
      if (stop_ == Stop::None) reload();
      break;
    case SIGUSR1:
      report_status();
      break;
    case SIGTERM:
    case SIGQUIT:
      begin_stop(stop_ == Stop::None ? Stop::Graceful : Stop::Immediate);
      break;
    case SIGINT:
      begin_stop(Stop::Immediate);
      break;
    default:
      break;
  }
}

void Master::reap() noexcept {
  for (;;) {
    int status = 0;
    const pid_t pid = waitpid(-1, &status, WNOHANG);
    if (pid <= 0) return;
    if (pid == authd_pid_) {
      on_authd_exit(status);
    } else if (pid == metricsd_pid_) {
      on_metricsd_exit(status);
    } else if (pid == sharedd_pid_) {
      on_sharedd_exit(status);
    } else {
      on_worker_exit(pid, status);
    }
  }
}

void Master::on_worker_exit(pid_t pid, int status) noexcept {
  const auto it = workers_.find(pid);
  if (it == workers_.end()) return;
  Child& c = it->second;
  counters_.release(c.counters);
  const std::string name =
      "worker " + std::to_string(c.slot + 1) + " (pid " + std::to_string(pid) + ")";
  // Its sessions died with it: their addresses get them back. (Before any
  // fork, so the pid cannot name a new worker yet.)
  if (const std::uint64_t n = addresses_->purge(pid); n != 0) {
    log_->warn(kWho, name + " left " + std::to_string(n) +
                         " session(s) in the per-address table: released");
  }
  if (const std::uint64_t n = user_limits_->purge(pid); n != 0) {
    log_->warn(kWho,
               name + " left " + std::to_string(n) + " login(s) in the per-user table: released");
  }
  const bool expected = c.retiring || stop_ != Stop::None;
  const bool clean = WIFEXITED(status) && WEXITSTATUS(status) == 0;
  const bool current = c.generation == current_ && !c.retiring;
  if (expected && clean) {
    log_->info(kWho, name + (c.retiring ? " retired" : " stopped"));
  } else if (current && stop_ == Stop::None) {
    Slot& s = slots_[c.slot];
    s.pid = 0;
    schedule_respawn(s, Clock::now() - c.started);
    log_->error(kWho, name + " " + describe_exit(status) + "; starting a replacement in " +
                          ms_text(s.backoff));
  } else {
    log_->warn(kWho, name + " " + describe_exit(status));
  }
  workers_.erase(it);
}

void Master::on_authd_exit(int status) noexcept {
  authd_pid_ = 0;
  authd_admin_.reset();
  if (stop_ != Stop::None) return;
  authd_backoff_ = next_backoff(authd_backoff_, Clock::now() - authd_started_);
  authd_respawn_due_ = true;
  authd_respawn_at_ = Clock::now() + authd_backoff_;
  log_->error(kWho,
              "authd " + describe_exit(status) + "; restarting it in " + ms_text(authd_backoff_));
}

void Master::on_timers(Clock::time_point now) noexcept {
  if (stop_ == Stop::None) {
    if (authd_respawn_due_ && now >= authd_respawn_at_) fork_authd();
    if (metricsd_respawn_due_ && now >= metricsd_respawn_at_) fork_metricsd();
    if (sharedd_respawn_due_ && now >= sharedd_respawn_at_) fork_sharedd();
    for (std::uint32_t slot = 0; slot < slots_.size(); ++slot) {
      if (slots_[slot].respawn_due && now >= slots_[slot].respawn_at) fork_worker(slot);
    }
    switch (tls_state_->rotate_ticket_keys_if_due(now)) {
      case tls::KeyRotation::Rotated:
        log_->info(kWho, "rotated the TLS session ticket keys");
        break;
      case tls::KeyRotation::Failed:
        log_->warn(kWho, "could not rotate the TLS session ticket keys; retrying");
        break;
      case tls::KeyRotation::NotDue:
        break;
    }
    return;
  }
  if (stop_ == Stop::Graceful && now >= grace_deadline_) {
    log_->info(kWho, "grace period over: closing the remaining sessions");
    begin_stop(Stop::Immediate);
  } else if (stop_ == Stop::Immediate && !killed_ && now >= kill_deadline_) {
    log_->warn(kWho, "workers still running " +
                         std::to_string(std::chrono::seconds(kKillAfter).count()) +
                         " s after the stop: SIGKILL");
    signal_workers(SIGKILL);
    killed_ = true;
  }
}

void Master::signal_workers(int signo) noexcept {
  for (const auto& [pid, _] : workers_) kill(pid, signo);
}

void Master::begin_stop(Stop how) noexcept {
  if (stop_ == Stop::None) log_notify_failure(notifier_.stopping());
  if (how == Stop::Graceful && stop_ == Stop::None) {
    const auto grace = current_->snapshot.config->limits.shutdown_grace_seconds;
    stop_ = Stop::Graceful;
    grace_deadline_ = Clock::now() + std::chrono::seconds(grace);
    log_->info(kWho, "stopping: no new sessions; transfers in progress may finish within " +
                         std::to_string(grace) + " s");
    signal_workers(SIGTERM);
    return;
  }
  if (stop_ == Stop::Immediate) return;
  stop_ = Stop::Immediate;
  kill_deadline_ = Clock::now() + kKillAfter;
  log_->info(kWho, "stopping now: closing every session");
  signal_workers(SIGINT);
}

void Master::stop_authd() noexcept {
  stop_helper(authd_pid_);
}

void Master::stop_helper(pid_t& helper) noexcept {
  if (helper <= 0) return;
  kill(helper, SIGTERM);
  const auto deadline = Clock::now() + kAuthdStopWait;
  while (Clock::now() < deadline) {
    int status = 0;
    const pid_t pid = waitpid(helper, &status, WNOHANG);
    if (pid == helper || (pid < 0 && errno == ECHILD)) {
      helper = 0;
      return;
    }
    usleep(20'000);
  }
  kill(helper, SIGKILL);
  waitpid(helper, nullptr, 0);
  helper = 0;
}

void Master::reload() noexcept {
  log_->info(kWho, "SIGHUP: reloading " +
                       (config_path_.empty() ? std::string("the certificate") : config_path_));
  log_notify_failure(notifier_.reloading());
  std::shared_ptr<Generation> next;
  std::unique_ptr<Log> new_log;
  try {
    config::Snapshot cfg =
        config_path_.empty()
            ? current_->snapshot.config
            : std::make_shared<const config::Config>(config::load_file(config_path_));
    const config::Config& old_cfg = *current_->snapshot.config;
    if (cfg->tls.session_cache_entries != old_cfg.tls.session_cache_entries ||
        cfg->tls.session_lifetime_seconds != old_cfg.tls.session_lifetime_seconds ||
        cfg->tls.ticket_key_rotation_seconds != old_cfg.tls.ticket_key_rotation_seconds) {
      log_->warn(kWho,
                 "the TLS session cache keeps its size, lifetime and key rotation until "
                 "a restart");
    }
    if (AddressTable::slots_for(cfg->limits.max_sessions) > addresses_->slots()) {
      log_->warn(kWho, "the per-address session table keeps its size (" +
                           std::to_string(addresses_->slots()) +
                           " slots) until a restart; more addresses than it holds are refused");
    }
    if (cfg->metrics.enabled != metrics_.enabled || cfg->metrics.address != metrics_.address ||
        cfg->metrics.port != metrics_.port) {
      log_->warn(kWho, "[metrics] keeps the listener it started with until a restart");
    }
    if (cfg->shared.enabled != shared_.enabled || cfg->shared.redis.path != shared_.redis.path ||
        cfg->shared.redis.host != shared_.redis.host ||
        cfg->shared.redis.port != shared_.redis.port ||
        cfg->shared.secret_file != shared_.secret_file ||
        cfg->shared.key_prefix != shared_.key_prefix ||
        cfg->shared.session_ids != shared_.session_ids) {
      log_->warn(kWho, "[shared] keeps the settings it started with until a restart");
    }
    // Logs are reopened on every reload (log rotation), possibly elsewhere.
    new_log = std::make_unique<Log>(cfg->log.level, cfg->log.file, cfg->log.json);
    next = make_generation(load_serving_snapshot(std::move(cfg), account_));
  } catch (const std::exception& e) {
    log_->error(
        kWho, std::string("reload refused, still serving the previous configuration: ") + e.what());
    // The reload is over: the service manager must not wait for it (unless
    // the start's READY=1 is still owed; it comes when the workers serve).
    if (!ready_pending_) {
      log_notify_failure(notifier_.ready("reload refused; serving the previous configuration"));
    }
    return;
  }
  log_->drain(kLogDrain);
  counters_.add_to_totals(Counter::LogLinesDropped, log_->take_dropped());
  log_ = std::move(new_log);
  // Old workers finish their sessions and leave; new ones take the sockets.
  for (auto& [pid, child] : workers_) {
    if (child.retiring) continue;
    child.retiring = true;
    kill(pid, SIGQUIT);
  }
  current_ = std::move(next);
  slots_.assign(current_->workers, Slot{});
  if (authd_pid_ > 0) kill(authd_pid_, SIGHUP);
  for (std::uint32_t slot = 0; slot < current_->workers; ++slot) fork_worker(slot);
  ready_pending_ = true;  // READY=1 once the new generation serves
  log_->info(kWho, "reloaded: generation " + std::to_string(current_->number) + ", " +
                       std::to_string(current_->workers) + " worker(s)");
}

void Master::report_status() noexcept {
  std::vector<WorkerStatus> workers;
  counters_.for_each_live([this, &workers](const WorkerCounterView& v) {
    const auto it = workers_.find(v.pid);
    workers.push_back({v, it != workers_.end() && it->second.retiring});
  });
  const std::string text = format_status(self_, authd_pid_, workers, counters_.totals(),
                                         tls_state_->stats(), addresses_->stats());
  log_->info(kWho, "status:");
  std::size_t start = 0;
  while (start < text.size()) {
    const std::size_t end = text.find('\n', start);
    log_->info(kWho, text.substr(start, end - start));
    if (end == std::string::npos) break;
    start = end + 1;
  }
  write_status_file(current_->snapshot.config->state_dir, text, *log_);
}

}  // namespace ringftpd::server
