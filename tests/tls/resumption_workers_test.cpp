// Required session reuse across workers: two Resumptions (two "workers") over
// one SharedTlsState, in one process and across a fork. A data connection
// landing on either worker resumes what its control connection got from the
// other, and a foreign origin is still refused.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <memory>
#include <optional>
#include <vector>

#include "tests/tls/tls_test_support.hpp"
#include "tls/context.hpp"
#include "tls/credentials.hpp"
#include "tls/loopback.hpp"
#include "tls/session.hpp"
#include "tls/shared_tls_state.hpp"

namespace ringftpd::tls {
namespace {

enum class Mode { Tls12Ticket, Tls13Ticket, Tls12SessionId };

// One worker's TLS objects over the shared state; made after fork.
struct Worker {
  Worker(std::shared_ptr<SharedTlsState> state, const Credentials& creds)
      : resumption(std::make_shared<Resumption>(std::move(state))),
        ctx(creds, ServerOptions{}, resumption) {}
  std::shared_ptr<Resumption> resumption;
  ServerContext ctx;
};

struct Connection {
  Session client;
  Session server;
};

// Handshakes in memory; the client then takes in what followed (tickets).
std::optional<Connection> connect(std::optional<Session> server, const ClientContext& client_ctx,
                                  WOLFSSL_SESSION* resume) {
  std::optional<Session> client = Session::client(client_ctx);
  if (!server || !client) return std::nullopt;
  if (resume != nullptr && !client->resume_from(resume)) return std::nullopt;
  if (!handshake_in_memory(*client, *server)) return std::nullopt;
  std::byte scratch[64];
  if (client->read_plaintext(scratch).status != IoStatus::WantIO) return std::nullopt;
  return Connection{std::move(*client), std::move(*server)};
}

std::optional<Connection> control(Worker& w, const ClientContext& client_ctx,
                                  WOLFSSL_SESSION* resume = nullptr) {
  std::optional<Session> server = Session::server(w.ctx);
  if (server) server->set_origin(w.ctx.new_origin());
  return connect(std::move(server), client_ctx, resume);
}

// The verdict on a data connection resuming `saved`; nullopt if it broke.
std::optional<ResumeCheck> data_check(Worker& w, ExpectedOrigin expected,
                                      const ClientContext& client_ctx, WOLFSSL_SESSION* saved) {
  auto dc = connect(Session::server_data(w.ctx, expected), client_ctx, saved);
  if (!dc) return std::nullopt;
  return dc->server.check_resumption();
}

std::vector<std::uint8_t> serialize(WOLFSSL_SESSION* session) {
  const int size = wolfSSL_i2d_SSL_SESSION(session, nullptr);
  if (size <= 0) return {};
  std::vector<std::uint8_t> der(static_cast<std::size_t>(size));
  unsigned char* out = der.data();
  if (wolfSSL_i2d_SSL_SESSION(session, &out) != size) return {};
  return der;
}

SslSessionPtr deserialize(const std::vector<std::uint8_t>& der) {
  const unsigned char* in = der.data();
  return SslSessionPtr(wolfSSL_d2i_SSL_SESSION(nullptr, &in, static_cast<long>(der.size())));
}

// Runs `body(write_fd)` in a child process. Returns the child's exit code
// (-1: it did not exit normally) and what it wrote to the fd.
template <class Body>
std::pair<int, std::vector<std::uint8_t>> run_in_child(Body body) {
  int fds[2];
  if (::pipe(fds) != 0) return {-1, {}};
  const pid_t pid = ::fork();
  if (pid < 0) return {-1, {}};
  if (pid == 0) {
    ::close(fds[0]);
    const int rc = body(fds[1]);
    ::close(fds[1]);
    ::_exit(rc);  // no gtest teardown, no atexit in the child
  }
  ::close(fds[1]);
  std::vector<std::uint8_t> out;
  std::uint8_t buf[4096];
  for (ssize_t n; (n = ::read(fds[0], buf, sizeof buf)) != 0;) {
    if (n < 0) {
      if (errno == EINTR) continue;
      break;
    }
    out.insert(out.end(), buf, buf + n);
  }
  ::close(fds[0]);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, std::move(out)};
}

bool write_all(int fd, const void* data, std::size_t size) {
  const auto* p = static_cast<const std::uint8_t*>(data);
  while (size > 0) {
    const ssize_t n = ::write(fd, p, size);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    p += n;
    size -= static_cast<std::size_t>(n);
  }
  return true;
}

class WorkersTest : public ::testing::TestWithParam<Mode> {
 protected:
  static void SetUpTestSuite() { creds_ = new Credentials(generate_self_signed()); }
  static void TearDownTestSuite() {
    delete creds_;
    creds_ = nullptr;
  }

  WorkersTest()
      : state_(SharedTlsState::create(SharedTlsOptions{.max_sessions = 256})),
        client_ctx_(client_options()) {}

  [[nodiscard]] ClientOptions client_options() const {
    ClientOptions o;
    o.min_version = o.max_version =
        GetParam() == Mode::Tls13Ticket ? Version::Tls13 : Version::Tls12;
    o.tls12_session_tickets = GetParam() != Mode::Tls12SessionId;
    return o;
  }

