#include "server/auth/auth_service.hpp"

#include <crypt.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "server/auth/messages.hpp"
#include "server/password_hash.hpp"

namespace ringftpd::server::auth {
namespace {

using namespace std::chrono_literals;

constexpr auto kReplyTimeout = 10s;  // generous: only a hang hits it

// The worker's side of one connection, used blocking through poll().
class TestClient {
 public:
  explicit TestClient(io::UniqueFd fd) : fd_(std::move(fd)) {}

  void send(const Request& r) {
    std::vector<std::byte> bytes;
    ASSERT_TRUE(encode(r, bytes));
    send_raw(bytes);
  }

  void send_raw(std::span<const std::byte> bytes) {
    for (;;) {
      const ssize_t n = ::send(fd_.get(), bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n >= 0) return;
      ASSERT_TRUE(errno == EAGAIN || errno == EINTR) << errno;
      pollfd p{fd_.get(), POLLOUT, 0};
      ::poll(&p, 1, 100);
    }
  }

  // The next reply; nullopt on timeout, end of stream or an undecodable reply.
  std::optional<Reply> receive(std::chrono::milliseconds timeout = kReplyTimeout) {
    pollfd p{fd_.get(), POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(timeout.count())) != 1) return std::nullopt;
    std::vector<std::byte> buf(kMaxDatagramBytes + 1);
    const ssize_t n = ::recv(fd_.get(), buf.data(), buf.size(), 0);
    if (n <= 0) return std::nullopt;
    buf.resize(static_cast<std::size_t>(n));
    return decode_reply(buf);
  }

  Reply ask(const Request& r) {
    send(r);
    auto reply = receive();
    EXPECT_TRUE(reply) << "no reply to request " << r.request_id;
    return reply.value_or(Reply{});
  }

  // True when the service's end is closed within the timeout (replies read
  // on the way are discarded).
  bool sees_hang_up(std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    std::vector<std::byte> buf(kMaxDatagramBytes + 1);
    while (std::chrono::steady_clock::now() < deadline) {
      pollfd p{fd_.get(), POLLIN, 0};
      if (::poll(&p, 1, 100) != 1) continue;
      const ssize_t n = ::recv(fd_.get(), buf.data(), buf.size(), 0);
      if (n == 0 || (n < 0 && errno != EAGAIN)) return true;
    }
    return false;
  }

  [[nodiscard]] int fd() const { return fd_.get(); }

 private:
  io::UniqueFd fd_;
};

Request verify(std::uint64_t id, std::string user, std::string password,
               std::string ip = "192.0.2.10") {
  Request r;
  r.request_id = id;
  r.kind = Kind::VerifyPassword;
  r.user = std::move(user);
  r.password = std::move(password);
  r.peer_ip = std::move(ip);
  return r;
}

std::vector<std::byte> raw(std::string_view s) {
  std::vector<std::byte> out;
  for (char c : s) out.push_back(static_cast<std::byte>(c));
  return out;
}

// Thread-safe capture of the service's log lines.
struct LogCapture {
  std::mutex mu;
  std::vector<std::string> lines;
  std::function<void(std::string_view)> fn() {
    return [this](std::string_view s) {
      std::lock_guard lock(mu);
      lines.emplace_back(s);
    };
  }
  std::string all() {
    std::lock_guard lock(mu);
    std::string out;
    for (auto& l : lines) out += l + "\n";
    return out;
  }
};

// A clock the test moves; read from the service's threads.
struct FakeClock {
  std::atomic<std::int64_t> offset_ms{0};
  FailureTracker::Now fn() {
    return [this] {
      return FailureTracker::Clock::time_point(std::chrono::hours(1000)) +
             std::chrono::milliseconds(offset_ms.load());
    };
  }
};

class AuthServiceTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    alice_hash_ = hash_password("secret", HashScheme::Sha512Crypt);
    bob_hash_ = hash_password("hunter2", HashScheme::Sha512Crypt);
  }

  UserTable table(bool anonymous = false, bool anonymous_write = false) {
    config::UsersSettings s;
    s.anonymous = anonymous;
    s.anonymous_root = anonymous ? "/srv/pub" : "";
    s.anonymous_write = anonymous_write;
    return UserTable({config::User{"alice", alice_hash_, "/srv/alice", config::kPermAll},
                      config::User{"bob", bob_hash_, "/srv/bob", config::kPermReadOnly}},
                     s);
  }

  AuthServiceOptions options() {
    AuthServiceOptions o;
    o.log = log_.fn();
    o.clock = clock_.fn();
    return o;
  }

  static inline std::string alice_hash_;
  static inline std::string bob_hash_;
  LogCapture log_;
  FakeClock clock_;
  config::Limits limits_;
};

