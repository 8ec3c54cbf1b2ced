#include "server/worker.hpp"

#include <malloc.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <system_error>

#include "server/ops.hpp"

namespace ringftpd::server {
namespace {

constexpr unsigned kRingEntries = 4096;
constexpr std::uint16_t kControlBufferGroup = 1;
constexpr unsigned kControlBuffers = 1024;  // shared by every control session
constexpr unsigned kControlBufferBytes = 4096;
constexpr std::size_t kScratchBytes = 16 * 1024;  // one TLS record of plaintext
// Connections on PROXY listeners whose header is not in yet, at most: a
// balancer writes the header as it connects, so a handful are pending at
// once; more means a stalled balancer, and new ones are refused meanwhile.
constexpr std::size_t kMaxPendingProxyHeaders = 1024;
// At exit, queued log lines get this long to reach a slow reader.
constexpr std::chrono::milliseconds kLogDrainAtExit{500};

sigset_t server_signals() {
  sigset_t set;
  sigemptyset(&set);
  for (int sig : {SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGCHLD, SIGPIPE}) {
    sigaddset(&set, sig);
  }
  return set;
}

io::UniqueFd make_signal_fd() {
  block_server_signals();
  sigset_t set;
  sigemptyset(&set);
  for (int sig : {SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR2}) sigaddset(&set, sig);
  io::UniqueFd fd(signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK));
  if (!fd) throw std::system_error(errno, std::generic_category(), "signalfd");
  return fd;
}

std::uint64_t worker_tag(Op op, std::uint32_t index = 0) {
  return io::OpTag{kWorkerSlot, index, static_cast<std::uint8_t>(op)}.pack();
}

}  // namespace

void block_server_signals() {
  const sigset_t set = server_signals();
  const int rc = pthread_sigmask(SIG_BLOCK, &set, nullptr);
  if (rc != 0) throw std::system_error(rc, std::generic_category(), "pthread_sigmask");
}

Worker::Worker(WorkerOptions options, Log& log, TransferLog& xferlog, WorkerCounters& counters)
    : config_(std::move(options.config)),
      name_(std::move(options.name)),
      log_(log),
      counters_(counters),
      all_counters_(options.all_counters),
      listeners_(std::move(options.listeners)),
      signal_fd_(make_signal_fd()),
      auth_(ring_, std::move(options.auth_fd)),
      ring_(kRingEntries, options.ring_restrictions),
      recv_buffers_(ring_, kControlBufferGroup, kControlBuffers, kControlBufferBytes),
      passive_ports_(options.passive_ports),
      xferlog_(xferlog),
      tls_context_(options.tls_context),
      scratch_(kScratchBytes),
      budget_(plan_fd_budget(nofile_limit(), count_open_fds(), config_->limits.max_sessions)),
      sessions_(budget_.capacity),
      intake_(ring_, log_, counters_, name_,
              std::min<std::size_t>(budget_.capacity, kMaxPendingProxyHeaders)),
      own_addresses_(options.address_table == nullptr
                         ? std::make_unique<AddressTable>(
                               AddressTable::slots_for(config_->limits.max_sessions))
                         : nullptr),
      addresses_(options.address_table != nullptr ? options.address_table : own_addresses_.get()),
      own_user_limits_(options.user_limits == nullptr
                           ? std::make_unique<UserLimits>(config_->limits.max_sessions)
                           : nullptr),
      user_limits_(options.user_limits != nullptr ? options.user_limits : own_user_limits_.get()),
      self_(getpid()),
      accept_paused_(listeners_.size(), false),
      accept_downgrading_(listeners_.size(), false) {
  tick_interval_.tv_sec = 1;
  counters_.set(Counter::SessionCapacity, budget_.capacity);
  log_.info(name_, budget_.describe());
}

// A multishot accept takes every connection queued on its listener (up to the
// listen backlog) before the loop sees the first one, each with a descriptor.
// Once such a burst could take more than the free sessions' descriptors, the
// listeners accept one connection per request: a burst at capacity then costs
// one descriptor at a time (refused and closed at once), never the ones a
// login or a transfer needs.
bool Worker::near_capacity() const noexcept {
  const std::uint64_t burst = std::uint64_t{listeners_.size()} * io::ListenOptions{}.backlog;
  const std::uint64_t free_fds =
      std::uint64_t{budget_.capacity - sessions_.size()} * FdBudget::kFdsPerIdleSession;
  return free_fds < burst;
}

