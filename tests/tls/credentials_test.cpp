#include "tls/credentials.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>
#include <sstream>
#include <string>

#include "tests/tls/tls_test_support.hpp"
#include "tls/wolfssl.hpp"

namespace ringftpd::tls {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::MatchesRegex;
using ::testing::StartsWith;

void write_text(const fs::path& path, const std::string& text) {
  std::ofstream(path, std::ios::binary) << text;
}

std::string read_text(const fs::path& path) {
  std::ostringstream s;
  s << std::ifstream(path, std::ios::binary).rdbuf();
  return s.str();
}

unsigned mode_of(const fs::path& path) {
  struct stat st {};
  EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
  return st.st_mode & 07777;
}

// The message of the TlsError that `f` throws; fails the test if none.
template <typename F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const TlsError& e) {
    return e.what();
  }
  ADD_FAILURE() << "no TlsError thrown";
  return {};
}

class CredentialsTest : public ::testing::Test {
 protected:
  // A generated pair on disk: dir/cert.pem, dir/key.pem.
  CredentialPaths make_pair(const std::string& name) {
    return ensure_self_signed(tmp_.path() / name);
  }

  testing::TempDir tmp_;
};

TEST_F(CredentialsTest, GoodPairLoads) {
  const auto paths = make_pair("a");
  const Credentials creds = load_credentials(paths.cert, paths.key);
  EXPECT_THAT(creds.cert_chain_pem(), StartsWith("-----BEGIN CERTIFICATE-----"));
  EXPECT_THAT(creds.key_pem(), HasSubstr("PRIVATE KEY-----"));
  EXPECT_EQ(creds.cert_path(), paths.cert);
  EXPECT_EQ(creds.key_path(), paths.key);
}

TEST_F(CredentialsTest, ChainOfSeveralCertificatesLoads) {
  const auto a = make_pair("a");
  const auto b = make_pair("b");
  // Leaf first, then an unrelated "intermediate": only parsing is checked.
  const fs::path chain = tmp_.path() / "chain.pem";
  write_text(chain, read_text(a.cert) + read_text(b.cert));
  EXPECT_NO_THROW((void)load_credentials(chain, a.key));
}

TEST_F(CredentialsTest, GarbageCertificateNamesTheFile) {
  const auto paths = make_pair("a");
  const fs::path bad = tmp_.path() / "bad.pem";
  write_text(bad, "this is not a certificate\n");
  EXPECT_EQ(error_of([&] { (void)load_credentials(bad, paths.key); }),
            bad.string() + ": not a PEM certificate");
}

TEST_F(CredentialsTest, CorruptSecondCertificateIsReportedByPosition) {
  const auto paths = make_pair("a");
  const fs::path bad = tmp_.path() / "bad.pem";
  write_text(bad, read_text(paths.cert) +
                      "-----BEGIN CERTIFICATE-----\nAAAA!!!!\n-----END CERTIFICATE-----\n");
  EXPECT_THAT(error_of([&] { (void)load_credentials(bad, paths.key); }),
              StartsWith(bad.string() + ": certificate 2 of 2 "));
}

TEST_F(CredentialsTest, GarbageKeyNamesTheFile) {
  const auto paths = make_pair("a");
  const fs::path bad = tmp_.path() / "badkey.pem";
  write_text(bad, "-----BEGIN EC PRIVATE KEY-----\nbm90IGEga2V5\n-----END EC PRIVATE KEY-----\n");
  EXPECT_THAT(error_of([&] { (void)load_credentials(paths.cert, bad); }),
              StartsWith(bad.string() + ": private key does not parse"));
  write_text(bad, "hello\n");
  EXPECT_EQ(error_of([&] { (void)load_credentials(paths.cert, bad); }),
            bad.string() + ": not a PEM private key");
}

TEST_F(CredentialsTest, MismatchedKeyIsRejected) {
  const auto a = make_pair("a");
  const auto b = make_pair("b");
  EXPECT_EQ(error_of([&] { (void)load_credentials(a.cert, b.key); }),
            b.key.string() + ": key does not match certificate " + a.cert.string());
}

TEST_F(CredentialsTest, SwappedFilesAreExplained) {
  const auto paths = make_pair("a");
  EXPECT_THAT(error_of([&] { (void)load_credentials(paths.key, paths.cert); }),
              HasSubstr("are cert and key swapped?"));
}