TEST_F(AuthServiceTest, WorkerEndIsNonBlockingSeqpacket) {
  AuthService svc(table(), limits_, options());
  io::UniqueFd fd = svc.add_client();
  ASSERT_TRUE(fd);
  EXPECT_NE(::fcntl(fd.get(), F_GETFL) & O_NONBLOCK, 0);
  EXPECT_NE(::fcntl(fd.get(), F_GETFD) & FD_CLOEXEC, 0);
  int type = 0;
  socklen_t len = sizeof type;
  ASSERT_EQ(::getsockopt(fd.get(), SOL_SOCKET, SO_TYPE, &type, &len), 0);
  EXPECT_EQ(type, SOCK_SEQPACKET);
}

TEST_F(AuthServiceTest, CorrectPasswordIsAllowedWithRootAndPermissions) {
  AuthService svc(table(), limits_, options());
  TestClient c(svc.add_client());
  const Reply a = c.ask(verify(1, "alice", "secret"));
  EXPECT_EQ(a.request_id, 1u);
  EXPECT_EQ(a.result, Result::Allowed);
  EXPECT_EQ(a.root, "/srv/alice");
  EXPECT_EQ(a.permissions, config::kPermAll);
  const Reply b = c.ask(verify(2, "bob", "hunter2", "2001:db8::5"));
  EXPECT_EQ(b.result, Result::Allowed);
  EXPECT_EQ(b.root, "/srv/bob");
  EXPECT_EQ(b.permissions, config::kPermReadOnly);
}

TEST_F(AuthServiceTest, WrongPasswordAndUnknownUserLookAlike) {
  AuthService svc(table(), limits_, options());
  TestClient c(svc.add_client());
  // Each from its own address: none of them is delayed yet.
  const Reply wrong = c.ask(verify(7, "alice", "Secret", "192.0.2.1"));
  const Reply unknown = c.ask(verify(8, "mallory", "secret", "192.0.2.2"));
  const Reply anon_off = c.ask(verify(9, "anonymous", "guest@", "192.0.2.3"));
  for (const Reply* r : {&wrong, &unknown, &anon_off}) {
    EXPECT_EQ(r->result, Result::Denied);
    EXPECT_TRUE(r->root.empty());
    EXPECT_EQ(r->permissions, 0);
    EXPECT_EQ(r->retry_after_ms, 0u);
  }
  EXPECT_EQ(wrong.request_id, 7u);
  EXPECT_EQ(unknown.request_id, 8u);
  // The third failure from the address is delayed, whichever kind it was.
  EXPECT_EQ(c.ask(verify(10, "alice", "x", "192.0.2.1")).retry_after_ms, 0u);
  const Reply third = c.ask(verify(11, "nobody", "x", "192.0.2.1"));
  EXPECT_EQ(third.result, Result::Denied);
  EXPECT_EQ(third.retry_after_ms, 1000u);
}