void Worker::arm_accept(std::uint32_t index) {
  io_uring_sqe* sqe = ring_.sqe(worker_tag(Op::Accept, index));
  accept_downgrading_[index] = false;
  if (near_capacity()) {
    io_uring_prep_accept(sqe, listeners_[index].fd.get(), nullptr, nullptr, SOCK_CLOEXEC);
  } else {
    io_uring_prep_multishot_accept(sqe, listeners_[index].fd.get(), nullptr, nullptr, SOCK_CLOEXEC);
  }
}

void Worker::arm_signal_read() {
  io_uring_sqe* sqe = ring_.sqe(worker_tag(Op::Signal));
  io_uring_prep_read(sqe, signal_fd_.get(), &signal_info_, sizeof signal_info_, 0);
}

// The pace timer runs only while a transfer waits for bandwidth.
void Worker::arm_pace_if_needed() {
  if (pace_armed_ || !pacer_.has_waiters()) return;
  io_uring_prep_timeout(ring_.sqe(worker_tag(Op::Pace)), &pace_interval_, 0, 0);
  pace_armed_ = true;
}

void Worker::on_pace() noexcept {
  pace_armed_ = false;
  for (const io::OpTag& tag : pacer_.take()) {
    if (ControlSession* s = sessions_.find(tag.slot, tag.generation)) s->on_pace();
  }
}

void Worker::arm_lookup_if_needed() {
  if (lookup_armed_ || !lookup_waiters_.has_waiters()) return;
  io_uring_prep_timeout(ring_.sqe(worker_tag(Op::Lookup)), &lookup_interval_, 0, 0);
  lookup_armed_ = true;
}

void Worker::on_lookup_timer() noexcept {
  lookup_armed_ = false;
  for (const io::OpTag& tag : lookup_waiters_.take()) {
    if (ControlSession* s = sessions_.find(tag.slot, tag.generation)) s->on_lookup_poll();
  }
}

void Worker::arm_tick() {
  io_uring_sqe* sqe = ring_.sqe(worker_tag(Op::Tick));
  io_uring_prep_timeout(sqe, &tick_interval_, 0, 0);
}

int Worker::run() {
  for (std::uint32_t i = 0; i < listeners_.size(); ++i) arm_accept(i);
  arm_signal_read();
  arm_tick();
  auth_.arm_recv();
  // The listeners queue connections from the master's listen(); from here on
  // this loop takes them.
  counters_.mark_serving();
  while (!(stopping_ && sessions_.size() == 0 && intake_.size() == 0)) {
    const int rc = ring_.submit_and_wait(-1);
    if (rc < 0 && rc != -EINTR && rc != -ETIME) {
      log_.error(name_, std::string("io_uring wait failed: ") + std::strerror(-rc));
      return 1;
    }
    ring_.for_each_completion(
        [this](std::uint64_t data, int res, std::uint32_t flags) { dispatch(data, res, flags); });
    arm_pace_if_needed();
    arm_lookup_if_needed();
  }
  log_.info(name_, "stopped");
  log_.drain(kLogDrainAtExit);
  xferlog_.drain(kLogDrainAtExit);
  collect_log_drops();
  return 0;
}

void Worker::collect_log_drops() noexcept {
  counters_.add(Counter::LogLinesDropped, log_.take_dropped() + xferlog_.take_dropped());
}

void Worker::dispatch(std::uint64_t user_data, int res, std::uint32_t flags) noexcept {
  if (user_data == io::kIgnoredTag) return;
  const io::OpTag tag = io::OpTag::unpack(user_data);
  const Op op = static_cast<Op>(tag.op);
  if (tag.slot == kWorkerSlot) {
    switch (op) {
      case Op::Accept:
        on_accept(tag.generation, res, flags);
        return;
      case Op::Signal:
        on_signal(res);
        return;
      case Op::Tick:
        on_tick();
        return;
      case Op::Pace:
        on_pace();
        return;
      case Op::Lookup:
        on_lookup_timer();
        return;
      case Op::ProxyRecv:
        on_proxy_header(tag.generation, res);
        return;
      case Op::AuthRecv:
        on_auth_reply(res);
        return;
      default:
        log_.error(name_, "bug: unknown worker operation");
        return;
    }
  }
  ControlSession* s = sessions_.find(tag.slot, tag.generation);
  if (s == nullptr) {
    ++late_completions_;  // a completion for a session that is gone
    return;
  }
  s->on_completion(op, res, flags);
  release_if_finished(tag.slot, *s);
}

