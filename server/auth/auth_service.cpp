#include "server/auth/auth_service.hpp"

#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <stdexcept>
#include <string>
#include <system_error>
#include <thread>
#include <unordered_map>
#include <vector>

#include "server/auth/fair_queue.hpp"
#include "server/auth/messages.hpp"
#include "server/password_hash.hpp"

namespace ringftpd::server::auth {
namespace {

constexpr std::uint64_t kWakeTag = 0;  // epoll data of the eventfd; clients start at 1
constexpr int kMaxEvents = 64;
constexpr int kMaxReadsPerEvent = 32;             // then let other clients have a turn
constexpr std::uint32_t kMaxLoggedMalformed = 8;  // per client: a flood must not flood the log

[[noreturn]] void throw_errno(const char* what) {
  throw std::system_error(errno, std::generic_category(), what);
}

struct Job {
  std::uint64_t client = 0;
  Request request;
  PeerKey key{};
};

// A reply that grants nothing (designated initializers would trip
// -Wmissing-field-initializers under g++).
Reply answer(std::uint64_t request_id, Result result, std::uint32_t retry_after_ms = 0) {
  Reply r;
  r.request_id = request_id;
  r.result = result;
  r.retry_after_ms = std::min(retry_after_ms, kMaxRetryAfterMs);
  return r;
}

AuthServiceOptions normalized(AuthServiceOptions o) {
  o.threads = std::max(o.threads, 1u);
  o.max_in_flight_per_client = std::max<std::uint32_t>(o.max_in_flight_per_client, 1);
  return o;
}

struct Done {
  std::uint64_t client = 0;
  Reply reply;
};

// Loop-thread state of one connected worker.
struct Client {
  io::UniqueFd fd;
  std::uint32_t in_flight = 0;                // queued or being verified
  std::deque<std::vector<std::byte>> outbox;  // encoded replies the socket did not take yet
  std::uint32_t interest = 0;                 // current epoll mask
  std::uint32_t malformed = 0;
  bool eof = false;  // the worker shut down its sending side
};

}  // namespace

class AuthService::Impl {
 public:
  Impl(UserTable users, const config::Limits& limits, AuthServiceOptions options);
  ~Impl();
  void adopt(io::UniqueFd fd);
  void replace_users(UserTable users);

 private:
  [[nodiscard]] std::shared_ptr<const UserTable> users() const {
    std::lock_guard lock(users_mu_);
    return users_;
  }

  // Loop thread.
  void loop_main() noexcept;
  void take_shared(std::vector<io::UniqueFd>& adopted, std::vector<Done>& done);
  void register_client(io::UniqueFd fd);
  void on_client_event(std::uint64_t id, std::uint32_t events);
  bool read_some(std::uint64_t id, Client& c, std::uint32_t events);
  void on_datagram(std::uint64_t id, Client& c, std::span<const std::byte> bytes, bool truncated);
  void answer_lookup(Client& c, const Request& req);
  void queue_reply(Client& c, const Reply& reply);
  bool flush(Client& c);
  void settle(std::uint64_t id);  // update interest, close when finished
  void close_client(std::uint64_t id);
  [[nodiscard]] bool has_credit(const Client& c) const {
    return c.in_flight + c.outbox.size() < options_.max_in_flight_per_client;
  }

  // Pool threads.
  void pool_main() noexcept;
  [[nodiscard]] Reply verify(const Job& job);

  void wake() noexcept;
  void log(std::string_view text) const noexcept;

  mutable std::mutex users_mu_;  // guards the pointer; the table itself is immutable
  std::shared_ptr<const UserTable> users_;
  const AuthServiceOptions options_;

  std::mutex mu_;  // guards the members up to stopping_
  std::condition_variable work_cv_;
  FairQueue<Job> jobs_;
  std::vector<Done> done_;
  std::vector<io::UniqueFd> adopted_;
  bool stopping_ = false;

  std::mutex tracker_mu_;
  FailureTracker tracker_;

