// ControlSession against a fake kernel (tests/server/fake_kernel.hpp): no ring.
// The test plays the kernel and the client: it completes the multishot
// receive with the client's bytes and decides whether sends complete, so a
// client that never reads its replies is one that never gets a send done.
#include "server/control_session.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstring>
#include <memory>
#include <string>

#include "server/auth/messages.hpp"
#include "tests/server/fake_kernel.hpp"

namespace ringftpd::server {
namespace {

using testing::FakeKernel;

constexpr std::uint16_t kGroup = 1;
constexpr unsigned kBufferBytes = 4096;

io::SocketAddress loopback(std::uint16_t port) {
  io::SocketAddress a;
  auto* v4 = reinterpret_cast<sockaddr_in*>(&a.storage);
  v4->sin_family = AF_INET;
  v4->sin_port = htons(port);
  v4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.length = sizeof(sockaddr_in);
  return a;
}

config::Snapshot test_config() {
  auto cfg = std::make_shared<config::Config>();
  cfg->banner = "test";
  cfg->limits.error_budget = 1'000'000;  // HELP is not an error; keep it out of the way
  return cfg;
}

class ControlSessionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    int control[2];
    ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, control), 0);
    client_.reset(control[1]);
    int auth[2];
    ASSERT_EQ(::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, auth), 0);
    auth_peer_.reset(auth[1]);
    auth_ = std::make_unique<AuthLink>(kernel_, io::UniqueFd(auth[0]));
    session_ = std::make_unique<ControlSession>(
        SessionEnv{kernel_, buffers_, log_, config_, ports_, *auth_, xferlog_, nullptr, scratch_,
                   counters_, pacer_, nullptr, 0},
        io::OpTag{1, 1, 0}, io::UniqueFd(control[0]), loopback(40000), loopback(2121), false);
    session_->start();
  }

  // The kernel hands the client's bytes to the multishot receive; false when
  // no receive is armed (the session stopped reading).
  bool deliver(std::string_view bytes) {
    if (!kernel_.peek(Op::ControlRecv)) return false;
    const auto b = kernel_.pick_buffer(kGroup);
    if (!b) return false;
    const std::size_t n = std::min<std::size_t>(bytes.size(), b->size);
    std::memcpy(b->data, bytes.data(), n);
    session_->on_completion(Op::ControlRecv, static_cast<int>(n),
                            FakeKernel::buffer_flags(b->id, true));
    return true;
  }
  // Completes the send in flight in full; returns its bytes.
  std::string complete_send() {
    const auto s = kernel_.take(Op::ControlSend);
    if (!s) return {};
    std::string out(reinterpret_cast<const char*>(s->addr), s->len);
    session_->on_completion(Op::ControlSend, static_cast<int>(s->len), 0);
    return out;
  }
  void housekeeping() {
    kernel_.run_housekeeping(
        [&](Op op, int res, std::uint32_t flags) { session_->on_completion(op, res, flags); });
  }

  FakeKernel kernel_;
  io::BufferRing buffers_{kernel_, kGroup, 64, kBufferBytes};
  Log log_{config::LogLevel::Error, ""};
  config::Snapshot config_ = test_config();
  PassivePorts ports_{config::PortRange{40000, 40001}};
  TransferLog xferlog_{""};
  std::vector<std::byte> scratch_ = std::vector<std::byte>(64 * 1024);
  WorkerCounters counters_;
  Pacer pacer_;
  io::UniqueFd client_;
  io::UniqueFd auth_peer_;
  std::unique_ptr<AuthLink> auth_;
  std::unique_ptr<ControlSession> session_;
};

std::string help_burst(std::size_t bytes) {
  std::string s;
  while (s.size() + 6 <= bytes) s += "HELP\r\n";
  return s;
}

