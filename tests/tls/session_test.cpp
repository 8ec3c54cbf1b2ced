#include "tls/session.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "tests/tls/tls_test_support.hpp"
#include "tls/context.hpp"
#include "tls/credentials.hpp"
#include "tls/loopback.hpp"

namespace ringftpd::tls {
namespace {

using ::testing::HasSubstr;

std::span<const std::byte> as_bytes(std::string_view s) {
  return std::as_bytes(std::span<const char>(s.data(), s.size()));
}

std::vector<std::byte> random_bytes(std::size_t n, unsigned seed) {
  std::mt19937 gen(seed);
  std::vector<std::byte> v(n);
  for (auto& b : v) b = static_cast<std::byte>(gen());
  return v;
}

class SessionTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { creds_ = new Credentials(generate_self_signed()); }
  static void TearDownTestSuite() {
    delete creds_;
    creds_ = nullptr;
  }

  static ServerContext server_context(ServerOptions options = {}) {
    return ServerContext(*creds_, options);
  }
  static ClientOptions client_options(Version min, Version max) {
    ClientOptions o;
    o.min_version = min;
    o.max_version = max;
    return o;
  }

  // Streams `data` from `writer` to `reader` in chunks, pumping as a network
  // would; returns what the reader got.
  static std::vector<std::byte> transfer(Session& writer, Session& reader,
                                         std::span<const std::byte> data) {
    std::vector<std::byte> got;
    got.reserve(data.size());
    std::vector<std::byte> buf(20000);  // not a multiple of the record size
    std::size_t sent = 0;
    for (int idle = 0; got.size() < data.size() && idle < 3;) {
      const std::size_t before = got.size();
      if (sent < data.size()) {
        const std::size_t n = std::min<std::size_t>(70000, data.size() - sent);
        const IoResult w = writer.write_plaintext(data.subspan(sent, n));
        EXPECT_EQ(w.status, IoStatus::Ok) << writer.last_error_text();
        if (w.status != IoStatus::Ok) break;
        sent += w.bytes;
      }
      pump(writer, reader);
      for (;;) {
        const IoResult r = reader.read_plaintext(buf);
        if (r.status != IoStatus::Ok) {
          EXPECT_EQ(r.status, IoStatus::WantIO) << reader.last_error_text();
          break;
        }
        got.insert(got.end(), buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(r.bytes));
      }
      pump(reader, writer);  // anything the reader had to say (tickets, alerts)
      idle = (got.size() == before && sent == data.size()) ? idle + 1 : 0;
    }
    return got;
  }

