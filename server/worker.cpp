#include "server/worker.hpp"

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
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

sigset_t stop_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGHUP);
  return set;
}

io::UniqueFd make_signal_fd() {
  block_stop_signals();
  const sigset_t set = stop_signals();
  io::UniqueFd fd(signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK));
  if (!fd) throw std::system_error(errno, std::generic_category(), "signalfd");
  return fd;
}

std::uint64_t worker_tag(Op op, std::uint32_t index = 0) {
  return io::OpTag{kWorkerSlot, index, static_cast<std::uint8_t>(op)}.pack();
}

}  // namespace

void block_stop_signals() {
  const sigset_t set = stop_signals();
  const int rc = pthread_sigmask(SIG_BLOCK, &set, nullptr);
  if (rc != 0) throw std::system_error(rc, std::generic_category(), "pthread_sigmask");
}

Worker::Worker(config::Snapshot config, std::vector<ListenSocket> listeners, io::UniqueFd auth_fd,
               const tls::ServerContext* tls_context, Log& log)
    : config_(std::move(config)),
      log_(log),
      listeners_(std::move(listeners)),
      signal_fd_(make_signal_fd()),
      auth_(ring_, std::move(auth_fd)),
      ring_(kRingEntries),
      recv_buffers_(ring_.raw(), kControlBufferGroup, kControlBuffers, kControlBufferBytes),
      passive_ports_(config_->passive.ports),
      xferlog_(config_->log.xferlog),
      tls_context_(tls_context),
      scratch_(kScratchBytes),
      sessions_(config_->limits.max_sessions) {
  tick_interval_.tv_sec = 1;
}

void Worker::arm_accept(std::uint32_t index) {
  io_uring_sqe* sqe = ring_.sqe(worker_tag(Op::Accept, index));
  io_uring_prep_multishot_accept(sqe, listeners_[index].fd.get(), nullptr, nullptr, SOCK_CLOEXEC);
}

void Worker::arm_signal_read() {
  io_uring_sqe* sqe = ring_.sqe(worker_tag(Op::Signal));
  io_uring_prep_read(sqe, signal_fd_.get(), &signal_info_, sizeof signal_info_, 0);
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
  while (!(stopping_ && sessions_.size() == 0)) {
    const int rc = ring_.submit_and_wait(-1);
    if (rc < 0 && rc != -EINTR && rc != -ETIME) {
      log_.error("worker", std::string("io_uring wait failed: ") + std::strerror(-rc));
      return 1;
    }
    ring_.for_each_completion(
        [this](std::uint64_t data, int res, std::uint32_t flags) { dispatch(data, res, flags); });
  }
  log_.info("worker", "stopped");
  return 0;
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
      case Op::AuthRecv:
        on_auth_reply(res);
        return;
      default:
        log_.error("worker", "bug: unknown worker operation");
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
  const auto it = sessions_per_address_.find(s.peer().ip());
  if (it != sessions_per_address_.end() && --it->second == 0) sessions_per_address_.erase(it);
  sessions_.release(slot);
}

void Worker::on_accept(std::uint32_t index, int res, std::uint32_t flags) noexcept {
  if (!(flags & IORING_CQE_F_MORE) && !stopping_) arm_accept(index);
  if (res < 0) {
    // EMFILE/ENFILE/ENOMEM are transient; the listener stays armed.
    if (res != -ECANCELED) log_.warn("worker", std::string("accept: ") + std::strerror(-res));
    return;
  }
  io::UniqueFd fd(res);
  if (stopping_) return;
  // Clients send ABOR with MSG_OOB (RFC 959's Synch); inline urgent data keeps
  // the marked byte (often the LF) in the stream instead of dropping it.
  const int one = 1;
  setsockopt(fd.get(), SOL_SOCKET, SO_OOBINLINE, &one, sizeof one);
  const auto peer = io::peer_address(fd.get());
  const auto local = io::local_address(fd.get());
  if (!peer || !local) return;  // the peer is already gone
  const auto& limits = config_->limits;
  if (sessions_.full()) {
    reject(std::move(fd), "421 Too many sessions, try again later.\r\n");
    log_.warn(peer->to_string(), "refused: max_sessions reached");
    return;
  }
  std::uint32_t& per_address = sessions_per_address_[peer->ip()];
  if (per_address >= limits.max_sessions_per_address) {
    reject(std::move(fd), "421 Too many sessions from your address.\r\n");
    log_.warn(peer->to_string(), "refused: max_sessions_per_address reached");
    return;
  }
  ++per_address;
  const auto [slot, generation] = sessions_.reserve();
  auto session = std::make_unique<ControlSession>(
      SessionEnv{ring_, recv_buffers_, log_, config_, passive_ports_, auth_, xferlog_, tls_context_,
                 scratch_},
      io::OpTag{slot, generation, 0}, std::move(fd), *peer, *local, listeners_[index].implicit_tls);
  ControlSession& s = *session;
  sessions_.install(slot, std::move(session));
  s.start();
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
    log_.error("worker", "auth service connection lost: " +
                             std::string(res == 0 ? "closed" : std::strerror(-res)));
    if (res == 0) return;  // no point re-arming a closed socket
  } else {
    log_.error("worker", "malformed reply from the auth service");
  }
  auth_.arm_recv();
}

void Worker::on_signal(int res) noexcept {
  if (res == static_cast<int>(sizeof signal_info_)) {
    const auto signo = static_cast<int>(signal_info_.ssi_signo);
    if (signo == SIGHUP) {
      log_.info("worker", "SIGHUP: reload is handled by the master (not in this process model)");
    } else {
      ++stop_signals_;
      begin_shutdown(signo == SIGINT ? "SIGINT" : "SIGTERM");
    }
  }
  arm_signal_read();
}

void Worker::begin_shutdown(const char* why) noexcept {
  if (stopping_) return;
  stopping_ = true;
  log_.info("worker", std::string(why) + ": stopping, closing " + std::to_string(sessions_.size()) +
                          " session(s)");
  for (auto& l : listeners_) {
    io_uring_sqe* sqe = ring_.sqe(io::kIgnoredTag);
    io_uring_prep_cancel_fd(sqe, l.fd.get(), IORING_ASYNC_CANCEL_ALL);
  }
  sessions_.for_each([](ControlSession& s) { s.shut_down("Server shutting down."); });
}

void Worker::on_tick() noexcept {
  const auto now = ControlSession::Clock::now();
  sessions_.for_each([now](ControlSession& s) { s.on_tick(now); });
  arm_tick();
}

}  // namespace ringftpd::server