  // Loop thread only (after construction).
  std::unordered_map<std::uint64_t, Client> clients_;
  std::uint64_t next_id_ = 1;
  std::vector<std::byte> recv_buf_ = std::vector<std::byte>(kMaxDatagramBytes + 1);

  io::UniqueFd epoll_;
  io::UniqueFd wake_fd_;
  std::thread loop_;
  std::vector<std::thread> pool_;
};

AuthService::Impl::Impl(UserTable users, const config::Limits& limits, AuthServiceOptions options)
    : users_(std::make_shared<const UserTable>(std::move(users))),
      options_(normalized(std::move(options))),
      tracker_(FailureTracker::policy_from(limits), options_.clock) {
  epoll_.reset(::epoll_create1(EPOLL_CLOEXEC));
  if (!epoll_) throw_errno("epoll_create1");
  wake_fd_.reset(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!wake_fd_) throw_errno("eventfd");
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = kWakeTag;
  if (::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, wake_fd_.get(), &ev) != 0) throw_errno("epoll_ctl");

  try {
    loop_ = std::thread([this] { loop_main(); });
    for (unsigned i = 0; i < options_.threads; ++i) pool_.emplace_back([this] { pool_main(); });
  } catch (...) {
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
    }
    work_cv_.notify_all();
    wake();
    if (loop_.joinable()) loop_.join();
    for (auto& t : pool_) t.join();
    throw;
  }
}

AuthService::Impl::~Impl() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  work_cv_.notify_all();
  wake();
  loop_.join();
  for (auto& t : pool_) t.join();
  jobs_.for_each([](Job& j) { wipe(j.request.password); });
}

void AuthService::Impl::adopt(io::UniqueFd fd) {
  int type = 0;
  int domain = 0;
  socklen_t len = sizeof type;
  socklen_t dlen = sizeof domain;
  if (!fd || ::getsockopt(fd.get(), SOL_SOCKET, SO_TYPE, &type, &len) != 0 ||
      ::getsockopt(fd.get(), SOL_SOCKET, SO_DOMAIN, &domain, &dlen) != 0 ||
      type != SOCK_SEQPACKET || domain != AF_UNIX) {
    throw std::invalid_argument("auth service: client is not an AF_UNIX SOCK_SEQPACKET socket");
  }
  const int flags = ::fcntl(fd.get(), F_GETFL);
  if (flags < 0 || ::fcntl(fd.get(), F_SETFL, flags | O_NONBLOCK) != 0) throw_errno("fcntl");
  {
    std::lock_guard lock(mu_);
    adopted_.push_back(std::move(fd));
  }
  wake();
}

void AuthService::Impl::wake() noexcept {
  const std::uint64_t one = 1;
  // EAGAIN means the counter is already non-zero: the loop will wake anyway.
  [[maybe_unused]] const ssize_t n = ::write(wake_fd_.get(), &one, sizeof one);
}

void AuthService::Impl::log(std::string_view text) const noexcept {
  if (!options_.log) return;
  try {
    options_.log(text);
  } catch (...) {  // a failing logger must not take the service down
  }
}

// ---- loop thread -----------------------------------------------------------

void AuthService::Impl::loop_main() noexcept {
  epoll_event events[kMaxEvents];
  std::vector<io::UniqueFd> adopted;
  std::vector<Done> done;
  for (;;) {
    const int n = ::epoll_wait(epoll_.get(), events, kMaxEvents, -1);
    if (n < 0 && errno != EINTR) {
      log("auth: bug: epoll_wait failed; the auth service stops answering");
      return;
    }
    try {
      for (int i = 0; i < n; ++i) {
        if (events[i].data.u64 == kWakeTag) {
          std::uint64_t count = 0;
          [[maybe_unused]] const ssize_t r = ::read(wake_fd_.get(), &count, sizeof count);
        } else {
          on_client_event(events[i].data.u64, events[i].events);
        }
      }
      {
        std::lock_guard lock(mu_);
        if (stopping_) return;
      }
      take_shared(adopted, done);
      for (io::UniqueFd& fd : adopted) register_client(std::move(fd));
      for (Done& d : done) {
        const auto it = clients_.find(d.client);
        if (it == clients_.end()) continue;  // the worker went away meanwhile
        --it->second.in_flight;
        queue_reply(it->second, d.reply);
        settle(d.client);
      }
    } catch (const std::exception& e) {
      log(std::string("auth: bug: ") + e.what());
    } catch (...) {
      log("auth: bug: unknown exception in the auth loop");
    }
    adopted.clear();
    done.clear();
  }
}

