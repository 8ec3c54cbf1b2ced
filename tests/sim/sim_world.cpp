#include "tests/sim/sim_world.hpp"

#include <dirent.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>

#include "config/config.hpp"
#include "io/buffer_ring.hpp"
#include "io/socket.hpp"
#include "server/auth/messages.hpp"
#include "server/auth_link.hpp"
#include "server/control_session.hpp"
#include "server/data_channel.hpp"
#include "server/log.hpp"
#include "server/process/counters.hpp"
#include "server/session_table.hpp"
#include "server/transfer_log.hpp"
#include "tests/sim/net.hpp"
#include "tests/sim/sim_client.hpp"

namespace ringftpd::sim {
namespace {

namespace fs = std::filesystem;
using server::ControlSession;

std::string make_bytes(Rng& rng, std::size_t n) {
  std::string s(n, '\0');
  std::uint64_t x = rng.below(~0ULL) | 1;
  for (char& c : s) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    c = static_cast<char>(x);
  }
  return s;
}

void write_file(const fs::path& p, const std::string& data) {
  std::ofstream(p, std::ios::binary) << data;
}

config::Snapshot make_config(Rng& rng) {
  auto c = std::make_shared<config::Config>();
  c->source = "<simulation>";
  c->control.tls =
      rng.chance(2, 3) ? config::ControlTls::Optional : config::ControlTls::RequiredForLogin;
  c->data.protection =
      rng.chance(3, 4) ? config::DataProtection::ClientChoice : config::DataProtection::Required;
  // A window of passive ports of this process, away from other runs.
  const auto base = static_cast<std::uint16_t>(20000 + (getpid() % 400) * 100);
  c->passive.ports = config::PortRange{base, static_cast<std::uint16_t>(base + 99)};
  c->limits.max_line_bytes = rng.chance(1, 4) ? 512 : 4096;
  c->limits.error_budget = static_cast<std::uint32_t>(rng.between(4, 40));
  c->transfer.atomic_uploads = true;
  return c;
}

class World {
 public:
  World(const SharedTls& shared, Rng& rng, EventLog& log, const RunOptions& options);
  ~World();
  void run(RunResult& result);

 private:
  void make_tree(unsigned clients);
  bool step();
  bool accept_one();
  bool dispatch_one();
  bool auth_step(bool answer_all);
  void tick(std::chrono::seconds offset);
  void admin_event();
  void release_if_finished(ControlSession& s);
  void release_finished();
  void drain();
  [[nodiscard]] bool failed() const { return !log_.violations().empty(); }

  const SharedTls& shared_;
  Rng& rng_;
  EventLog& log_;
  RunOptions options_;
  config::Snapshot config_;
  SimKernel kernel_;
  server::Log slog_;
  server::TransferLog xferlog_{""};
  server::WorkerCounters counters_;
  server::Pacer pacer_;  // no bandwidth limit here: never has waiters
  server::PassivePorts ports_;
  int auth_peer_ = -1;  // the simulated auth service's end
  std::unique_ptr<server::AuthLink> auth_;
  std::unique_ptr<io::BufferRing> recv_buffers_;
  std::vector<std::byte> scratch_ = std::vector<std::byte>(16 * 1024);
  server::SessionTable<ControlSession> sessions_{4000};
  io::UniqueFd listener_;
  std::uint16_t port_ = 0;
  std::string dir_;
  std::vector<ClientSpec> specs_;
  std::vector<std::unique_ptr<SimClient>> clients_;
  std::deque<server::auth::Request> auth_queue_;
  std::uint64_t sessions_started_ = 0;
  std::uint64_t late_completions_ = 0;
  std::uint64_t verified_downloads_ = 0;
  std::uint64_t verified_uploads_ = 0;
};

World::World(const SharedTls& shared, Rng& rng, EventLog& log, const RunOptions& options)
    : shared_(shared),
      rng_(rng),
      log_(log),
      options_(options),
      config_(make_config(rng)),
      kernel_(rng, log, options.faults ? Faults{} : Faults::none()),
      slog_(options.trace ? config::LogLevel::Debug : config::LogLevel::Error,
            options.trace ? "" : "/dev/null"),
      ports_(config_->passive.ports) {
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv) != 0) {
    throw std::runtime_error("socketpair");
  }
  auth_peer_ = sv[1];
  kernel_.share(sv[0], "auth socket");
  auth_ = std::make_unique<server::AuthLink>(kernel_, io::UniqueFd(sv[0]));
  // Few, sometimes small, buffers: -ENOBUFS and short reads are common.
  const unsigned count = 1u << rng.between(1, 6);
  const unsigned size = rng.chance(1, 3) ? 64 : 4096;
  recv_buffers_ = std::make_unique<io::BufferRing>(kernel_, 1, count, size);
  listener_ = io::UniqueFd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(listener_.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      ::listen(listener_.get(), 64) != 0) {
    throw std::runtime_error("listener");
  }
  port_ = io::local_address(listener_.get())->port();
  Net::get().add(listener_.get());
  const unsigned n = options.clients ? options.clients : static_cast<unsigned>(rng.between(1, 5));
  make_tree(n);
  log_.add("world: " + std::to_string(n) + " clients, " + std::to_string(count) +
           " control buffers of " + std::to_string(size) + " bytes, control TLS " +
           (config_->control.tls == config::ControlTls::Optional ? "optional" : "for login"));
}

