// Optional client certificates: a test CA made in memory with wolfCrypt
// issues client certificates; the server verifies them in memory
// (tls/loopback) and reads their subject and fingerprint back.
#include <gtest/gtest.h>

#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "tests/tls/tls_test_support.hpp"
#include "tls/context.hpp"
#include "tls/credentials.hpp"
#include "tls/loopback.hpp"
#include "tls/session.hpp"
#include "tls/wolfssl.hpp"

namespace ringftpd::tls {
namespace {

using Mode = ServerOptions::ClientCertMode;

void check(int rc, const char* what) {
  if (rc < 0) throw std::runtime_error(std::string(what) + ": " + wolfssl_error_text(rc));
}

void copy_name(char (&field)[CTC_NAME_SIZE], const std::string& value) {
  std::strncpy(field, value.c_str(), CTC_NAME_SIZE - 1);
  field[CTC_NAME_SIZE - 1] = '\0';
}

std::string to_pem(const std::vector<unsigned char>& der, int type) {
  std::string pem(der.size() * 2 + 128, '\0');
  const int n = wc_DerToPem(der.data(), static_cast<word32>(der.size()),
                            reinterpret_cast<unsigned char*>(pem.data()),
                            static_cast<word32>(pem.size()), type);
  check(n, "wc_DerToPem");
  pem.resize(static_cast<std::size_t>(n));
  return pem;
}

// An ECDSA P-256 key with its wolfCrypt lifetime.
class Key {
 public:
  explicit Key(WC_RNG* rng) {
    check(wc_ecc_init(&key_), "wc_ecc_init");
    check(wc_ecc_make_key_ex(rng, 32, &key_, ECC_SECP256R1), "wc_ecc_make_key_ex");
  }
  ~Key() { wc_ecc_free(&key_); }
  Key(const Key&) = delete;
  Key& operator=(const Key&) = delete;
  ecc_key* get() { return &key_; }
  std::string pem() {
    std::vector<unsigned char> der(512);
    const int n = wc_EccKeyToDer(&key_, der.data(), static_cast<word32>(der.size()));
    check(n, "wc_EccKeyToDer");
    der.resize(static_cast<std::size_t>(n));
    return to_pem(der, ECC_PRIVATEKEY_TYPE);
  }

 private:
  ecc_key key_{};
};

struct Subject {
  std::string cn;
  std::string email;
  std::string uid;
};

struct IssuedCert {
  std::string cert_pem;
  std::string key_pem;
};

// A self-signed CA that issues client certificates, all in memory.
class TestCa {
 public:
  explicit TestCa(const std::string& name) {
    check(wc_InitRng(&rng_), "wc_InitRng");
    key_.emplace(&rng_);
    auto cert = std::make_unique<Cert>();
    check(wc_InitCert(cert.get()), "wc_InitCert");
    copy_name(cert->subject.commonName, name);
    cert->isCA = 1;
    cert->selfSigned = 1;
    check(wc_SetSubjectKeyIdFromPublicKey_ex(cert.get(), ECC_TYPE, key_->get()), "ski");
    check(wc_SetKeyUsage(cert.get(), "keyCertSign,cRLSign"), "key usage");
    der_ = sign(*cert, key_->get());
    pem_ = to_pem(der_, CERT_TYPE);
  }
  ~TestCa() {
    key_.reset();
    wc_FreeRng(&rng_);
  }
  TestCa(const TestCa&) = delete;
  TestCa& operator=(const TestCa&) = delete;

  [[nodiscard]] const std::string& pem() const { return pem_; }

