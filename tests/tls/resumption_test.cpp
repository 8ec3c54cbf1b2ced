// Required session reuse, end to end in memory: control connections issue
// tickets (and TLS 1.2 session IDs) bound to their origin; data connections
// resume them, and check_resumption() tells own from foreign from none.
#include <gtest/gtest.h>

#include <memory>
#include <optional>
#include <random>
#include <vector>

#include "tests/tls/tls_test_support.hpp"
#include "tls/context.hpp"
#include "tls/credentials.hpp"
#include "tls/loopback.hpp"
#include "tls/session.hpp"

namespace ringftpd::tls {
namespace {

// A client and a server Session that completed a handshake.
struct Connection {
  Session client;
  Session server;
  std::size_t server_bytes_at_done = 0;  // what the server sent in the call that finished
};

class ResumptionTest : public ::testing::TestWithParam<Version> {
 protected:
  static void SetUpTestSuite() { creds_ = new Credentials(generate_self_signed()); }
  static void TearDownTestSuite() {
    delete creds_;
    creds_ = nullptr;
  }

  explicit ResumptionTest(SharedTlsOptions options = {.max_sessions = 1024})
      : state_(SharedTlsState::create(options)),
        resumption_(std::make_shared<Resumption>(state_)),
        server_ctx_(*creds_, ServerOptions{}, resumption_),
        client_ctx_(client_options(/*tickets=*/true)) {}

  [[nodiscard]] Version version() const { return GetParam(); }

  [[nodiscard]] ClientOptions client_options(bool tickets) const {
    ClientOptions o;
    o.min_version = o.max_version = version();
    o.tls12_session_tickets = tickets;
    return o;
  }

  // Drives both sides to Done, recording what the server sent in its last
  // handshake call (after the client's Finished: TLS 1.3 tickets, if any).
  static std::optional<Connection> connect(std::optional<Session> server,
                                           const ClientContext& client_ctx,
                                           WOLFSSL_SESSION* resume = nullptr) {
    std::optional<Session> client = Session::client(client_ctx);
    if (client && resume != nullptr) {
      EXPECT_TRUE(client->resume_from(resume));
    }
    return connect(std::move(server), std::move(client));
  }
  static std::optional<Connection> connect(std::optional<Session> server,
                                           std::optional<Session> client) {
    if (!server || !client) return std::nullopt;
    Connection c{std::move(*client), std::move(*server)};
    for (int round = 0; round < 16; ++round) {
      const HandshakeStatus cs = c.client.handshake();
      pump(c.client, c.server);
      const bool was_done = c.server.is_handshake_done();
      const HandshakeStatus ss = c.server.handshake();
      if (!was_done && ss == HandshakeStatus::Done) {
        c.server_bytes_at_done = c.server.pending_ciphertext().size();
      }
      pump(c.server, c.client);
      if (cs == HandshakeStatus::Failed || ss == HandshakeStatus::Failed) break;
      if (cs == HandshakeStatus::Done && ss == HandshakeStatus::Done) {
        read_nothing(c.client);  // takes in what followed (TLS 1.3 tickets)
        return c;
      }
    }
    ADD_FAILURE() << "handshake: " << c.client.last_error_text() << " / "
                  << c.server.last_error_text();
    return std::nullopt;
  }