TEST_F(AuthServiceTest, AnonymousWhenEnabled) {
  AuthService svc(table(true), limits_, options());
  TestClient c(svc.add_client());
  const std::pair<const char*, const char*> logins[] = {{"anonymous", "guest@example.com"},
                                                        {"FTP", ""}};
  for (const auto& [user, pw] : logins) {
    const Reply r = c.ask(verify(1, user, pw));
    EXPECT_EQ(r.result, Result::Allowed) << user;
    EXPECT_EQ(r.root, "/srv/pub");
    EXPECT_EQ(r.permissions, config::kPermReadOnly);
  }
  EXPECT_EQ(c.ask(verify(2, "alice", "secret")).result, Result::Allowed);

  AuthService rw(table(true, true), limits_, options());
  TestClient c2(rw.add_client());
  EXPECT_EQ(c2.ask(verify(3, "anonymous", "x")).permissions,
            config::kPermReadOnly | config::kPermWrite);
}

TEST_F(AuthServiceTest, AnonymousLoginDoesNotResetFailures) {
  limits_.failed_logins_before_delay = 2;
  AuthService svc(table(true), limits_, options());
  TestClient c(svc.add_client());
  EXPECT_EQ(c.ask(verify(1, "alice", "guess1")).retry_after_ms, 0u);
  EXPECT_EQ(c.ask(verify(2, "anonymous", "x")).result, Result::Allowed);
  const Reply r = c.ask(verify(3, "alice", "guess2"));
  EXPECT_EQ(r.result, Result::Denied);
  EXPECT_EQ(r.retry_after_ms, 1000u);  // still the second failure
}

TEST_F(AuthServiceTest, ThrottlesRepeatedFailuresPerAddress) {
  AuthService svc(table(), limits_, options());  // delay after 3, throttle at 6
  TestClient a(svc.add_client());
  TestClient b(svc.add_client());
  const std::string ip = "198.51.100.4";
  EXPECT_EQ(a.ask(verify(1, "alice", "1", ip)).retry_after_ms, 0u);
  EXPECT_EQ(b.ask(verify(2, "alice", "2", ip)).retry_after_ms, 0u);
  const Reply third = a.ask(verify(3, "alice", "3", ip));
  EXPECT_EQ(third.result, Result::Denied);
  EXPECT_EQ(third.retry_after_ms, 1000u);
  // During the delay even the right password, from another worker, is refused
  // without being checked.
  const Reply early = b.ask(verify(4, "alice", "secret", ip));
  EXPECT_EQ(early.result, Result::Throttled);
  EXPECT_EQ(early.retry_after_ms, 1000u);
  // Another address is not affected.
  EXPECT_EQ(b.ask(verify(5, "alice", "secret", "198.51.100.5")).result, Result::Allowed);

  clock_.offset_ms += 1000;
  EXPECT_EQ(a.ask(verify(6, "alice", "4", ip)).retry_after_ms, 2000u);
  clock_.offset_ms += 2000;
  EXPECT_EQ(a.ask(verify(7, "alice", "5", ip)).retry_after_ms, 4000u);
  clock_.offset_ms += 4000;
  const Reply sixth = a.ask(verify(8, "alice", "6", ip));
  EXPECT_EQ(sixth.result, Result::Throttled);
  EXPECT_EQ(sixth.retry_after_ms, 600000u);
  clock_.offset_ms += 60000;
  EXPECT_EQ(b.ask(verify(9, "alice", "secret", ip)).result, Result::Throttled);
  EXPECT_NE(log_.all().find("198.51.100.4 throttled"), std::string::npos) << log_.all();

  clock_.offset_ms += 540000;  // the cool-down is over
  EXPECT_EQ(b.ask(verify(10, "alice", "secret", ip)).result, Result::Allowed);
}

TEST_F(AuthServiceTest, SuccessResetsTheAddress) {
  limits_.failed_logins_before_delay = 2;
  AuthService svc(table(), limits_, options());
  TestClient c(svc.add_client());
  EXPECT_EQ(c.ask(verify(1, "alice", "x")).retry_after_ms, 0u);
  EXPECT_EQ(c.ask(verify(2, "alice", "secret")).result, Result::Allowed);
  EXPECT_EQ(c.ask(verify(3, "alice", "x")).retry_after_ms, 0u);
}