void Worker::release_if_finished(std::uint32_t slot, ControlSession& s) noexcept {
  if (!s.is_finished()) return;
  if (!addresses_->release(address_key(s.peer()), self_)) {
    log_.error(name_, "bug: a session's address was not in the address table");
  }
  sessions_.release(slot);
  counters_.sub(Counter::SessionsActive);
}

void Worker::on_accept(std::uint32_t index, int res, std::uint32_t flags) noexcept {
  const bool out_of_fds = res == -EMFILE || res == -ENFILE || res == -ENOMEM || res == -ENOBUFS;
  if (out_of_fds) {
    // The kernel would hand the same error back at once, forever: pause this
    // listener until the next tick (connections wait in its queue meanwhile).
    if (!accept_paused_[index]) {
      accept_paused_[index] = true;
      log_.warn(name_, std::string("accept paused for a second: ") + std::strerror(-res));
      if (flags & IORING_CQE_F_MORE) {
        io_uring_prep_cancel_fd(ring_.sqe(io::kIgnoredTag), listeners_[index].fd.get(), 0);
      }
    }
    return;
  }
  if (!(flags & IORING_CQE_F_MORE) && accepting_ && !accept_paused_[index]) arm_accept(index);
  if ((flags & IORING_CQE_F_MORE) && !accept_downgrading_[index] && near_capacity()) {
    // End the multishot accept; its last completion re-arms one at a time.
    accept_downgrading_[index] = true;
    io_uring_prep_cancel_fd(ring_.sqe(io::kIgnoredTag), listeners_[index].fd.get(), 0);
  }
  if (res < 0) {
    if (res != -ECANCELED) log_.warn(name_, std::string("accept: ") + std::strerror(-res));
    return;
  }
  io::UniqueFd fd(res);
  // A connection accepted just before the listeners were cancelled: served
  // when retiring (nobody is dropped on reload), refused when stopping.
  if (closing_) {
    reject(std::move(fd), "421 Server shutting down.\r\n");
    return;
  }
  // Clients send ABOR with MSG_OOB (RFC 959's Synch); inline urgent data keeps
  // the marked byte (often the LF) in the stream instead of dropping it.
  const int one = 1;
  setsockopt(fd.get(), SOL_SOCKET, SO_OOBINLINE, &one, sizeof one);
  // Replies are small and each is a whole message: Nagle would hold one back
  // until the client's delayed ACK (~40 ms per command round trip).
  setsockopt(fd.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  const auto peer = io::peer_address(fd.get());
  const auto local = io::local_address(fd.get());
  if (!peer || !local) return;  // the peer is already gone
  // At capacity the worker still has the descriptors to say so (the budget
  // keeps a reserve): a clean 421 now, never a failed login later. A
  // connection still waiting for its PROXY header holds a descriptor too.
  if (sessions_.size() + intake_.size() >= budget_.capacity) {
    refuse(std::move(fd), Counter::SessionsRefusedCapacity,
           "421 Too many sessions, try again later.\r\n", *peer, Refusal::Capacity,
           "worker at capacity (" + std::to_string(budget_.capacity) + " sessions)");
    return;
  }
  const config::ProxySettings* proxy =
      index < config_->listeners.size() && config_->listeners[index].proxy.enabled()
          ? &config_->listeners[index].proxy
          : nullptr;
  if (proxy != nullptr && intake_.full()) {
    refuse(std::move(fd), Counter::SessionsRefusedCapacity,
           "421 Too many sessions, try again later.\r\n", *peer, Refusal::Capacity,
           std::to_string(intake_.size()) + " connections already wait for their PROXY header");
    return;
  }
  if (proxy != nullptr) {
    // The header names the client, and the client decides admission: the
    // session is made once it is in (on_proxy_header).
    intake_.take(std::move(fd), *peer, *local, index, *proxy, ControlSession::Clock::now());
    return;
  }
  admit(std::move(fd), *peer, *local, index, {});
}

void Worker::on_proxy_header(std::uint32_t index, int res) noexcept {
  auto arrival = intake_.on_recv(index, res);
  if (!arrival) return;
  if (closing_) {
    reject(std::move(arrival->fd), "421 Server shutting down.\r\n");
    return;
  }
  admit(std::move(arrival->fd), arrival->peer, arrival->local, arrival->listener,
        arrival->early_input);
}

void Worker::admit(io::UniqueFd fd, const io::SocketAddress& peer, const io::SocketAddress& local,
                   std::uint32_t index, std::span<const std::byte> early_input) noexcept {
  if (sessions_.full()) {
    refuse(std::move(fd), Counter::SessionsRefusedCapacity,
           "421 Too many sessions, try again later.\r\n", peer, Refusal::Capacity,
           "worker at capacity (" + std::to_string(budget_.capacity) + " sessions)");
    return;
  }
  const auto& limits = config_->limits;
  if (all_counters_ != nullptr && all_counters_->active_sessions() >= limits.max_sessions) {
    refuse(std::move(fd), Counter::SessionsRefusedMaxSessions,
           "421 Too many sessions, try again later.\r\n", peer, Refusal::Capacity,
           "max_sessions reached");
    return;
  }
  switch (addresses_->admit(address_key(peer), limits.max_sessions_per_address, self_)) {
    case Admission::Admitted:
      break;
    case Admission::OverLimit:
      refuse(std::move(fd), Counter::SessionsRefusedPerAddress,
             "421 Too many sessions from your address.\r\n", peer, Refusal::PerAddressLimit,
             "max_sessions_per_address reached");
      return;
    case Admission::TableFull:
    case Admission::LockFailed:
      // Fail closed: a session the table cannot count is not admitted.
      refuse(std::move(fd), Counter::SessionsRefusedAddressTable,
             "421 Too many sessions, try again later.\r\n", peer, Refusal::Capacity,
             "the per-address table has no room for this address");
      return;
  }
  counters_.add(Counter::SessionsTotal);
  counters_.add(Counter::SessionsActive);
  const auto [slot, generation] = sessions_.reserve();
  auto session = std::make_unique<ControlSession>(
      SessionEnv{
          ring_, recv_buffers_, log_, config_, passive_ports_, auth_, xferlog_, tls_context_,
          scratch_, counters_, pacer_, user_limits_, self_,
          config_->shared.enabled && config_->shared.session_ids ? &lookup_waiters_ : nullptr},
      io::OpTag{slot, generation, 0}, std::move(fd), peer, local, listeners_[index].implicit_tls);
  ControlSession& s = *session;
  // The listener's cap, shared with every worker (the sockets are in the
  // configuration's order).
  if (index < config_->listeners.size()) {
    // Data straight to this host: EPSV would send it to the balancer. (With
    // passive.proxy the balancer forwards the data ports too, and EPSV works.)
    if (config_->listeners[index].proxy.enabled() && !config_->passive.proxy.enabled()) {
      s.set_behind_balancer();
    }
    if (const std::uint64_t cap = config_->listeners[index].bandwidth_bytes_per_second; cap > 0) {
      s.set_listener_bucket(user_limits_->listener_bucket(index, cap));
    }
  }
  sessions_.install(slot, std::move(session));
  s.start(early_input);
}

void Worker::refuse(io::UniqueFd fd, Counter reason, std::string_view reply,
                    const io::SocketAddress& peer, Refusal why, std::string_view detail) noexcept {
  counters_.add(Counter::SessionsRefused);
  if (reason != Counter::SessionsRefused) counters_.add(reason);
  reject(std::move(fd), reply);
  log_refused(log_, peer, why, detail);
}

void Worker::reject(io::UniqueFd fd, std::string_view why) noexcept {
  // A fresh socket's send buffer is empty: this tiny non-blocking send cannot
  // block, and a refused client should hear why.
  [[maybe_unused]] const ssize_t n =
      ::send(fd.get(), why.data(), why.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
}

void Worker::on_auth_reply(int res) noexcept {
  if (res == -ECANCELED) return;
  if (const auto reply = auth_.on_recv(res)) {
    // request_id is the asking session's tag: a reply for a session that has
    // gone finds no one, like any late completion.
    const io::OpTag tag = io::OpTag::unpack(reply->request_id);
    if (ControlSession* s = sessions_.find(tag.slot, tag.generation)) {
      s->on_auth_reply(*reply);
      release_if_finished(tag.slot, *s);
    } else {
      ++late_completions_;
    }
  } else if (res <= 0) {
    log_.error(name_, "auth service connection lost: " +
                          std::string(res == 0 ? "closed" : std::strerror(-res)));
    if (res == 0) return;  // no point re-arming a closed socket
  } else {
    log_.error(name_, "malformed reply from the auth service");
  }
  auth_.arm_recv();
}

void Worker::on_signal(int res) noexcept {
  if (res == static_cast<int>(sizeof signal_info_)) {
    switch (static_cast<int>(signal_info_.ssi_signo)) {
      case SIGQUIT:
        if (!stopping_) {
          log_.info(name_, "retiring: no new sessions; serving " +
                               std::to_string(sessions_.size()) + " until they end");
          stop_accepting();
          stopping_ = true;
        }
        break;
      case SIGTERM:
        if (++stop_signals_ == 1) {
          begin_graceful_stop();
        } else {
          begin_shutdown("second SIGTERM");
        }
        break;
      case SIGINT:
        ++stop_signals_;
        begin_shutdown("SIGINT");
        break;
      case SIGUSR2:
        log_.warn(name_, "the auth service restarted: refusing logins it had not answered");
        sessions_.for_each([](ControlSession& s) { s.on_auth_service_lost(); });
        break;
      default:  // SIGHUP: reloads are the master's business
        break;
    }
  }
  arm_signal_read();
}

void Worker::stop_accepting() noexcept {
  if (!accepting_) return;
  accepting_ = false;
  for (auto& l : listeners_) {
    io_uring_sqe* sqe = ring_.sqe(io::kIgnoredTag);
    io_uring_prep_cancel_fd(sqe, l.fd.get(), IORING_ASYNC_CANCEL_ALL);
  }
}

void Worker::begin_graceful_stop() noexcept {
  stop_accepting();
  stopping_ = true;
  closing_ = true;
  intake_.cancel_all();
  log_.info(name_, "SIGTERM: stopping; " + std::to_string(sessions_.size()) +
                       " session(s) close once their transfers end");
  sessions_.for_each([](ControlSession& s) { s.shut_down_when_idle("Server shutting down."); });
}

void Worker::begin_shutdown(const char* why) noexcept {
  stop_accepting();
  stopping_ = true;
  closing_ = true;
  intake_.cancel_all();
  log_.info(name_, std::string(why) + ": stopping, closing " + std::to_string(sessions_.size()) +
                       " session(s)");
  sessions_.for_each([](ControlSession& s) { s.shut_down("Server shutting down."); });
}

void Worker::on_tick() noexcept {
  for (std::uint32_t i = 0; i < listeners_.size(); ++i) {
    if (!accept_paused_[i]) continue;
    accept_paused_[i] = false;
    // A multishot accept cancelled while paused may still be ending: its
    // final completion sees the flag cleared and re-arms; arming here too
    // would only add a duplicate that the first EMFILE pauses again.
    if (accepting_) arm_accept(i);
  }
  const auto now = ControlSession::Clock::now();
  intake_.on_tick(now);
  std::size_t session_bytes = 0;
  sessions_.for_each([now, &session_bytes](ControlSession& s) {
    s.on_tick(now);
    session_bytes += s.memory_bytes();
  });
  // The worker knows its memory: what its sessions hold, and its whole heap.
  counters_.set(Counter::MemorySessionBytes, session_bytes);
  const struct mallinfo2 heap = mallinfo2();
  counters_.set(Counter::MemoryHeapBytes, heap.uordblks + heap.hblkhd);
  // Log lines a slow reader left queued go out now (without waiting).
  log_.flush();
  xferlog_.flush();
  collect_log_drops();
  arm_tick();
}

}  // namespace ringftpd::server