  // wolfSSL's TLS 1.2 *client* takes any ServerHello as accepting the ticket
  // it offered (DSH_CheckSessionId in 5.5.4), so it cannot follow a server
  // that refuses one (OpenSSL and GnuTLS clients can). For TLS 1.2 the tests
  // therefore check the server's answer to the ClientHello: not a failure,
  // and a full handshake (a Certificate message in its first flight).
  static bool server_answers_with_full_handshake(Session& client, Session& server) {
    (void)client.handshake();
    pump(client, server);
    if (server.handshake() != HandshakeStatus::WantIO) return false;
    const auto flight = server.pending_ciphertext();
    std::size_t at = 0;
    while (at + 5 <= flight.size()) {  // plaintext handshake records, up to ChangeCipherSpec
      const auto type = std::to_integer<int>(flight[at]);
      const std::size_t len = (std::to_integer<std::size_t>(flight[at + 3]) << 8) |
                              std::to_integer<std::size_t>(flight[at + 4]);
      if (type != 22 || at + 5 + len > flight.size()) break;
      for (std::size_t m = at + 5; m + 4 <= at + 5 + len;) {
        if (std::to_integer<int>(flight[m]) == 11) return true;  // Certificate
        m += 4 + ((std::to_integer<std::size_t>(flight[m + 1]) << 16) |
                  (std::to_integer<std::size_t>(flight[m + 2]) << 8) |
                  std::to_integer<std::size_t>(flight[m + 3]));
      }
      at += 5 + len;
    }
    return false;
  }

  // A stale or bad ticket: the server must fall back to a full handshake.
  void expect_full_handshake(Session client, ExpectedOrigin expected) {
    auto server = Session::server_data(server_ctx_, expected);
    ASSERT_TRUE(server);
    if (version() == Version::Tls12) {
      EXPECT_TRUE(server_answers_with_full_handshake(client, *server)) << server->last_error_text();
      EXPECT_FALSE(server->is_failed());
      return;
    }
    auto dc = connect(std::move(server), std::move(client));
    ASSERT_TRUE(dc);  // not a failure
    EXPECT_EQ(dc->server.check_resumption(), ResumeCheck::NotResumed);
  }

  // The client reads; only handshake messages may be waiting.
  static void read_nothing(Session& s) {
    std::byte buf[64];
    EXPECT_EQ(s.read_plaintext(buf).status, IoStatus::WantIO) << s.last_error_text();
  }

  std::optional<Connection> control(WOLFSSL_SESSION* resume = nullptr) {
    return control_with(client_ctx_, resume);
  }
  std::optional<Connection> control_with(const ClientContext& client_ctx,
                                         WOLFSSL_SESSION* resume = nullptr) {
    std::optional<Session> server = Session::server(server_ctx_);
    if (server) server->set_origin(server_ctx_.new_origin());
    return connect(std::move(server), client_ctx, resume);
  }
  std::optional<Connection> data(ExpectedOrigin expected, WOLFSSL_SESSION* resume,
                                 const ClientContext* client_ctx = nullptr) {
    return connect(Session::server_data(server_ctx_, expected),
                   client_ctx != nullptr ? *client_ctx : client_ctx_, resume);
  }