World::~World() {
  clients_.clear();
  kernel_.abandon();
  // Sessions left after a violation go before the buffers they reference.
  std::vector<std::uint32_t> slots;
  sessions_.for_each([&](ControlSession& s) { slots.push_back(s.tag().slot); });
  for (std::uint32_t slot : slots) sessions_.release(slot);
  recv_buffers_.reset();
  auth_.reset();
  if (auth_peer_ >= 0) ::close(auth_peer_);
  Net::get().remove(listener_.get());
  std::error_code ignored;
  if (!dir_.empty()) fs::remove_all(dir_, ignored);
}

void World::make_tree(unsigned clients) {
  std::string pattern = (fs::temp_directory_path() / "ringftpd-sim-XXXXXX").string();
  if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp");
  dir_ = fs::canonical(pattern).string();
  static const char* const kIps[] = {"127.0.0.1", "127.0.0.2", "127.0.0.3"};
  for (unsigned i = 0; i < clients; ++i) {
    ClientSpec spec;
    spec.id = static_cast<int>(i);
    spec.ip = kIps[rng_.below(3)];
    spec.user = "u" + std::to_string(i);
    spec.password = "pw" + std::to_string(i);
    spec.root = dir_ + "/" + spec.user;
    spec.chaos = options_.chaos_only || rng_.chance(1, 5);
    spec.pipeline = rng_.chance(1, 3);
    fs::create_directories(spec.root + "/d0");
    const std::size_t sizes[] = {0, static_cast<std::size_t>(rng_.between(1, 5000)),
                                 static_cast<std::size_t>(rng_.between(5000, 300 * 1024))};
    for (int f = 0; f < 3; ++f) {
      const std::string name = "f" + std::to_string(f) + ".bin";
      spec.files[name] = make_bytes(rng_, sizes[f]);
      write_file(spec.root + "/" + name, spec.files[name]);
    }
    write_file(spec.root + "/d0/inner.txt", "inside d0\n");
    // Ways out that confinement must close: symlinks up and to /etc.
    fs::create_directory_symlink("/etc", spec.root + "/etc-link");
    fs::create_directory_symlink("..", spec.root + "/d0/up");
    specs_.push_back(spec);
    clients_.push_back(std::make_unique<SimClient>(
        ClientEnv{rng_, log_, shared_.client(), port_, options_.abor}, std::move(spec)));
  }
  for (auto& c : clients_) c->connect();
}