TEST_F(AuthServiceTest, FiftyConcurrentRequestsFromTwoClients) {
  AuthService svc(table(), limits_, options());
  TestClient clients[] = {TestClient(svc.add_client()), TestClient(svc.add_client())};
  std::map<std::uint64_t, Result> expected[2];
  for (std::uint64_t i = 0; i < 50; ++i) {
    const int which = static_cast<int>(i % 2);
    const std::uint64_t id = 1000 + i;
    // Every fifth is wrong, from its own address so nothing gets throttled.
    const bool wrong = i % 5 == 0;
    clients[which].send(verify(id, i % 3 == 0 ? "bob" : "alice",
                               wrong ? "nope" : (i % 3 == 0 ? "hunter2" : "secret"),
                               wrong ? "10.0.0." + std::to_string(i) : "192.0.2.1"));
    expected[which][id] = wrong ? Result::Denied : Result::Allowed;
  }
  for (int which = 0; which < 2; ++which) {
    std::map<std::uint64_t, Result> got;
    for (std::size_t n = 0; n < expected[which].size(); ++n) {
      const auto r = clients[which].receive();
      ASSERT_TRUE(r) << "client " << which << " got only " << n << " replies";
      EXPECT_TRUE(got.emplace(r->request_id, r->result).second) << "duplicate " << r->request_id;
    }
    EXPECT_EQ(got, expected[which]);
    EXPECT_FALSE(clients[which].receive(50ms)) << "an extra reply";
  }
}

TEST_F(AuthServiceTest, BackPressureStillAnswersEverything) {
  AuthServiceOptions o = options();
  o.max_in_flight_per_client = 2;
  o.threads = 1;
  AuthService svc(table(), limits_, std::move(o));
  TestClient c(svc.add_client());
  for (std::uint64_t i = 1; i <= 30; ++i) c.send(verify(i, "alice", "secret"));
  std::vector<bool> seen(31, false);
  for (int n = 0; n < 30; ++n) {
    const auto r = c.receive();
    ASSERT_TRUE(r) << n;
    ASSERT_LE(r->request_id, 30u);
    EXPECT_FALSE(seen[r->request_id]);
    seen[r->request_id] = true;
    EXPECT_EQ(r->result, Result::Allowed);
  }
}

TEST_F(AuthServiceTest, GarbageIsSurvivedAndTheNextRequestAnswered) {
  AuthService svc(table(), limits_, options());
  TestClient c(svc.add_client());
  // Unreadable: dropped without a reply.
  c.send_raw(raw("GET / HTTP/1.0\r\n\r\n"));
  c.send_raw({});  // an empty datagram
  c.send_raw(raw("\x01\x51\x41"));
  // Readable id, malformed rest: answered Malformed.
  std::vector<std::byte> good;
  ASSERT_TRUE(encode(verify(77, "alice", "secret"), good));
  auto bad = good;
  bad.push_back(std::byte{'!'});  // a trailing byte
  c.send_raw(bad);
  auto huge = good;
  huge.resize(6000, std::byte{'A'});  // longer than any datagram
  c.send_raw(huge);
  // Decodes, but the peer address is not an address; the password is not logged.
  c.send(verify(79, "alice", "hunter2-secret", "not-an-ip"));

  for (std::uint64_t id : {77u, 77u, 79u}) {
    const auto r = c.receive();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->request_id, id);
    EXPECT_EQ(r->result, Result::Malformed);
    EXPECT_TRUE(r->root.empty());
  }
  const Reply ok = c.ask(verify(80, "alice", "secret"));
  EXPECT_EQ(ok.request_id, 80u);
  EXPECT_EQ(ok.result, Result::Allowed);
  EXPECT_NE(log_.all().find("malformed"), std::string::npos);
  EXPECT_EQ(log_.all().find("hunter2"), std::string::npos);
}