  static Credentials* creds_;
  std::shared_ptr<SharedTlsState> state_;
  std::shared_ptr<Resumption> resumption_;
  ServerContext server_ctx_;
  ClientContext client_ctx_;
};

Credentials* ResumptionTest::creds_ = nullptr;

TEST_P(ResumptionTest, OwnControlTicketResumesOnTheDataConnection) {
  auto ctrl = control();
  ASSERT_TRUE(ctrl);
  EXPECT_NE(ctrl->server.origin(), 0u);
  const SslSessionPtr saved = ctrl->client.saved_session();
  ASSERT_TRUE(saved);
  EXPECT_TRUE(wolfSSL_SESSION_has_ticket(saved.get()));
  EXPECT_EQ(wolfSSL_SESSION_get_ticket_lifetime_hint(saved.get()), 8u * 3600);

  auto dc = data(ctrl->server.data_origin(), saved.get());
  ASSERT_TRUE(dc);
  EXPECT_TRUE(dc->server.is_resumed());
  EXPECT_EQ(dc->server.check_resumption(), ResumeCheck::Ok);
  EXPECT_EQ(ctrl->server.check_resumption(), ResumeCheck::NotResumed);  // full handshake
}

TEST_P(ResumptionTest, DataConnectionWithoutASessionIsNotResumed) {
  auto ctrl = control();
  ASSERT_TRUE(ctrl);
  auto dc = data(ctrl->server.data_origin(), nullptr);
  ASSERT_TRUE(dc);  // the handshake itself succeeds; the server replies 522
  EXPECT_EQ(dc->server.check_resumption(), ResumeCheck::NotResumed);
  EXPECT_EQ(describe(ResumeCheck::NotResumed), "full handshake, no session resumed");
}

TEST_P(ResumptionTest, AnotherControlConnectionsTicketIsForeign) {
  auto a = control();
  auto b = control();
  ASSERT_TRUE(a && b);
  EXPECT_NE(a->server.origin(), b->server.origin());
  const SslSessionPtr b_session = b->client.saved_session();
  auto dc = data(a->server.data_origin(), b_session.get());
  ASSERT_TRUE(dc);
  EXPECT_TRUE(dc->server.is_resumed());
  EXPECT_EQ(dc->server.check_resumption(), ResumeCheck::ForeignOrigin);
}

TEST_P(ResumptionTest, RetiredKeyOpensUntilRetirementPlusLifetime) {
  auto ctrl = control();
  ASSERT_TRUE(ctrl);
  const SslSessionPtr saved = ctrl->client.saved_session();
  const auto rotation = state_->options().ticket_key_rotation;
  const auto lifetime = state_->options().session_lifetime;
  // The master's clock runs ahead: the ring's times are all in the future.
  const SteadyTime retired = std::chrono::steady_clock::now() + rotation;
  ASSERT_EQ(state_->rotate_ticket_keys_if_due(retired - std::chrono::seconds{1}),
            KeyRotation::NotDue);
  ASSERT_EQ(state_->rotate_ticket_keys_if_due(retired), KeyRotation::Rotated);
  ASSERT_EQ(state_->rotate_ticket_keys_if_due(retired + rotation), KeyRotation::Rotated);
  ASSERT_EQ(state_->rotate_ticket_keys_if_due(retired + lifetime - std::chrono::seconds{1}),
            KeyRotation::Rotated);
  EXPECT_EQ(state_->stats().ticket_keys_live, 4u);  // its key is retired, not dropped
  auto still = data(ctrl->server.data_origin(), saved.get());
  ASSERT_TRUE(still);
  EXPECT_EQ(still->server.check_resumption(), ResumeCheck::Ok);
  if (version() == Version::Tls12) {  // the probe below tells the two apart
    auto client = Session::client(client_ctx_);
    auto server = Session::server_data(server_ctx_, ctrl->server.data_origin());
    ASSERT_TRUE(client && server && client->resume_from(saved.get()));
    EXPECT_FALSE(server_answers_with_full_handshake(*client, *server));
  }

  ASSERT_EQ(state_->rotate_ticket_keys_if_due(retired + lifetime), KeyRotation::NotDue);
  EXPECT_EQ(state_->stats().ticket_keys_live, 3u);  // and now gone
  auto client = Session::client(client_ctx_);
  ASSERT_TRUE(client && client->resume_from(saved.get()));
  expect_full_handshake(std::move(*client), ctrl->server.data_origin());
}

TEST_P(ResumptionTest, AControlConnectionResumesARetiredKeysTicket) {
  auto first = control();
  ASSERT_TRUE(first);
  const SslSessionPtr saved = first->client.saved_session();
  ASSERT_EQ(state_->rotate_ticket_keys_if_due(std::chrono::steady_clock::now() +
                                              state_->options().ticket_key_rotation),
            KeyRotation::Rotated);
  auto second = control(saved.get());
  ASSERT_TRUE(second);
  EXPECT_TRUE(second->server.is_resumed());
  const SslSessionPtr later = second->client.saved_session();
  ASSERT_TRUE(later && wolfSSL_SESSION_has_ticket(later.get()));
  const auto key_id = [this](WOLFSSL_SESSION* s) -> std::uint32_t {
    auto client = Session::client(client_ctx_);  // the ticket, as the client would send it
    unsigned char ticket[2048];
    word32 len = sizeof ticket;
    if (!client || !client->resume_from(s) ||
        wolfSSL_get_SessionTicket(client->native_handle(), ticket, &len) != WOLFSSL_SUCCESS ||
        len < 4) {
      return 0;
    }
    return (std::uint32_t{ticket[0]} << 24) | (std::uint32_t{ticket[1]} << 16) |
           (std::uint32_t{ticket[2]} << 8) | ticket[3];  // key_name starts with the key id
  };
  // TLS 1.3 always issues a new ticket, under the current key. For TLS 1.2
  // the callback asks for a swap (WOLFSSL_TICKET_RET_CREATE), which wolfSSL
  // before 5.6.0 drops ("Fix to propagate WOLFSSL_TICKET_RET_CREATE", 5.6.0
  // release notes): the client keeps its old ticket, which opens until its
  // key's time is up. Either way, no ticket under a third key.
  const std::uint32_t now_under = key_id(later.get());
  if (version() == Version::Tls13 || now_under != key_id(saved.get())) {
    EXPECT_EQ(now_under, resumption_->ticket_keys().current());
  }
  // Still the first control connection's lineage under TLS 1.2 (the secret is
  // kept); under TLS 1.3, the second one's.
  const ExpectedOrigin lineage =
      version() == Version::Tls12 ? first->server.data_origin() : second->server.data_origin();
  auto dc = data(lineage, later.get());
  ASSERT_TRUE(dc);
  EXPECT_EQ(dc->server.check_resumption(), ResumeCheck::Ok);
}

TEST_P(ResumptionTest, TamperedTicketGetsAFullHandshake) {
  auto ctrl = control();
  ASSERT_TRUE(ctrl);
  const SslSessionPtr saved = ctrl->client.saved_session();
  // A ticket is key_name (16) | iv (16) | length (2) | sealed state | mac (32),
  // and mac is tag (16) | masked origin (8) | zeros (8).
  for (const int from_end : {0, 12, 4}) {
    auto client = Session::client(client_ctx_);
    ASSERT_TRUE(client && client->resume_from(saved.get()));
    unsigned char ticket[2048];
    word32 size = sizeof ticket;
    ASSERT_EQ(wolfSSL_get_SessionTicket(client->native_handle(), ticket, &size), WOLFSSL_SUCCESS);
    ASSERT_GT(size, 100u);
    // 0: inside key_name's random bytes; 12: the masked origin; 4: the zeros.
    // All authenticated, none may pass for another ticket.
    ticket[from_end == 0 ? 5 : size - static_cast<word32>(from_end)] ^= 0x01;
    ASSERT_EQ(wolfSSL_set_SessionTicket(client->native_handle(), ticket, size), WOLFSSL_SUCCESS);
    expect_full_handshake(std::move(*client), ctrl->server.data_origin());
  }
}

TEST_P(ResumptionTest, DataConnectionsSendNoTicket) {
  auto ctrl = control();
  ASSERT_TRUE(ctrl);
  if (version() == Version::Tls13) {
    EXPECT_GT(ctrl->server_bytes_at_done, 0u);  // the control connection's ticket
  }
  const SslSessionPtr saved = ctrl->client.saved_session();
  auto resumed = data(ctrl->server.data_origin(), saved.get());
  ASSERT_TRUE(resumed);
  EXPECT_EQ(resumed->server.check_resumption(), ResumeCheck::Ok);
  EXPECT_EQ(resumed->server_bytes_at_done, 0u);  // nothing after the client's Finished

  auto full = data(ctrl->server.data_origin(), nullptr);
  ASSERT_TRUE(full);
  if (version() == Version::Tls13) {
    EXPECT_EQ(full->server_bytes_at_done, 0u);
    const SslSessionPtr got = full->client.saved_session();
    ASSERT_TRUE(got);
    EXPECT_FALSE(wolfSSL_SESSION_has_ticket(got.get()));
  }
  EXPECT_EQ(full->server.send_ticket(), IoStatus::Ok);  // refused quietly
  EXPECT_TRUE(full->server.pending_ciphertext().empty());
}

TEST_P(ResumptionTest, SendTicketOnDemandGivesAUsableTicket) {
  auto ctrl = control();
  ASSERT_TRUE(ctrl);
  ASSERT_TRUE(ctrl->server.pending_ciphertext().empty());
  ASSERT_EQ(ctrl->server.send_ticket(), IoStatus::Ok);  // while handling PASV
  if (version() == Version::Tls12) {
    EXPECT_TRUE(ctrl->server.pending_ciphertext().empty());  // 1.2: with the handshake only
    return;
  }
  EXPECT_FALSE(ctrl->server.pending_ciphertext().empty());
  const SslSessionPtr before = ctrl->client.saved_session();
  pump(ctrl->server, ctrl->client);
  read_nothing(ctrl->client);
  const SslSessionPtr fresh = ctrl->client.saved_session();
  ASSERT_TRUE(before && fresh);
  EXPECT_NE(wolfSSL_SESSION_get_time(fresh.get()), 0);
  auto dc = data(ctrl->server.data_origin(), fresh.get());
  ASSERT_TRUE(dc);
  EXPECT_EQ(dc->server.check_resumption(), ResumeCheck::Ok);
}

TEST_P(ResumptionTest, OneMebibyteOverAResumedDataConnection) {
  auto ctrl = control();
  ASSERT_TRUE(ctrl);
  const SslSessionPtr saved = ctrl->client.saved_session();
  auto dc = data(ctrl->server.data_origin(), saved.get());
  ASSERT_TRUE(dc);
  ASSERT_EQ(dc->server.check_resumption(), ResumeCheck::Ok);

  std::vector<std::byte> sent(1 << 20);
  std::mt19937 gen(7);
  for (auto& b : sent) b = static_cast<std::byte>(gen());
  ASSERT_EQ(dc->server.write_plaintext(sent).status, IoStatus::Ok);
  ASSERT_EQ(dc->server.shutdown(), IoStatus::Ok);
  pump(dc->server, dc->client);
  std::vector<std::byte> got;
  std::vector<std::byte> buf(20000);
  for (;;) {
    const IoResult r = dc->client.read_plaintext(buf);
    if (r.status != IoStatus::Ok) {
      EXPECT_EQ(r.status, IoStatus::Closed) << dc->client.last_error_text();
      break;
    }
    got.insert(got.end(), buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(r.bytes));
  }
  EXPECT_TRUE(got == sent);
}

TEST_P(ResumptionTest, AControlConnectionThatResumedVouchesForItsSession) {
  // FileZilla opens more control connections resuming the first one's session.
  auto first = control();
  ASSERT_TRUE(first);
  const SslSessionPtr first_session = first->client.saved_session();
  auto second = control(first_session.get());
  ASSERT_TRUE(second);
  ASSERT_TRUE(second->server.is_resumed());
  const ExpectedOrigin expected = second->server.data_origin();
  EXPECT_EQ(expected.own, second->server.origin());
  EXPECT_EQ(expected.inherited, first->server.origin());

  auto with_first = data(expected, first_session.get());
  ASSERT_TRUE(with_first);
  EXPECT_EQ(with_first->server.check_resumption(), ResumeCheck::Ok);
  const SslSessionPtr second_session = second->client.saved_session();
  auto with_second = data(expected, second_session.get());
  ASSERT_TRUE(with_second);
  EXPECT_EQ(with_second->server.check_resumption(), ResumeCheck::Ok);

  auto stranger = control();
  ASSERT_TRUE(stranger);
  auto refused = data(stranger->server.data_origin(), first_session.get());
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->server.check_resumption(), ResumeCheck::ForeignOrigin);
}

TEST_P(ResumptionTest, ADataConnectionsOwnSessionResumesToo) {
  // Some clients resume the previous data connection's session. Under TLS 1.3
  // a data connection gives the client no ticket of its own to resume (and
  // wolfSSL's client would offer the old ticket with the new secret).
  if (version() == Version::Tls13) GTEST_SKIP() << "TLS 1.2 only";
  auto ctrl = control();
  ASSERT_TRUE(ctrl);
  const SslSessionPtr saved = ctrl->client.saved_session();
  auto first = data(ctrl->server.data_origin(), saved.get());
  ASSERT_TRUE(first);
  const SslSessionPtr from_data = first->client.saved_session();
  auto second = data(ctrl->server.data_origin(), from_data.get());
  ASSERT_TRUE(second);
  EXPECT_EQ(second->server.check_resumption(), ResumeCheck::Ok);
}

TEST_P(ResumptionTest, SessionsOutliveTheirContextObject) {
  // A certificate reload: a new context over the same Resumption.
  auto ctrl = control();
  ASSERT_TRUE(ctrl);
  const SslSessionPtr saved = ctrl->client.saved_session();
  auto data_server = Session::server_data(server_ctx_, ctrl->server.data_origin());
  server_ctx_ = ServerContext(*creds_, ServerOptions{}, resumption_);
  auto dc = connect(std::move(data_server), client_ctx_, saved.get());
  ASSERT_TRUE(dc);
  EXPECT_EQ(dc->server.check_resumption(), ResumeCheck::Ok);
  auto later = data(ctrl->server.data_origin(), saved.get());  // the new context
  ASSERT_TRUE(later);
  EXPECT_EQ(later->server.check_resumption(), ResumeCheck::Ok);
}

INSTANTIATE_TEST_SUITE_P(Versions, ResumptionTest,
                         ::testing::Values(Version::Tls12, Version::Tls13), [](const auto& info) {
                           return info.param == Version::Tls12 ? "Tls12" : "Tls13";
                         });

// One session cache entry only: tickets carry their origin, so they resume
// whatever the cache forgets.
class TinyCacheTest : public ResumptionTest {
 protected:
  TinyCacheTest() : ResumptionTest(SharedTlsOptions{.max_sessions = 1}) {}
};

TEST_P(TinyCacheTest, ATicketKeepsItsOriginWhateverTheCacheForgets) {
  auto a = control();
  ASSERT_TRUE(a);
  const SslSessionPtr saved = a->client.saved_session();
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(control());
  auto dc = data(a->server.data_origin(), saved.get());
  ASSERT_TRUE(dc);
  EXPECT_TRUE(dc->server.is_resumed());
  EXPECT_EQ(dc->server.check_resumption(), ResumeCheck::Ok);
}

INSTANTIATE_TEST_SUITE_P(Versions, TinyCacheTest, ::testing::Values(Version::Tls12, Version::Tls13),
                         [](const auto& info) {
                           return info.param == Version::Tls12 ? "Tls12" : "Tls13";
                         });

// TLS 1.2 clients that do not ask for tickets resume by session ID, through
// the external session cache.
class SessionIdTest : public ResumptionTest {
 protected:
  SessionIdTest() : no_tickets_(client_options(/*tickets=*/false)) {}
  ClientContext no_tickets_;
};

TEST_P(SessionIdTest, OwnSessionIdResumesForeignIsRefused) {
  auto a = control_with(no_tickets_);
  auto b = control_with(no_tickets_);
  ASSERT_TRUE(a && b);
  const SslSessionPtr a_session = a->client.saved_session();
  const SslSessionPtr b_session = b->client.saved_session();
  ASSERT_TRUE(a_session && b_session);
  EXPECT_FALSE(wolfSSL_SESSION_has_ticket(a_session.get()));

  auto own = data(a->server.data_origin(), a_session.get(), &no_tickets_);
  ASSERT_TRUE(own);
  EXPECT_TRUE(own->server.is_resumed());
  EXPECT_EQ(own->server.check_resumption(), ResumeCheck::Ok);

  auto foreign = data(a->server.data_origin(), b_session.get(), &no_tickets_);
  ASSERT_TRUE(foreign);
  EXPECT_EQ(foreign->server.check_resumption(), ResumeCheck::ForeignOrigin);
}

TEST_P(SessionIdTest, CachedSessionSurvivesTheConnectionThatMadeIt) {
  // wolfSSL calls a session cache's remove callback whenever it frees a
  // session object; the store must not lose the entry when a connection ends.
  std::optional<Connection> a = control_with(no_tickets_);
  ASSERT_TRUE(a);
  const SslSessionPtr saved = a->client.saved_session();
  const ExpectedOrigin expected = a->server.data_origin();
  a.reset();
  for (int i = 0; i < 2; ++i) {  // a lookup frees a session object too
    auto dc = data(expected, saved.get(), &no_tickets_);
    ASSERT_TRUE(dc);
    EXPECT_EQ(dc->server.check_resumption(), ResumeCheck::Ok);
  }
}

TEST_P(SessionIdTest, AFullHandshakeOnADataConnectionVouchesForNothing) {
  auto ctrl = control_with(no_tickets_);
  ASSERT_TRUE(ctrl);
  auto full = data(ctrl->server.data_origin(), nullptr, &no_tickets_);
  ASSERT_TRUE(full);
  const SslSessionPtr laundered = full->client.saved_session();
  auto dc = data(ctrl->server.data_origin(), laundered.get(), &no_tickets_);
  ASSERT_TRUE(dc);
  EXPECT_EQ(dc->server.check_resumption(), ResumeCheck::UnknownOrigin);
}

TEST_P(SessionIdTest, AControlConnectionWithoutOriginStillResumes) {
  // Its sessions resume (as before origins existed), of unknown origin.
  auto server = Session::server(server_ctx_);
  auto ctrl = connect(std::move(server), no_tickets_);
  ASSERT_TRUE(ctrl);
  EXPECT_EQ(ctrl->server.origin(), 0u);
  const SslSessionPtr saved = ctrl->client.saved_session();
  auto dc = data(ctrl->server.data_origin(), saved.get(), &no_tickets_);
  ASSERT_TRUE(dc);
  EXPECT_TRUE(dc->server.is_resumed());
  EXPECT_EQ(dc->server.check_resumption(), ResumeCheck::UnknownOrigin);
}

TEST_P(SessionIdTest, ARemovedSessionGetsAFullHandshake) {
  auto ctrl = control_with(no_tickets_);
  ASSERT_TRUE(ctrl);
  const SslSessionPtr saved = ctrl->client.saved_session();
  unsigned int id_len = 0;
  const unsigned char* id = wolfSSL_SESSION_get_id(saved.get(), &id_len);
  ASSERT_GT(id_len, 0u);
  EXPECT_TRUE(state_->remove_session(std::span<const std::uint8_t>(id, id_len)));
  auto dc = data(ctrl->server.data_origin(), saved.get(), &no_tickets_);
  ASSERT_TRUE(dc);
  EXPECT_EQ(dc->server.check_resumption(), ResumeCheck::NotResumed);
}

INSTANTIATE_TEST_SUITE_P(Tls12, SessionIdTest, ::testing::Values(Version::Tls12),
                         [](const auto&) { return "Tls12"; });

TEST(ResumptionOptionsTest, LifetimeMustFitTls13) {
  const Credentials creds = generate_self_signed();
  ServerOptions zero;
  zero.session_lifetime = std::chrono::seconds{0};
  EXPECT_THROW((void)ServerContext(creds, zero), TlsError);
  ServerOptions too_long;
  too_long.session_lifetime = std::chrono::hours(24 * 8);
  EXPECT_THROW((void)ServerContext(creds, too_long), TlsError);
}

TEST(ExpectedOriginTest, ZeroMatchesNothing) {
  EXPECT_FALSE(ExpectedOrigin{}.matches(0));
  EXPECT_FALSE(ExpectedOrigin(5).matches(0));
  EXPECT_TRUE(ExpectedOrigin(5).matches(5));
  EXPECT_TRUE(ExpectedOrigin(5, 9).matches(9));
  EXPECT_FALSE(ExpectedOrigin(5, 9).matches(6));
}

}  // namespace
}  // namespace ringftpd::tls