void AuthService::Impl::take_shared(std::vector<io::UniqueFd>& adopted, std::vector<Done>& done) {
  std::lock_guard lock(mu_);
  adopted.swap(adopted_);
  done.swap(done_);
}

void AuthService::Impl::register_client(io::UniqueFd fd) {
  const std::uint64_t id = next_id_++;
  Client& c = clients_[id];
  c.fd = std::move(fd);
  c.interest = EPOLLIN | EPOLLRDHUP;
  epoll_event ev{};
  ev.events = c.interest;
  ev.data.u64 = id;
  if (::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, c.fd.get(), &ev) != 0) {
    log("auth: bug: cannot watch a client socket; closing it");
    clients_.erase(id);
  }
}

void AuthService::Impl::on_client_event(std::uint64_t id, std::uint32_t events) {
  auto it = clients_.find(id);
  if (it == clients_.end()) return;
  Client& c = it->second;
  // Hang-up or error: the worker is gone (or its socket broken); replies
  // could not be delivered, so drop everything of it now.
  if ((events & (EPOLLHUP | EPOLLERR)) != 0) return close_client(id);
  if ((events & EPOLLOUT) != 0 && !flush(c)) return close_client(id);
  if ((events & (EPOLLIN | EPOLLRDHUP)) != 0 && !read_some(id, c, events)) {
    return close_client(id);
  }
  settle(id);
}

// False when the socket failed and the client must be closed.
bool AuthService::Impl::read_some(std::uint64_t id, Client& c, std::uint32_t events) {
  for (int i = 0; i < kMaxReadsPerEvent && !c.eof && has_credit(c); ++i) {
    iovec iov{recv_buf_.data(), recv_buf_.size()};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    // No control buffer: file descriptors a hostile peer passes with
    // SCM_RIGHTS are closed by the kernel, never installed here.
    const ssize_t n = ::recvmsg(c.fd.get(), &msg, MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno == EAGAIN || errno == EWOULDBLOCK;
    }
    const auto len = static_cast<std::size_t>(n);
    // A SEQPACKET read of 0 is either end of stream or an empty datagram; the
    // poll flags tell them apart.
    if (len == 0 && (events & EPOLLRDHUP) != 0) {
      c.eof = true;
      break;
    }
    const bool truncated = (msg.msg_flags & MSG_TRUNC) != 0;
    on_datagram(id, c, std::span<const std::byte>(recv_buf_.data(), len), truncated);
    wipe(std::span<std::byte>(recv_buf_.data(), len));  // it may have held a password
  }
  return true;
}