  // A client certificate for a fresh key, signed by this CA.
  IssuedCert issue(const Subject& subject) {
    Key key(&rng_);
    auto cert = std::make_unique<Cert>();
    check(wc_InitCert(cert.get()), "wc_InitCert");
    copy_name(cert->subject.commonName, subject.cn);
    copy_name(cert->subject.email, subject.email);
    copy_name(cert->subject.userId, subject.uid);
    cert->sigType = CTC_SHA256wECDSA;
    cert->daysValid = 365;
    check(wc_SetIssuerBuffer(cert.get(), der_.data(), static_cast<int>(der_.size())), "issuer");
    check(wc_SetAuthKeyIdFromPublicKey_ex(cert.get(), ECC_TYPE, key_->get()), "aki");
    check(wc_SetKeyUsage(cert.get(), "digitalSignature"), "key usage");
    check(wc_SetExtKeyUsage(cert.get(), "clientAuth"), "extended key usage");
    // The body carries the client's public key; the signature is the CA's.
    std::vector<unsigned char> der(4096);
    check(wc_MakeCert_ex(cert.get(), der.data(), static_cast<word32>(der.size()), ECC_TYPE,
                         key.get(), &rng_),
          "wc_MakeCert_ex");
    const int n = wc_SignCert_ex(cert->bodySz, cert->sigType, der.data(),
                                 static_cast<word32>(der.size()), ECC_TYPE, key_->get(), &rng_);
    check(n, "wc_SignCert_ex");
    der.resize(static_cast<std::size_t>(n));
    return {to_pem(der, CERT_TYPE), key.pem()};
  }

 private:
  std::vector<unsigned char> sign(Cert& cert, ecc_key* key) {
    cert.sigType = CTC_SHA256wECDSA;
    cert.daysValid = 365;
    std::vector<unsigned char> der(4096);
    check(wc_MakeCert_ex(&cert, der.data(), static_cast<word32>(der.size()), ECC_TYPE, key, &rng_),
          "wc_MakeCert_ex");
    const int n = wc_SignCert_ex(cert.bodySz, cert.sigType, der.data(),
                                 static_cast<word32>(der.size()), ECC_TYPE, key, &rng_);
    check(n, "wc_SignCert_ex");
    der.resize(static_cast<std::size_t>(n));
    return der;
  }

  WC_RNG rng_{};
  std::optional<Key> key_;
  std::vector<unsigned char> der_;
  std::string pem_;
};

struct Pair {
  Session client;
  Session server;
  bool done = false;
};

class ClientCertTest : public ::testing::TestWithParam<Version> {
 protected:
  static void SetUpTestSuite() {
    creds_ = new Credentials(generate_self_signed());
    ca_ = new TestCa("ringftpd test client CA");
    other_ca_ = new TestCa("some other CA");
  }
  static void TearDownTestSuite() {
    delete creds_;
    delete ca_;
    delete other_ca_;
    creds_ = nullptr;
    ca_ = other_ca_ = nullptr;
  }

  [[nodiscard]] ServerContext server_ctx(Mode mode) const {
    ServerOptions o;
    o.min_version = o.max_version = GetParam();
    o.client_certs = mode;
    o.client_ca_pem = ca_->pem();
    return ServerContext(*creds_, o);
  }
  [[nodiscard]] ClientContext client_ctx(const IssuedCert* cert) const {
    ClientOptions o;
    o.min_version = o.max_version = GetParam();
    if (cert != nullptr) {
      o.client_cert_pem = cert->cert_pem;
      o.client_key_pem = cert->key_pem;
    }
    return ClientContext(o);
  }

  static Pair connect(const ServerContext& sctx, const ClientContext& cctx) {
    auto client = Session::client(cctx);
    auto server = Session::server(sctx);
    EXPECT_TRUE(client && server);
    Pair p{std::move(*client), std::move(*server)};
    p.done = handshake_in_memory(p.client, p.server);
    return p;
  }