TEST_F(ControlSessionTest, AClientThatNeverReadsIsPushedBackThenClosed) {
  // The banner's send never completes: the client does not read. It
  // pipelines HELP as fast as it can.
  unsigned delivered = 0;
  while (delivered < 200 && deliver(help_burst(kBufferBytes))) ++delivered;
  EXPECT_LT(delivered, 10u) << "reading must stop once the pre-login budget is full";
  EXPECT_FALSE(kernel_.peek(Op::ControlRecv)) << "the receive was cancelled";
  const SessionBudget before_login = session_budget(false, config_->limits.max_line_bytes);
  EXPECT_LE(session_->memory_bytes(),
            2 * before_login.input_bytes + 2 * before_login.output_bytes + 8 * 1024)
      << "memory stays within the pre-login budget";
  housekeeping();  // the cancelled receive ends
  EXPECT_EQ(kernel_.count(Op::ControlRecv), 0u) << "and is not re-armed while backed up";

  // No progress for the send timeout (before login, the login timeout at most).
  session_->on_tick(ControlSession::Clock::now() + std::chrono::seconds(61));
  EXPECT_EQ(session_->phase(), ControlSession::Phase::Closing);
  housekeeping();  // the send is cancelled, then the socket closed through the ring
  EXPECT_TRUE(session_->is_finished());
  EXPECT_EQ(kernel_.in_flight(), 0u);
  EXPECT_EQ(kernel_.close_violations(), 0u) << "no fd closed under an operation";
  EXPECT_EQ(counters_.get(Counter::SessionsSendTimedOut), 1u);
}

TEST_F(ControlSessionTest, AClientThatReadsAgainIsServedEveryReplyInOrder) {
  unsigned helps = 0;
  for (unsigned i = 0; i < 6; ++i) {
    const std::string burst = help_burst(kBufferBytes);
    if (!deliver(burst)) break;
    helps += static_cast<unsigned>(burst.size() / 6);
  }
  housekeeping();
  // Now the client reads everything: the session carries the buffered
  // commands out, re-arms its receive, and takes the rest.
  std::string received;
  for (int round = 0; round < 10'000; ++round) {
    const std::string out = complete_send();
    received += out;
    housekeeping();
    if (out.empty()) break;
  }
  EXPECT_TRUE(kernel_.peek(Op::ControlRecv)) << "reading resumed";
  std::size_t replies = 0;
  for (std::size_t at = received.find("214 Help OK."); at != std::string::npos;
       at = received.find("214 Help OK.", at + 1)) {
    ++replies;
  }
  EXPECT_EQ(replies, helps) << "every command delivered got its reply";
  EXPECT_EQ(received.rfind("220 test", 0), 0u) << "the banner first";
}

TEST_F(ControlSessionTest, QuitClosesThroughTheRingAfterTheLastReply) {
  ASSERT_TRUE(deliver("QUIT\r\n"));
  EXPECT_EQ(session_->phase(), ControlSession::Phase::Draining);
  std::string received;
  for (std::string out = complete_send(); !out.empty(); out = complete_send()) received += out;
  housekeeping();
  EXPECT_NE(received.find("221 Goodbye."), std::string::npos);
  EXPECT_TRUE(session_->is_finished());
  EXPECT_EQ(kernel_.close_violations(), 0u);
  EXPECT_EQ(kernel_.in_flight(), 0u);
}