void AuthService::Impl::on_datagram(std::uint64_t id, Client& c, std::span<const std::byte> bytes,
                                    bool truncated) {
  std::optional<Request> req;
  if (!truncated) req = decode_request(bytes);
  std::optional<PeerKey> key;
  if (req) key = peer_key(req->peer_ip);
  if (!req || !key) {
    if (++c.malformed <= kMaxLoggedMalformed) {
      log("auth: client " + std::to_string(id) + ": malformed request (" +
          std::to_string(bytes.size()) + (truncated ? "+ bytes, truncated)" : " bytes)") +
          (c.malformed == kMaxLoggedMalformed ? "; further ones are not logged" : ""));
    }
    const std::optional<std::uint64_t> rid = req ? req->request_id : peek_request_id(bytes);
    if (req) wipe(req->password);
    if (rid) queue_reply(c, answer(*rid, Result::Malformed));
    return;
  }
  if (req->kind == Kind::LookupUser) return answer_lookup(c, *req);

  FailureTracker::Verdict gate;
  {
    std::lock_guard lock(tracker_mu_);
    gate = tracker_.check(*key);
  }
  if (gate.throttled) {  // refused without queueing: a flood costs no hashing
    wipe(req->password);
    return queue_reply(c, answer(req->request_id, Result::Throttled, gate.retry_after_ms));
  }
  {
    std::lock_guard lock(mu_);
    Job& job = jobs_.emplace(id);
    job.client = id;
    job.key = *key;
    job.request = std::move(*req);
  }
  wipe(req->password);  // a moved-from short string keeps its bytes in place
  ++c.in_flight;
  work_cv_.notify_one();
}

void AuthService::Impl::answer_lookup(Client& c, const Request& req) {
  Reply reply = answer(req.request_id, Result::Denied);
  const std::shared_ptr<const UserTable> table = users();
  if (!options_.allow_user_lookup) {
    log("auth: refused a user lookup: client certificates are not enabled");
  } else if (const auto m = table->find(req.user); m.user != nullptr && !m.anonymous) {
    reply.result = Result::Allowed;
    reply.root = m.user->root;
    reply.permissions = m.user->permissions;
    reply.max_sessions = m.user->max_sessions;
    reply.bandwidth_bytes_per_second = m.user->bandwidth_bytes_per_second;
  }
  queue_reply(c, reply);
}

void AuthService::Impl::queue_reply(Client& c, const Reply& reply) {
  std::vector<std::byte> bytes;
  if (!encode(reply, bytes)) {
    log("auth: bug: reply " + std::to_string(reply.request_id) +
        " does not encode (root too long?); answering Unavailable");
    if (!encode(answer(reply.request_id, Result::Unavailable), bytes)) {
      return;
    }
  }
  c.outbox.push_back(std::move(bytes));
}

// Sends what the socket takes. False when the socket failed.
bool AuthService::Impl::flush(Client& c) {
  while (!c.outbox.empty()) {
    const auto& d = c.outbox.front();
    const ssize_t n = ::send(c.fd.get(), d.data(), d.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno == EAGAIN || errno == EWOULDBLOCK;  // wait for EPOLLOUT
    }
    c.outbox.pop_front();  // SEQPACKET: a datagram goes whole or not at all
  }
  return true;
}

// After anything happened to a client: push out replies, then watch for what
// it can do next (read only with credit left, write only with replies waiting).
void AuthService::Impl::settle(std::uint64_t id) {
  auto it = clients_.find(id);
  if (it == clients_.end()) return;
  Client& c = it->second;
  if (!flush(c)) return close_client(id);
  if (c.eof && c.in_flight == 0 && c.outbox.empty()) return close_client(id);
  std::uint32_t want = 0;
  if (!c.eof && has_credit(c)) want |= EPOLLIN | EPOLLRDHUP;
  if (!c.outbox.empty()) want |= EPOLLOUT;
  if (want == c.interest) return;
  epoll_event ev{};
  ev.events = want;
  ev.data.u64 = id;
  if (::epoll_ctl(epoll_.get(), EPOLL_CTL_MOD, c.fd.get(), &ev) != 0) {
    log("auth: bug: cannot update a client's epoll interest; closing it");
    return close_client(id);
  }
  c.interest = want;
}

void AuthService::Impl::close_client(std::uint64_t id) {
  auto it = clients_.find(id);
  if (it == clients_.end()) return;
  ::epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, it->second.fd.get(), nullptr);
  {
    std::lock_guard lock(mu_);
    jobs_.drop(id, [](Job& j) { wipe(j.request.password); });
  }
  clients_.erase(it);  // closes the fd; replies in flight will find no client
}