  static Credentials* creds_;
  static TestCa* ca_;
  static TestCa* other_ca_;
};

Credentials* ClientCertTest::creds_ = nullptr;
TestCa* ClientCertTest::ca_ = nullptr;
TestCa* ClientCertTest::other_ca_ = nullptr;

TEST_P(ClientCertTest, RequiredAcceptsCertificateSignedByTheCa) {
  const IssuedCert cert = ca_->issue({"alice", "alice@example.org", "alice01"});
  const auto p = connect(server_ctx(Mode::Required), client_ctx(&cert));
  ASSERT_TRUE(p.done) << p.client.last_error_text() << " / " << p.server.last_error_text();
  EXPECT_TRUE(p.server.has_verified_peer_certificate());
  EXPECT_EQ(p.server.peer_certificate_field("CN"), "alice");
  EXPECT_EQ(p.server.peer_certificate_field("emailAddress"), "alice@example.org");
  EXPECT_EQ(p.server.peer_certificate_field("UID"), "alice01");
  EXPECT_EQ(p.server.peer_certificate_field("O"), "");  // not a supported name
  EXPECT_EQ(p.server.peer_certificate_fingerprint(), fingerprint_sha256(cert.cert_pem));
}

TEST_P(ClientCertTest, AbsentFieldsAreEmpty) {
  const IssuedCert cert = ca_->issue({"bob", "", ""});
  const auto p = connect(server_ctx(Mode::Required), client_ctx(&cert));
  ASSERT_TRUE(p.done) << p.server.last_error_text();
  EXPECT_EQ(p.server.peer_certificate_field("CN"), "bob");
  EXPECT_EQ(p.server.peer_certificate_field("emailAddress"), "");
  EXPECT_EQ(p.server.peer_certificate_field("UID"), "");
}

TEST_P(ClientCertTest, RequiredRefusesClientWithoutCertificate) {
  auto p = connect(server_ctx(Mode::Required), client_ctx(nullptr));
  EXPECT_FALSE(p.done);
  EXPECT_EQ(p.server.handshake(), HandshakeStatus::Failed);
  EXPECT_FALSE(p.server.has_verified_peer_certificate());
}

TEST_P(ClientCertTest, OptionalAcceptsClientWithoutCertificate) {
  const auto p = connect(server_ctx(Mode::Optional), client_ctx(nullptr));
  ASSERT_TRUE(p.done) << p.client.last_error_text() << " / " << p.server.last_error_text();
  EXPECT_FALSE(p.server.has_verified_peer_certificate());
  EXPECT_EQ(p.server.peer_certificate_field("CN"), "");
  EXPECT_EQ(p.server.peer_certificate_fingerprint(), "");
}

TEST_P(ClientCertTest, OptionalAcceptsAndReportsCertificateSignedByTheCa) {
  const IssuedCert cert = ca_->issue({"carol", "", ""});
  const auto p = connect(server_ctx(Mode::Optional), client_ctx(&cert));
  ASSERT_TRUE(p.done) << p.server.last_error_text();
  EXPECT_TRUE(p.server.has_verified_peer_certificate());
  EXPECT_EQ(p.server.peer_certificate_field("CN"), "carol");
}

TEST_P(ClientCertTest, CertificateFromAnotherCaFailsTheHandshake) {
  const IssuedCert cert = other_ca_->issue({"mallory", "", ""});
  for (const Mode mode : {Mode::Required, Mode::Optional}) {
    auto p = connect(server_ctx(mode), client_ctx(&cert));
    EXPECT_FALSE(p.done);
    EXPECT_EQ(p.server.handshake(), HandshakeStatus::Failed);
    EXPECT_FALSE(p.server.has_verified_peer_certificate());
  }
}

TEST_P(ClientCertTest, OffRequestsNoCertificate) {
  const IssuedCert cert = ca_->issue({"dave", "", ""});
  ServerOptions o;
  o.min_version = o.max_version = GetParam();
  const ServerContext sctx(*creds_, o);
  const auto p = connect(sctx, client_ctx(&cert));
  ASSERT_TRUE(p.done) << p.server.last_error_text();
  EXPECT_FALSE(p.server.has_verified_peer_certificate());
  EXPECT_EQ(p.server.peer_certificate_fingerprint(), "");
}

TEST_P(ClientCertTest, FingerprintIdentifiesTheCertificateAcrossConnections) {
  const IssuedCert cert = ca_->issue({"erin", "", ""});
  const IssuedCert other = ca_->issue({"erin", "", ""});  // same name, new key
  const ServerContext sctx = server_ctx(Mode::Required);
  const ClientContext cctx = client_ctx(&cert);
  const auto first = connect(sctx, cctx);
  const auto second = connect(sctx, cctx);
  const auto third = connect(sctx, client_ctx(&other));
  ASSERT_TRUE(first.done && second.done && third.done);
  const std::string fp = first.server.peer_certificate_fingerprint();
  EXPECT_EQ(fp.size(), 32u * 3 - 1);
  EXPECT_EQ(second.server.peer_certificate_fingerprint(), fp);
  EXPECT_NE(third.server.peer_certificate_fingerprint(), fp);
}

// A data connection resumes its control connection's session: no certificate
// is exchanged, even under Required; the origin check is what binds it.
TEST_P(ClientCertTest, ResumedConnectionCarriesNoCertificate) {
  const IssuedCert cert = ca_->issue({"frank", "", ""});
  const ServerContext sctx = server_ctx(Mode::Required);
  const ClientContext cctx = client_ctx(&cert);
  auto ctrl_server = Session::server(sctx);
  auto ctrl_client = Session::client(cctx);
  ASSERT_TRUE(ctrl_server && ctrl_client);
  ctrl_server->set_origin(sctx.new_origin());
  ASSERT_TRUE(handshake_in_memory(*ctrl_client, *ctrl_server));
  std::byte buf[64];
  (void)ctrl_client->read_plaintext(buf);  // takes in a TLS 1.3 ticket
  ASSERT_TRUE(ctrl_server->has_verified_peer_certificate());
  const SslSessionPtr saved = ctrl_client->saved_session();
  ASSERT_TRUE(saved);

  auto data_server = Session::server_data(sctx, ctrl_server->data_origin());
  auto data_client = Session::client(cctx);
  ASSERT_TRUE(data_server && data_client);
  ASSERT_TRUE(data_client->resume_from(saved.get()));
  ASSERT_TRUE(handshake_in_memory(*data_client, *data_server)) << data_server->last_error_text();
  EXPECT_EQ(data_server->check_resumption(), ResumeCheck::Ok);
  EXPECT_FALSE(data_server->has_verified_peer_certificate());
  EXPECT_EQ(data_server->peer_certificate_fingerprint(), "");
}

INSTANTIATE_TEST_SUITE_P(ClientCert, ClientCertTest,
                         ::testing::Values(Version::Tls12, Version::Tls13), [](const auto& info) {
                           return info.param == Version::Tls12 ? "Tls12" : "Tls13";
                         });

class ClientCertOptionsTest : public ::testing::Test {};

TEST_F(ClientCertOptionsTest, GarbageCaThrows) {
  const Credentials creds = generate_self_signed();
  for (const std::string& garbage :
       {std::string(), std::string("not a certificate"),
        std::string("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")}) {
    ServerOptions o;
    o.client_certs = Mode::Required;
    o.client_ca_pem = garbage;
    EXPECT_THROW((void)ServerContext(creds, o), TlsError) << garbage;
  }
}

TEST_F(ClientCertOptionsTest, OffIgnoresTheCaBundle) {
  ServerOptions o;
  o.client_ca_pem = "not a certificate";
  EXPECT_NO_THROW((void)ServerContext(generate_self_signed(), o));
}

TEST_F(ClientCertOptionsTest, ClientCertificateWithoutKeyThrows) {
  ClientOptions o;
  o.client_cert_pem = generate_self_signed().cert_chain_pem();
  EXPECT_THROW((void)ClientContext(o), TlsError);
  o.client_key_pem = "garbage";
  EXPECT_THROW((void)ClientContext(o), TlsError);
}

}  // namespace
}  // namespace ringftpd::tls