bool World::accept_one() {
  io::UniqueFd fd(::accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK));
  if (!fd) return false;
  const int one = 1;
  setsockopt(fd.get(), SOL_SOCKET, SO_OOBINLINE, &one, sizeof one);
  setsockopt(fd.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  const auto peer = io::peer_address(fd.get());
  const auto local = io::local_address(fd.get());
  if (!peer || !local) return true;  // the peer is already gone; fd closes here
  const auto [slot, generation] = sessions_.reserve();
  const io::OpTag tag{slot, generation, 0};
  const Owner owner = owner_of(tag.pack() | 1);
  kernel_.give(fd.get(), owner, "control");
  ++sessions_started_;
  log_.add("worker: session " + owner_name(owner) + " for " + peer->to_string());
  auto session = std::make_unique<ControlSession>(
      server::SessionEnv{kernel_, *recv_buffers_, slog_, config_, ports_, *auth_, xferlog_,
                         &shared_.server(), scratch_, counters_, pacer_, nullptr, 0},
      tag, std::move(fd), *peer, *local, false);
  ControlSession& s = *session;
  sessions_.install(slot, std::move(session));
  s.start();
  kernel_.submit();
  release_if_finished(s);
  return true;
}

void World::release_if_finished(ControlSession& s) {
  if (!s.is_finished()) return;
  kernel_.submit();
  const io::OpTag tag = s.tag();
  const Owner owner = owner_of(io::OpTag{tag.slot, tag.generation, 1}.pack());
  log_.add("worker: session " + owner_name(owner) + " finished; destroyed");
  kernel_.session_destroyed(owner);
  sessions_.release(tag.slot);
}

void World::release_finished() {
  std::vector<ControlSession*> done;
  sessions_.for_each([&](ControlSession& s) {
    if (s.is_finished()) done.push_back(&s);
  });
  for (ControlSession* s : done) release_if_finished(*s);
}

bool World::dispatch_one() {
  const auto c = kernel_.pop_completion();
  if (!c) return false;
  if (c->user_data == io::kIgnoredTag) return true;
  const io::OpTag tag = io::OpTag::unpack(c->user_data);
  if (tag.slot == server::kWorkerSlot) return true;
  ControlSession* s = sessions_.find(tag.slot, tag.generation);
  if (s == nullptr) {
    ++late_completions_;
    log_.add("worker: late completion for " + owner_name(owner_of(c->user_data)));
    return true;
  }
  s->on_completion(static_cast<server::Op>(tag.op), c->res, c->flags);
  kernel_.submit();
  release_if_finished(*s);
  return true;
}

// The simulated auth service: reads requests off its end of the socketpair
// (decoded strictly, like authd), answers one of them when the PRNG says so.
bool World::auth_step(bool answer_all) {
  std::array<std::byte, server::auth::kMaxDatagramBytes + 1> buf;
  for (;;) {
    const ssize_t n = ::recv(auth_peer_, buf.data(), buf.size(), MSG_DONTWAIT);
    if (n <= 0) break;
    auto req = server::auth::decode_request({buf.data(), static_cast<std::size_t>(n)});
    if (!req) {
      std::string hex;
      for (ssize_t b = 0; b < n && b < 64; ++b) {
        char h[4];
        std::snprintf(h, sizeof h, "%02x", static_cast<unsigned>(buf[static_cast<std::size_t>(b)]));
        hex += h;
      }
      log_.violation("malformed auth request datagram (" + std::to_string(n) + " bytes: " + hex +
                     ")");
      continue;
    }
    auth_queue_.push_back(std::move(*req));
  }
  bool did = false;
  while (!auth_queue_.empty()) {
    const std::size_t i = static_cast<std::size_t>(rng_.below(auth_queue_.size()));
    const server::auth::Request req = auth_queue_[i];
    auth_queue_.erase(auth_queue_.begin() + static_cast<std::ptrdiff_t>(i));
    did = true;
    server::auth::Reply reply;
    reply.request_id = req.request_id;
    const ClientSpec* who = nullptr;
    for (const ClientSpec& s : specs_) {
      if (s.user == req.user) who = &s;
    }
    const std::uint64_t k = rng_.below(100);
    if (!answer_all && k < 2) {
      log_.add("auth: request for " + req.user + " lost");
      continue;  // the service died holding it; the session's tick gives up
    }
    if (k < 5) {
      reply.result = server::auth::Result::Unavailable;
    } else if (k < 8) {
      reply.result = server::auth::Result::Throttled;
      reply.retry_after_ms = rng_.chance(1, 2) ? 5000 : 60000;
    } else if (who != nullptr && req.password == who->password) {
      reply.result = server::auth::Result::Allowed;
      reply.root = who->root;
      reply.permissions = config::kPermAll;
    } else {
      reply.result = server::auth::Result::Denied;
      reply.retry_after_ms = rng_.chance(1, 3) ? 1000 : 0;
    }
    const io::OpTag tag = io::OpTag::unpack(req.request_id);
    log_.add("auth: " + req.user + " -> result " + std::to_string(static_cast<int>(reply.result)));
    if (ControlSession* s = sessions_.find(tag.slot, tag.generation)) {
      if (reply.result == server::auth::Result::Allowed) {
        kernel_.set_root(owner_of(io::OpTag{tag.slot, tag.generation, 1}.pack()), reply.root);
      }
      s->on_auth_reply(reply);
      kernel_.submit();
      release_if_finished(*s);
    }
    if (!answer_all) break;
  }
  return did;
}