TEST_F(CredentialsTest, MissingFileNamesIt) {
  const auto paths = make_pair("a");
  const fs::path missing = tmp_.path() / "nope.pem";
  EXPECT_EQ(error_of([&] { (void)load_credentials(missing, paths.key); }),
            missing.string() + ": cannot read: No such file or directory");
}

TEST_F(CredentialsTest, EncryptedKeyIsRefusedClearly) {
  const auto paths = make_pair("a");
  const fs::path enc = tmp_.path() / "enc.pem";
  write_text(enc,
             "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n");
  EXPECT_THAT(error_of([&] { (void)load_credentials(paths.cert, enc); }),
              HasSubstr("encrypted private keys are not supported"));
}

TEST_F(CredentialsTest, SelfSignedIsGeneratedOnceThenReused) {
  const fs::path dir = tmp_.path() / "state";
  const auto first = ensure_self_signed(dir);
  EXPECT_TRUE(first.generated);
  EXPECT_EQ(first.cert, dir / "cert.pem");
  EXPECT_EQ(first.key, dir / "key.pem");
  EXPECT_EQ(mode_of(dir), 0700u);
  EXPECT_EQ(mode_of(first.key), 0600u);
  EXPECT_EQ(mode_of(first.cert), 0644u);
  EXPECT_FALSE(fs::exists(dir / "key.pem.tmp"));
  const std::string fp1 = fingerprint_sha256(read_text(first.cert));

  const auto second = ensure_self_signed(dir);
  EXPECT_FALSE(second.generated);
  EXPECT_EQ(fingerprint_sha256(read_text(second.cert)), fp1);
}

TEST_F(CredentialsTest, SelfSignedWithOnlyOneFileRefusesToOverwrite) {
  const fs::path dir = tmp_.path() / "state";
  const auto paths = ensure_self_signed(dir);
  fs::remove(paths.cert);
  EXPECT_THAT(error_of([&] { (void)ensure_self_signed(dir); }),
              StartsWith(paths.cert.string() + ": missing while " + paths.key.string()));
}

TEST_F(CredentialsTest, SelfSignedWithCorruptFilesFails) {
  const fs::path dir = tmp_.path() / "state";
  const auto paths = ensure_self_signed(dir);
  write_text(paths.cert, "garbage");
  EXPECT_EQ(error_of([&] { (void)ensure_self_signed(dir); }),
            paths.cert.string() + ": not a PEM certificate");
}

TEST_F(CredentialsTest, SelfSignedNeedsAnExistingParent) {
  const fs::path dir = tmp_.path() / "no" / "such";
  EXPECT_THAT(error_of([&] { (void)ensure_self_signed(dir); }),
              StartsWith(dir.string() + ": cannot create state directory"));
}

TEST_F(CredentialsTest, GeneratedCertificateHasTheExpectedSubject) {
  const Credentials creds = generate_self_signed();
  const std::string& pem = creds.cert_chain_pem();
  WOLFSSL_X509* x509 =
      wolfSSL_X509_load_certificate_buffer(reinterpret_cast<const unsigned char*>(pem.data()),
                                           static_cast<int>(pem.size()), WOLFSSL_FILETYPE_PEM);
  ASSERT_NE(x509, nullptr);
  char subject[256] = {};
  wolfSSL_X509_NAME_oneline(wolfSSL_X509_get_subject_name(x509), subject, sizeof subject);
  EXPECT_THAT(subject, HasSubstr("CN=ringftpd self-signed"));
  EXPECT_EQ(wolfSSL_X509_get_signature_type(x509), CTC_SHA256wECDSA);
  wolfSSL_X509_free(x509);
  EXPECT_NO_THROW(check_credentials(creds));
}

TEST_F(CredentialsTest, FingerprintFormat) {
  const Credentials creds = generate_self_signed();
  EXPECT_THAT(fingerprint_sha256(creds.cert_chain_pem()),
              MatchesRegex("([0-9A-F][0-9A-F]:){31}[0-9A-F][0-9A-F]"));
  EXPECT_NE(fingerprint_sha256(creds.cert_chain_pem()),
            fingerprint_sha256(generate_self_signed().cert_chain_pem()));
  EXPECT_THROW((void)fingerprint_sha256("nothing here"), TlsError);
}

}  // namespace
}  // namespace ringftpd::tls