  [[nodiscard]] bool uses_ticket(WOLFSSL_SESSION* s) const {
    return (wolfSSL_SESSION_has_ticket(s) != 0) == (GetParam() != Mode::Tls12SessionId);
  }

  static Credentials* creds_;
  std::shared_ptr<SharedTlsState> state_;
  ClientContext client_ctx_;
};

Credentials* WorkersTest::creds_ = nullptr;

TEST_P(WorkersTest, WhatOneWorkerIssuesResumesOnTheOther) {
  Worker a(state_, *creds_);
  Worker b(state_, *creds_);
  auto ctrl_a = control(a, client_ctx_);
  auto ctrl_b = control(b, client_ctx_);
  ASSERT_TRUE(ctrl_a && ctrl_b);
  const SslSessionPtr from_a = ctrl_a->client.saved_session();
  const SslSessionPtr from_b = ctrl_b->client.saved_session();
  ASSERT_TRUE(from_a && from_b);
  EXPECT_TRUE(uses_ticket(from_a.get()));

  EXPECT_EQ(data_check(b, ctrl_a->server.data_origin(), client_ctx_, from_a.get()),
            ResumeCheck::Ok);
  EXPECT_EQ(data_check(a, ctrl_b->server.data_origin(), client_ctx_, from_b.get()),
            ResumeCheck::Ok);
  // Each worker refuses the other control connection's session all the same.
  EXPECT_EQ(data_check(b, ctrl_b->server.data_origin(), client_ctx_, from_a.get()),
            ResumeCheck::ForeignOrigin);
  EXPECT_EQ(data_check(a, ctrl_a->server.data_origin(), client_ctx_, from_b.get()),
            ResumeCheck::ForeignOrigin);
  if (GetParam() == Mode::Tls12SessionId) {
    EXPECT_EQ(state_->stats().hits, 4u);
    EXPECT_EQ(state_->stats().entries_in_use, 2u);
  }
}

TEST_P(WorkersTest, WhatOneProcessIssuesResumesInAnother) {
  // The parent's control connection; its client session is plain memory, so
  // the child sees a copy. The child builds its own worker after the fork.
  Worker parent(state_, *creds_);
  auto ctrl = control(parent, client_ctx_);
  ASSERT_TRUE(ctrl);
  const SslSessionPtr parent_session = ctrl->client.saved_session();
  ASSERT_TRUE(parent_session && uses_ticket(parent_session.get()));
  const ExpectedOrigin parent_origin = ctrl->server.data_origin();

  const auto [rc, message] = run_in_child([&](int fd) {
    Worker child(state_, *creds_);
    // Sealed (or cached) by the parent, opened here.
    if (data_check(child, parent_origin, client_ctx_, parent_session.get()) != ResumeCheck::Ok) {
      return 10;
    }
    if (data_check(child, ExpectedOrigin(parent_origin.own + 1), client_ctx_,
                   parent_session.get()) != ResumeCheck::ForeignOrigin) {
      return 11;
    }
    // Issued here, for the parent to resume.
    auto own = control(child, client_ctx_);
    if (!own) return 12;
    const SslSessionPtr saved = own->client.saved_session();
    const std::vector<std::uint8_t> der =
        saved ? serialize(saved.get()) : std::vector<std::uint8_t>{};
    const std::uint64_t origin = own->server.origin();
    if (der.empty() || !write_all(fd, &origin, sizeof origin) ||
        !write_all(fd, der.data(), der.size())) {
      return 13;
    }
    return 0;
  });
  ASSERT_EQ(rc, 0) << "the child's check failed";
  ASSERT_GT(message.size(), sizeof(std::uint64_t));
  std::uint64_t child_origin = 0;
  std::memcpy(&child_origin, message.data(), sizeof child_origin);
  const SslSessionPtr child_session =
      deserialize(std::vector<std::uint8_t>(message.begin() + sizeof child_origin, message.end()));
  ASSERT_TRUE(child_session);
  EXPECT_TRUE(uses_ticket(child_session.get()));
  EXPECT_EQ(data_check(parent, ExpectedOrigin(child_origin), client_ctx_, child_session.get()),
            ResumeCheck::Ok);
  EXPECT_EQ(data_check(parent, parent_origin, client_ctx_, child_session.get()),
            ResumeCheck::ForeignOrigin);
}

INSTANTIATE_TEST_SUITE_P(Modes, WorkersTest,
                         ::testing::Values(Mode::Tls12Ticket, Mode::Tls13Ticket,
                                           Mode::Tls12SessionId),
                         [](const auto& info) {
                           switch (info.param) {
                             case Mode::Tls12Ticket:
                               return "Tls12Ticket";
                             case Mode::Tls13Ticket:
                               return "Tls13Ticket";
                             case Mode::Tls12SessionId:
                               return "Tls12SessionId";
                           }
                           return "?";
                         });

}  // namespace
}  // namespace ringftpd::tls