void World::tick(std::chrono::seconds offset) {
  const auto now = ControlSession::Clock::now() + offset;
  log_.add("worker: tick +" + std::to_string(offset.count()) + "s");
  sessions_.for_each([now](ControlSession& s) { s.on_tick(now); });
  kernel_.submit();
  release_finished();
}

void World::admin_event() {
  std::vector<ControlSession*> all;
  sessions_.for_each([&](ControlSession& s) { all.push_back(&s); });
  if (all.empty()) return;
  ControlSession& s = *all[rng_.below(all.size())];
  switch (rng_.below(3)) {
    case 0:
      log_.add("worker: shut_down (SIGINT)");
      s.shut_down("Server shutting down.");
      break;
    case 1:
      log_.add("worker: shut_down_when_idle (SIGTERM)");
      s.shut_down_when_idle("Server shutting down.");
      break;
    default:
      log_.add("worker: auth service lost (SIGUSR2)");
      s.on_auth_service_lost();
      break;
  }
  kernel_.submit();
  release_if_finished(s);
}

bool World::step() {
  const std::uint64_t r = rng_.below(1000);
  if (r < 300) return kernel_.step();
  if (r < 550) return dispatch_one();
  if (r < 850) {
    auto& c = clients_[rng_.below(clients_.size())];
    if (!c->is_gone()) return c->act();
    if (!rng_.chance(1, 20)) return false;
    // A client that left comes back as a new session (its files stay).
    verified_downloads_ += c->verified_downloads();
    verified_uploads_ += c->verified_uploads();
    ClientSpec spec = c->spec();
    c = std::make_unique<SimClient>(ClientEnv{rng_, log_, shared_.client(), port_, options_.abor},
                                    std::move(spec));
    c->connect();
    return true;
  }
  if (r < 900) return accept_one();
  if (r < 960) return auth_step(false);
  if (r < 970) {
    // Most ticks move no time; some pass a handshake, login, data-stall or
    // idle timeout (the sessions compare against the real clock plus this).
    const std::uint64_t k = rng_.below(100);
    const auto offset = k < 88   ? std::chrono::seconds(0)
                        : k < 92 ? std::chrono::seconds(20)
                        : k < 95 ? std::chrono::seconds(70)
                        : k < 98 ? std::chrono::seconds(200)
                                 : std::chrono::seconds(7200);
    tick(offset);
    return true;
  }
  if (r < 971 && rng_.chance(1, 5)) {
    admin_event();
    return true;
  }
  return kernel_.step_all();
}