// A session with the shared per-user limits, logged in through a fake auth
// reply (the request is read off the fake kernel, the root open completed by
// hand).
class UserLimitsSessionTest : public ControlSessionTest {
 protected:
  std::unique_ptr<ControlSession> make_session(int& client_fd) {
    int control[2];
    EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, control), 0);
    client_fd = control[1];
    auto cfg = std::make_shared<config::Config>(*config_);
    cfg->control.tls = config::ControlTls::Optional;
    auto s = std::make_unique<ControlSession>(
        SessionEnv{kernel_, buffers_, log_, cfg, ports_, *auth_, xferlog_, nullptr, scratch_,
                   counters_, pacer_, &limits_, 4242},
        io::OpTag{2, 1, 0}, io::UniqueFd(control[0]), loopback(40001), loopback(2121), false);
    s->start();
    return s;
  }
  // Every send the session has queued, completed; their bytes.
  std::string drain(ControlSession& s) {
    std::string out;
    while (const auto send = kernel_.take(Op::ControlSend)) {
      out.append(reinterpret_cast<const char*>(send->addr), send->len);
      s.on_completion(Op::ControlSend, static_cast<int>(send->len), 0);
    }
    return out;
  }
  bool feed(ControlSession& s, std::string_view bytes) {
    if (!kernel_.peek(Op::ControlRecv)) return false;
    const auto b = kernel_.pick_buffer(kGroup);
    if (!b) return false;
    std::memcpy(b->data, bytes.data(), bytes.size());
    s.on_completion(Op::ControlRecv, static_cast<int>(bytes.size()),
                    FakeKernel::buffer_flags(b->id, true));
    return true;
  }
  // USER + PASS, the service allows it with `max_sessions`; returns the
  // replies after the root was opened.
  std::string log_in(ControlSession& s, std::uint32_t max_sessions) {
    drain(s);
    EXPECT_TRUE(feed(s, "USER alice\r\nPASS pw\r\n"));
    drain(s);
    const auto send = kernel_.take(Op::AuthSend);
    EXPECT_TRUE(send.has_value());
    if (!send) return {};
    const auto req =
        auth::decode_request(std::span(reinterpret_cast<const std::byte*>(send->addr), send->len));
    EXPECT_TRUE(req.has_value());
    s.on_completion(Op::AuthSend, static_cast<int>(send->len), 0);
    auth::Reply reply;
    reply.request_id = req->request_id;
    reply.result = auth::Result::Allowed;
    reply.root = "/";
    reply.permissions = config::kPermReadOnly;
    reply.max_sessions = max_sessions;
    s.on_auth_reply(reply);
    const auto open = kernel_.take(Op::RootOpen);
    EXPECT_TRUE(open.has_value());
    s.on_completion(Op::RootOpen, ::open("/", O_PATH | O_DIRECTORY | O_CLOEXEC), 0);
    housekeeping_of(s);
    return drain(s);
  }
  void housekeeping_of(ControlSession& s) {
    kernel_.run_housekeeping(
        [&](Op op, int res, std::uint32_t flags) { s.on_completion(op, res, flags); });
  }

  UserLimits limits_{100};
};

TEST_F(UserLimitsSessionTest, MaxSessionsRefusesWith530AndReinGivesThePlaceBack) {
  int fd1 = -1, fd2 = -1;
  auto first = make_session(fd1);
  io::UniqueFd c1(fd1);
  EXPECT_NE(log_in(*first, 1).find("230 "), std::string::npos);
  EXPECT_EQ(limits_.sessions_of(user_key("alice")), 1u);

  auto second = make_session(fd2);
  io::UniqueFd c2(fd2);
  const std::string refused = log_in(*second, 1);
  EXPECT_NE(refused.find("530 Too many sessions for this user"), std::string::npos) << refused;
  EXPECT_EQ(second->phase(), ControlSession::Phase::Commands) << "still connected";
  EXPECT_EQ(limits_.sessions_of(user_key("alice")), 1u);

  // REIN on the first ends its login: the second may log in now.
  ASSERT_TRUE(feed(*first, "REIN\r\n"));
  drain(*first);
  housekeeping_of(*first);
  EXPECT_EQ(limits_.sessions_of(user_key("alice")), 0u);
  EXPECT_NE(log_in(*second, 1).find("230 "), std::string::npos);
  EXPECT_EQ(limits_.sessions_of(user_key("alice")), 1u);
  // The session object's end releases too (the worker frees its slot).
  second.reset();
  EXPECT_EQ(limits_.sessions_of(user_key("alice")), 0u);
}

}  // namespace
}  // namespace ringftpd::server