TEST_F(AuthServiceTest, UserLookupOnlyWhenEnabled) {
  Request lookup;
  lookup.request_id = 5;
  lookup.kind = Kind::LookupUser;
  lookup.user = "bob";
  lookup.peer_ip = "192.0.2.1";
  {
    AuthService svc(table(true), limits_, options());
    TestClient c(svc.add_client());
    EXPECT_EQ(c.ask(lookup).result, Result::Denied);
  }
  AuthServiceOptions o = options();
  o.allow_user_lookup = true;
  AuthService svc(table(true), limits_, std::move(o));
  TestClient c(svc.add_client());
  const Reply r = c.ask(lookup);
  EXPECT_EQ(r.result, Result::Allowed);
  EXPECT_EQ(r.root, "/srv/bob");
  lookup.user = "mallory";
  EXPECT_EQ(c.ask(lookup).result, Result::Denied);
  lookup.user = "anonymous";
  EXPECT_EQ(c.ask(lookup).result, Result::Denied);
}

TEST_F(AuthServiceTest, AClientLeavingDisturbsNoOther) {
  AuthService svc(table(), limits_, options());
  TestClient stays(svc.add_client());
  {
    TestClient leaves(svc.add_client());
    for (std::uint64_t i = 0; i < 10; ++i) leaves.send(verify(i, "alice", "secret"));
  }  // closed with requests in flight
  EXPECT_EQ(stays.ask(verify(99, "alice", "secret")).result, Result::Allowed);
}

TEST_F(AuthServiceTest, AdoptRefusesWhatIsNotASeqpacketSocket) {
  AuthService svc(table(), limits_, options());
  int sv[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
  io::UniqueFd keep(sv[1]);
  EXPECT_THROW(svc.adopt_client(io::UniqueFd(sv[0])), std::invalid_argument);
  EXPECT_THROW(svc.adopt_client(io::UniqueFd()), std::invalid_argument);
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
  svc.adopt_client(io::UniqueFd(sv[0]));
  TestClient c{io::UniqueFd(sv[1])};
  EXPECT_EQ(c.ask(verify(1, "alice", "secret")).result, Result::Allowed);
}

// A hash that takes a while to verify (sha512-crypt with many rounds), so
// that queued requests would take seconds if the destructor waited for them.
std::string slow_hash(std::string_view password) {
  auto data = std::make_unique<crypt_data>();
  const std::string pw(password);
  const char* out =
      ::crypt_rn(pw.c_str(), "$6$rounds=500000$saltsaltsalt$", data.get(), sizeof *data);
  return out != nullptr ? std::string(out) : std::string();
}

TEST_F(AuthServiceTest, DestructorJoinsPromptlyWithRequestsPending) {
  const std::string hash = slow_hash("slow");
  ASSERT_TRUE(hash.starts_with("$6$rounds=500000$"));
  auto svc = std::make_unique<AuthService>(
      UserTable({config::User{"slow", hash, "/srv/slow", config::kPermReadOnly}}, {}), limits_,
      [&] {
        AuthServiceOptions o = options();
        o.threads = 1;
        return o;
      }());
  TestClient c(svc->add_client());
  for (std::uint64_t i = 0; i < 40; ++i) {
    c.send(verify(i, "slow", "slow", "10.1.0." + std::to_string(i)));
  }
  std::this_thread::sleep_for(50ms);  // let the pool start on one
  const auto start = std::chrono::steady_clock::now();
  svc.reset();
  const auto took = std::chrono::steady_clock::now() - start;
  // 40 verifications would take many seconds; stopping waits for one at most.
  EXPECT_LT(took, 5s);
  EXPECT_TRUE(c.sees_hang_up(1s));
}

}  // namespace
}  // namespace ringftpd::server::auth