  static Credentials* creds_;
};

Credentials* SessionTest::creds_ = nullptr;

struct VersionCase {
  Version version;
  const char* wire_name;
  friend void PrintTo(const VersionCase& c, std::ostream* os) { *os << c.wire_name; }
};

class SessionVersionTest : public SessionTest, public ::testing::WithParamInterface<VersionCase> {};

TEST_P(SessionVersionTest, HandshakeCompletes) {
  const auto server_ctx = server_context();
  const ClientContext client_ctx(client_options(GetParam().version, GetParam().version));
  auto server = Session::server(server_ctx);
  auto client = Session::client(client_ctx, "localhost");
  ASSERT_TRUE(server && client);
  EXPECT_FALSE(server->is_handshake_done());
  ASSERT_TRUE(handshake_in_memory(*client, *server))
      << client->last_error_text() << " / " << server->last_error_text();
  EXPECT_TRUE(server->is_handshake_done());
  EXPECT_EQ(server->protocol_version(), GetParam().wire_name);
  EXPECT_EQ(client->protocol_version(), GetParam().wire_name);
  EXPECT_EQ(server->cipher_suite(), client->cipher_suite());
  EXPECT_THAT(std::string(server->cipher_suite()), HasSubstr("GCM"));  // server's order
  EXPECT_TRUE(server->alpn_protocol().empty());
  EXPECT_FALSE(server->is_resumed());
}

TEST_P(SessionVersionTest, OneMebibyteRoundtripsBothWays) {
  const auto server_ctx = server_context();
  const ClientContext client_ctx(client_options(GetParam().version, GetParam().version));
  auto server = Session::server(server_ctx);
  auto client = Session::client(client_ctx);
  ASSERT_TRUE(server && client);
  ASSERT_TRUE(handshake_in_memory(*client, *server));

  const auto down = random_bytes(1 << 20, 1);
  EXPECT_TRUE(transfer(*server, *client, down) == down);
  const auto up = random_bytes((1 << 20) + 7, 2);
  EXPECT_TRUE(transfer(*client, *server, up) == up);
}

TEST_P(SessionVersionTest, CloseNotifyIsSeenByThePeer) {
  const auto server_ctx = server_context();
  const ClientContext client_ctx(client_options(GetParam().version, GetParam().version));
  auto server = Session::server(server_ctx);
  auto client = Session::client(client_ctx);
  ASSERT_TRUE(server && client);
  ASSERT_TRUE(handshake_in_memory(*client, *server));

  // A download: data, then the server's close_notify.
  ASSERT_EQ(server->write_plaintext(as_bytes("226 bytes")).status, IoStatus::Ok);
  ASSERT_EQ(server->shutdown(), IoStatus::Ok);
  EXPECT_EQ(server->shutdown(), IoStatus::Ok);  // idempotent
  pump(*server, *client);

  std::byte buf[64];
  const IoResult data = client->read_plaintext(buf);
  ASSERT_EQ(data.status, IoStatus::Ok);
  EXPECT_EQ(std::string_view(reinterpret_cast<const char*>(buf), data.bytes), "226 bytes");
  EXPECT_FALSE(client->peer_closed());
  EXPECT_EQ(client->read_plaintext(buf).status, IoStatus::Closed);
  EXPECT_TRUE(client->peer_closed());
  EXPECT_EQ(client->read_plaintext(buf).status, IoStatus::Closed);

  // The client answers with its own.
  EXPECT_EQ(client->shutdown(), IoStatus::Ok);
  pump(*client, *server);
  EXPECT_EQ(server->read_plaintext(buf).status, IoStatus::Closed) << server->last_error_text();
  EXPECT_TRUE(server->peer_closed());
}

TEST_P(SessionVersionTest, TruncationIsNotAClose) {
  const auto server_ctx = server_context();
  const ClientContext client_ctx(client_options(GetParam().version, GetParam().version));
  auto server = Session::server(server_ctx);
  auto client = Session::client(client_ctx);
  ASSERT_TRUE(server && client);
  ASSERT_TRUE(handshake_in_memory(*client, *server));
  ASSERT_EQ(client->write_plaintext(as_bytes("partial upload")).status, IoStatus::Ok);
  pump(*client, *server);
  std::byte buf[64];
  EXPECT_EQ(server->read_plaintext(buf).status, IoStatus::Ok);
  EXPECT_EQ(server->read_plaintext(buf).status, IoStatus::WantIO);
  EXPECT_FALSE(server->peer_closed());  // a FIN now would be a truncation
}

INSTANTIATE_TEST_SUITE_P(Versions, SessionVersionTest,
                         ::testing::Values(VersionCase{Version::Tls12, "TLSv1.2"},
                                           VersionCase{Version::Tls13, "TLSv1.3"}),
                         [](const auto& info) {
                           return info.param.version == Version::Tls12 ? "Tls12" : "Tls13";
                         });

TEST_F(SessionTest, GarbageInsteadOfClientHelloFails) {
  const auto server_ctx = server_context();
  auto server = Session::server(server_ctx);
  ASSERT_TRUE(server);
  server->feed_ciphertext(as_bytes("USER anonymous\r\nPASS x\r\n"));
  EXPECT_EQ(server->handshake(), HandshakeStatus::Failed);
  EXPECT_TRUE(server->is_failed());
  EXPECT_TRUE(server->received_non_tls());
  EXPECT_THAT(server->last_error_text(), HasSubstr("handshake: wolfSSL error"));
  EXPECT_EQ(server->handshake(), HandshakeStatus::Failed);  // sticky
  std::byte buf[16];
  EXPECT_EQ(server->read_plaintext(buf).status, IoStatus::Failed);
}

TEST_F(SessionTest, WriteAfterShutdownIsACallerBug) {
  const auto server_ctx = server_context();
  const ClientContext client_ctx;
  auto server = Session::server(server_ctx);
  auto client = Session::client(client_ctx);
  ASSERT_TRUE(server && client);
  ASSERT_TRUE(handshake_in_memory(*client, *server));
  ASSERT_EQ(server->shutdown(), IoStatus::Ok);
  EXPECT_EQ(server->write_plaintext(as_bytes("late")).status, IoStatus::Failed);
  EXPECT_THAT(server->last_error_text(), HasSubstr("write after shutdown"));
}

TEST_F(SessionTest, GarbageAfterClientHelloFailsMidway) {
  const auto server_ctx = server_context();
  const ClientContext client_ctx;
  auto server = Session::server(server_ctx);
  auto client = Session::client(client_ctx);
  ASSERT_TRUE(server && client);
  ASSERT_EQ(client->handshake(), HandshakeStatus::WantIO);
  pump(*client, *server);
  ASSERT_EQ(server->handshake(), HandshakeStatus::WantIO);
  server->feed_ciphertext(as_bytes("GET / HTTP/1.1\r\n\r\n"));
  EXPECT_EQ(server->handshake(), HandshakeStatus::Failed);
  EXPECT_FALSE(server->received_non_tls());
}

TEST_F(SessionTest, HandshakeSurvivesOneByteAtATime) {
  const auto server_ctx = server_context();
  const ClientContext client_ctx;
  auto server = Session::server(server_ctx);
  auto client = Session::client(client_ctx);
  ASSERT_TRUE(server && client);
  auto trickle = [](Session& from, Session& to) {
    const auto bytes = from.pending_ciphertext();
    for (std::size_t i = 0; i < bytes.size(); ++i) to.feed_ciphertext(bytes.subspan(i, 1));
    from.consume_ciphertext(bytes.size());
  };
  for (int round = 0; round < 10 && !(client->is_handshake_done() && server->is_handshake_done());
       ++round) {
    (void)client->handshake();
    trickle(*client, *server);
    (void)server->handshake();
    trickle(*server, *client);
  }
  EXPECT_TRUE(client->is_handshake_done() && server->is_handshake_done())
      << client->last_error_text() << server->last_error_text();
}

TEST_F(SessionTest, AlpnFtpIsAcceptedWhenOffered) {
  const auto server_ctx = server_context();
  ClientOptions options;
  options.offer_alpn_ftp = true;
  const ClientContext client_ctx(options);
  auto server = Session::server(server_ctx);
  auto client = Session::client(client_ctx);
  ASSERT_TRUE(server && client);
  ASSERT_TRUE(handshake_in_memory(*client, *server));
  EXPECT_EQ(server->alpn_protocol(), "ftp");
  EXPECT_EQ(client->alpn_protocol(), "ftp");
}

TEST_F(SessionTest, ClientPinsACipherSuiteByIanaName) {
  const auto server_ctx = server_context();
  ClientOptions options = client_options(Version::Tls13, Version::Tls13);
  options.tls13_ciphers = "TLS_CHACHA20_POLY1305_SHA256";
  const ClientContext client_ctx(options);
  auto server = Session::server(server_ctx);
  auto client = Session::client(client_ctx);
  ASSERT_TRUE(server && client);
  ASSERT_TRUE(handshake_in_memory(*client, *server));
  EXPECT_THAT(std::string(server->cipher_suite()), HasSubstr("CHACHA20"));
}

TEST_F(SessionTest, UnknownCipherNameIsAnError) {
  ServerOptions options;
  options.tls12_ciphers = "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES128-GCM-SHA257";
  try {
    (void)ServerContext(*creds_, options);
    FAIL() << "no TlsError";
  } catch (const TlsError& e) {
    EXPECT_THAT(e.what(), HasSubstr("\"ECDHE-ECDSA-AES128-GCM-SHA257\""));
  }
  ServerOptions inverted;
  inverted.min_version = Version::Tls13;
  inverted.max_version = Version::Tls12;
  EXPECT_THROW((void)ServerContext(*creds_, inverted), TlsError);
}

TEST_F(SessionTest, VersionMismatchFailsBothSides) {
  ServerOptions options;
  options.min_version = Version::Tls13;
  const auto server_ctx = server_context(options);
  const ClientContext client_ctx(client_options(Version::Tls12, Version::Tls12));
  auto server = Session::server(server_ctx);
  auto client = Session::client(client_ctx);
  ASSERT_TRUE(server && client);
  EXPECT_FALSE(handshake_in_memory(*client, *server));
  EXPECT_TRUE(server->is_failed());
  EXPECT_FALSE(server->received_non_tls());
}

TEST_F(SessionTest, VerificationAgainstATrustedCertificate) {
  const auto server_ctx = server_context();
  ClientOptions trusting;
  trusting.trusted_ca_pem = creds_->cert_chain_pem();
  const ClientContext good_ctx(trusting);
  auto server = Session::server(server_ctx);
  auto client = Session::client(good_ctx);
  ASSERT_TRUE(server && client);
  EXPECT_TRUE(handshake_in_memory(*client, *server)) << client->last_error_text();

  ClientOptions other;
  other.trusted_ca_pem = generate_self_signed().cert_chain_pem();
  const ClientContext bad_ctx(other);
  auto server2 = Session::server(server_ctx);
  auto client2 = Session::client(bad_ctx);
  ASSERT_TRUE(server2 && client2);
  EXPECT_FALSE(handshake_in_memory(*client2, *server2));
  EXPECT_TRUE(client2->is_failed());
}

TEST_F(SessionTest, SessionOutlivesItsContextAndSurvivesMoves) {
  auto server_ctx = std::make_unique<ServerContext>(*creds_);
  auto client_ctx = std::make_unique<ClientContext>();
  auto server = Session::server(*server_ctx);
  auto client = Session::client(*client_ctx);
  ASSERT_TRUE(server && client);
  server_ctx.reset();  // a reload: new sessions would use a new context
  client_ctx.reset();

  ASSERT_EQ(client->handshake(), HandshakeStatus::WantIO);
  pump(*client, *server);
  Session moved_server = std::move(*server);  // mid-handshake
  server.reset();
  std::optional<Session> moved_client;
  moved_client = std::move(client);
  client.reset();
  ASSERT_TRUE(handshake_in_memory(*moved_client, moved_server));

  const auto data = random_bytes(100000, 3);
  EXPECT_TRUE(transfer(moved_server, *moved_client, data) == data);
}

TEST_F(SessionTest, MoveAssignmentReplacesTheConnection) {
  const auto server_ctx = server_context();
  const ClientContext client_ctx;
  auto server = Session::server(server_ctx);
  auto client = Session::client(client_ctx);
  auto spare = Session::server(server_ctx);
  ASSERT_TRUE(server && client && spare);
  ASSERT_TRUE(handshake_in_memory(*client, *server));
  *spare = std::move(*server);  // frees spare's own connection
  const auto data = random_bytes(50000, 4);
  EXPECT_TRUE(transfer(*client, *spare, data) == data);
  EXPECT_TRUE(transfer(*spare, *client, data) == data);
}

TEST_F(SessionTest, TakeCiphertextHandsOverTheBuffer) {
  const auto server_ctx = server_context();
  const ClientContext client_ctx;
  auto server = Session::server(server_ctx);
  auto client = Session::client(client_ctx);
  ASSERT_TRUE(server && client);
  ASSERT_TRUE(handshake_in_memory(*client, *server));

  ASSERT_EQ(server->write_plaintext(as_bytes("hello")).status, IoStatus::Ok);
  server->consume_ciphertext(1);  // a short send went out earlier
  const auto rest = std::vector<std::byte>(server->pending_ciphertext().begin(),
                                           server->pending_ciphertext().end());
  std::vector<std::byte> spare;
  spare.reserve(4096);
  const std::vector<std::byte> taken = server->take_ciphertext(std::move(spare));
  EXPECT_EQ(taken, rest);
  EXPECT_TRUE(server->pending_ciphertext().empty());
  ASSERT_EQ(server->write_plaintext(as_bytes("again")).status, IoStatus::Ok);
  EXPECT_FALSE(server->pending_ciphertext().empty());
}

}  // namespace
}  // namespace ringftpd::tls