// Bytes a session keeps queued stay under its cap (once ControlSession
// reports them; compiled against older sessions, nothing to check).
template <class Session>
void check_memory(Session& s, EventLog& log) {
  if constexpr (requires(const Session& x) {
                  x.memory_bytes();
                  x.memory_cap();
                }) {
    if (s.memory_bytes() > s.memory_cap()) {
      const io::OpTag t = s.tag();
      log.violation(owner_name(owner_of(io::OpTag{t.slot, t.generation, 1}.pack())) + " holds " +
                    std::to_string(s.memory_bytes()) + " bytes, over its cap of " +
                    std::to_string(s.memory_cap()));
    }
  }
}

void World::drain() {
  log_.add("world: drain: every client leaves");
  for (auto& c : clients_) c->leave();
  unsigned idle = 0;
  for (unsigned round = 0; round < 5000 && !failed(); ++round) {
    bool progress = false;
    while (accept_one()) progress = true;
    while (!failed() && dispatch_one()) progress = true;
    progress = kernel_.step_all() || progress;
    progress = auth_step(true) || progress;
    kernel_.submit();
    if (sessions_.size() == 0 && kernel_.pending() == 0 && !kernel_.has_completions()) return;
    if (!progress) {
      if (++idle > 30) break;
      tick(std::chrono::seconds(7200));
    }
  }
  if (failed()) return;
  std::string stuck;
  sessions_.for_each([&](ControlSession& s) {
    const io::OpTag t = s.tag();
    const Owner o = owner_of(io::OpTag{t.slot, t.generation, 1}.pack());
    stuck += " " + owner_name(o) + "(" + std::to_string(kernel_.pending_of(o)) + " pending)";
  });
  if (!stuck.empty()) log_.violation("sessions never finished:" + stuck);
  if (kernel_.pending() != 0) {
    log_.violation(std::to_string(kernel_.pending()) + " operations still pending at the end");
  }
}

void World::run(RunResult& result) {
  const unsigned steps =
      options_.steps ? options_.steps : static_cast<unsigned>(rng_.between(2000, 8000));
  unsigned i = 0;
  for (; i < steps && !failed(); ++i) {
    if (rng_.exhausted()) break;
    (void)step();
    kernel_.submit();
    sessions_.for_each([this](ControlSession& s) { check_memory(s, log_); });
  }
  result.steps = i;
  if (!failed()) drain();
  if (!failed()) {
    if (kernel_.fds_owned() != 0) {
      log_.violation(std::to_string(kernel_.fds_owned()) + " session fds still open at the end");
    }
    if (kernel_.buffer_groups_in_use() != 0) {
      log_.violation(std::to_string(kernel_.buffer_groups_in_use()) +
                     " buffer groups never released");
    }
  }
  result.sessions = sessions_started_;
  result.verified_downloads = verified_downloads_;
  result.verified_uploads = verified_uploads_;
  for (const auto& c : clients_) {
    result.verified_downloads += c->verified_downloads();
    result.verified_uploads += c->verified_uploads();
  }
  result.kernel = kernel_.stats();
}

}  // namespace

SharedTls::SharedTls() : creds_(tls::generate_self_signed()) {
  server_ = std::make_unique<tls::ServerContext>(creds_);
  client_ = std::make_unique<tls::ClientContext>();
}

int open_fd_count() {
  int n = 0;
  if (DIR* d = opendir("/proc/self/fd")) {
    while (readdir(d) != nullptr) ++n;
    closedir(d);
  }
  return n - 3;  // ".", ".." and the DIR's own fd
}

RunResult run_world(const SharedTls& tls, Rng& rng, const RunOptions& options) {
  EventLog log(options.trace);
  RunResult result;
  const int fds_before = open_fd_count();
  {
    World world(tls, rng, log, options);
    world.run(result);
  }
  const int fds_after = open_fd_count();
  if (log.violations().empty() && fds_after != fds_before) {
    log.violation("/proc/self/fd: " + std::to_string(fds_before) + " before the run, " +
                  std::to_string(fds_after) + " after");
  }
  for (const std::string& v : log.violations()) {
    bool known = false;
    for (const std::string& k : options.known) known = known || v.find(k) != std::string::npos;
    (known ? result.known_findings : result.violations).push_back(v);
  }
  result.last_events = log.last();
  return result;
}

}  // namespace ringftpd::sim