// ---- pool threads ----------------------------------------------------------

void AuthService::Impl::pool_main() noexcept {
  for (;;) {
    try {
      Job job;
      {
        std::unique_lock lock(mu_);
        work_cv_.wait(lock, [&] { return stopping_ || !jobs_.empty(); });
        if (stopping_) return;
        job = std::move(jobs_.front());
        wipe(jobs_.front().request.password);  // what the move left behind
        jobs_.pop();
      }
      Reply reply;
      try {
        reply = verify(job);
      } catch (...) {
        reply = answer(job.request.request_id, Result::Unavailable);
        log("auth: bug: exception while verifying a password; answered Unavailable");
      }
      wipe(job.request.password);
      {
        std::lock_guard lock(mu_);
        done_.push_back(Done{job.client, std::move(reply)});
      }
      wake();
    } catch (...) {
      log("auth: bug: exception in an auth pool thread");
    }
  }
}

Reply AuthService::Impl::verify(const Job& job) {
  const Request& req = job.request;
  Reply reply = answer(req.request_id, Result::Denied);
  {
    // Checked again here: the address may have been blocked while this job
    // was queued (parallel guesses from several connections).
    std::lock_guard lock(tracker_mu_);
    const auto gate = tracker_.check(job.key);
    if (gate.throttled) {
      reply.result = Result::Throttled;
      reply.retry_after_ms = std::min(gate.retry_after_ms, kMaxRetryAfterMs);
      return reply;
    }
  }
  const std::shared_ptr<const UserTable> table = users();
  const UserTable::Match match = table->find(req.user);
  if (match.anonymous) {
    reply.result = Result::Allowed;
    reply.root = match.user->root;
    reply.permissions = match.user->permissions;
    reply.max_sessions = match.user->max_sessions;
    reply.bandwidth_bytes_per_second = match.user->bandwidth_bytes_per_second;
    return reply;
  }
  // Same work whether or not the user exists: timing reveals no account names.
  const std::string& hash = match.user != nullptr ? match.user->password_hash : table->dummy_hash();
  const bool ok = verify_password(req.password, hash) && match.user != nullptr;

  std::lock_guard lock(tracker_mu_);
  if (ok) {
    tracker_.record_success(job.key);
    reply.result = Result::Allowed;
    reply.root = match.user->root;
    reply.permissions = match.user->permissions;
    reply.max_sessions = match.user->max_sessions;
    reply.bandwidth_bytes_per_second = match.user->bandwidth_bytes_per_second;
    return reply;
  }
  const auto verdict = tracker_.record_failure(job.key);
  reply.retry_after_ms = std::min(verdict.retry_after_ms, kMaxRetryAfterMs);
  if (verdict.throttled) {
    reply.result = Result::Throttled;
    log("auth: " + req.peer_ip + " throttled for " + std::to_string(reply.retry_after_ms / 1000) +
        " s after too many failed logins");
  }
  return reply;
}

// ---- public face -----------------------------------------------------------

AuthService::AuthService(UserTable users, const config::Limits& limits, AuthServiceOptions options)
    : impl_(std::make_unique<Impl>(std::move(users), limits, std::move(options))) {}

AuthService::~AuthService() = default;

io::UniqueFd AuthService::add_client() {
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv) != 0) {
    throw_errno("socketpair");
  }
  io::UniqueFd service_end(sv[0]);
  io::UniqueFd worker_end(sv[1]);
  impl_->adopt(std::move(service_end));
  return worker_end;
}

void AuthService::adopt_client(io::UniqueFd service_end) {
  impl_->adopt(std::move(service_end));
}

void AuthService::Impl::replace_users(UserTable users) {
  auto fresh = std::make_shared<const UserTable>(std::move(users));
  std::lock_guard lock(users_mu_);
  users_ = std::move(fresh);
}

void AuthService::replace_users(UserTable users) {
  impl_->replace_users(std::move(users));
}

}  // namespace ringftpd::server::auth
