// Accepted configurations: every key read into the right field, the defaults of
// a file and of the embedded configuration, loading from disk.
#include "config/config.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <string>

#include "tests/config/temp_tree.hpp"

namespace ringftpd::config {
namespace {

using test_support::TempTree;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

// Every key of the schema, each set to something other than its default.
constexpr const char* kFullFile = R"(
workers = 4
run_as = "ftpd"
state_dir = "@DIR@/state"
banner = "welcome to the mirror"

[[listen]]
address = "0.0.0.0"
port = 21

[[listen]]
address = "::"
port = 990
implicit_tls = true
bandwidth_bytes_per_second = 50000000

[tls]
certificate = "@DIR@/cert.pem"
private_key = "@DIR@/key.pem"
min_version = "1.3"
max_version = "1.3"
cipher_list = "ECDHE-RSA-AES128-GCM-SHA256"
ciphersuites = "TLS_AES_128_GCM_SHA256"
session_lifetime_seconds = 43200
ticket_key_rotation_seconds = 600
session_cache_entries = 5000
allow_auth_ssl = true
allow_ccc = true
client_certs = "optional"
client_ca = "@DIR@/ca.pem"
client_cert_user_field = "emailAddress"

[control]
tls = "required"
anonymous_tls = "clear_allowed"

[data]
protection = "per_command"
clear_allowed_for = ["list", "Nlst"]
require_session_reuse = false

[passive]
ports = "40000-40099"
public_address = "203.0.113.7"

[limits]
max_sessions = 100
max_sessions_per_address = 10
max_line_bytes = 1024
failed_logins_before_delay = 2
max_failed_logins = 5
error_budget = 10
idle_timeout_seconds = 300
login_timeout_seconds = 30
handshake_timeout_seconds = 5
data_stall_timeout_seconds = 60
bandwidth_bytes_per_second = 10000000000

[users]
file = "@DIR@/users.toml"
anonymous = true
anonymous_root = "@DIR@/anon"
anonymous_write = true

[transfer]
atomic_uploads = false

[log]
level = "debug"
file = "/var/log/ringftpd.log"
xferlog = "/var/log/xferlog"
json = "/var/log/ringftpd/events.jsonl"

[sandbox]
enabled = false

[metrics]
address = "::1"
port = 9273

[shared]
redis = "tcp:[::1]:6380"
redis_user = "ftp"
redis_password_file = "@DIR@/users.toml"
redis_timeout_ms = 400
secret_file = "@DIR@/users.toml"
key_prefix = "site-a"
session_ids = false
)";

class ConfigTest : public ::testing::Test {
 protected:
  TempTree tree_;
  std::string dir_ = tree_.dir().string();
};

TEST_F(ConfigTest, FullFileReadsEveryKey) {
  const Config c = parse(tree_.expand(kFullFile), "full.toml");
  EXPECT_EQ(c.source, "full.toml");
  EXPECT_EQ(c.workers, 4u);
  EXPECT_EQ(c.run_as, "ftpd");
  EXPECT_EQ(c.state_dir, dir_ + "/state");
  EXPECT_EQ(c.banner, "welcome to the mirror");
  ASSERT_EQ(c.listeners.size(), 2u);
  EXPECT_EQ(c.listeners[0].address, "0.0.0.0");
  EXPECT_EQ(c.listeners[0].port, 21);
  EXPECT_FALSE(c.listeners[0].implicit_tls);
  EXPECT_EQ(c.listeners[1].address, "::");
  EXPECT_EQ(c.listeners[1].port, 990);
  EXPECT_TRUE(c.listeners[1].implicit_tls);
  EXPECT_EQ(c.listeners[0].bandwidth_bytes_per_second, 0u);
  EXPECT_EQ(c.listeners[1].bandwidth_bytes_per_second, 50'000'000u);
}

TEST_F(ConfigTest, FullFileReadsTls) {
  const TlsSettings t = parse(tree_.expand(kFullFile), "full.toml").tls;
  EXPECT_EQ(t.certificate_file, dir_ + "/cert.pem");
  EXPECT_EQ(t.private_key_file, dir_ + "/key.pem");
  EXPECT_EQ(t.min_version, TlsVersion::V1_3);
  EXPECT_EQ(t.max_version, TlsVersion::V1_3);
  EXPECT_EQ(t.cipher_list, "ECDHE-RSA-AES128-GCM-SHA256");
  EXPECT_EQ(t.ciphersuites, "TLS_AES_128_GCM_SHA256");
  EXPECT_EQ(t.session_lifetime_seconds, 43200u);
  EXPECT_EQ(t.ticket_key_rotation_seconds, 600u);
  EXPECT_EQ(t.session_cache_entries, 5000u);
  EXPECT_TRUE(t.allow_auth_ssl);
  EXPECT_TRUE(t.allow_ccc);
  EXPECT_EQ(t.client_certs, ClientCerts::Optional);
  EXPECT_EQ(t.client_ca_file, dir_ + "/ca.pem");
  EXPECT_EQ(t.client_cert_user_field, "emailAddress");
}

TEST_F(ConfigTest, FullFileReadsPolicies) {
  const Config c = parse(tree_.expand(kFullFile), "full.toml");
  EXPECT_EQ(c.control.tls, ControlTls::Required);
  EXPECT_EQ(c.control.anonymous, AnonymousTls::ClearAllowed);
  EXPECT_EQ(c.data.protection, DataProtection::PerCommand);
  EXPECT_THAT(c.data.clear_allowed_for, ElementsAre("LIST", "NLST"));
  EXPECT_FALSE(c.data.require_session_reuse);
  EXPECT_EQ(c.passive.ports.first, 40000);
  EXPECT_EQ(c.passive.ports.last, 40099);
  EXPECT_EQ(c.passive.public_address, "203.0.113.7");
}

TEST_F(ConfigTest, FullFileReadsLimitsUsersAndLog) {
  const Config c = parse(tree_.expand(kFullFile), "full.toml");
  const Limits& l = c.limits;
  EXPECT_EQ(l.max_sessions, 100u);
  EXPECT_EQ(l.max_sessions_per_address, 10u);
  EXPECT_EQ(l.max_line_bytes, 1024u);
  EXPECT_EQ(l.failed_logins_before_delay, 2u);
  EXPECT_EQ(l.max_failed_logins, 5u);
  EXPECT_EQ(l.error_budget, 10u);
  EXPECT_EQ(l.idle_timeout_seconds, 300u);
  EXPECT_EQ(l.login_timeout_seconds, 30u);
  EXPECT_EQ(l.handshake_timeout_seconds, 5u);
  EXPECT_EQ(l.data_stall_timeout_seconds, 60u);
  EXPECT_EQ(l.bandwidth_bytes_per_second, 10'000'000'000u);
  EXPECT_EQ(c.users.file, dir_ + "/users.toml");
  EXPECT_TRUE(c.users.anonymous);
  EXPECT_EQ(c.users.anonymous_root, dir_ + "/anon");
  EXPECT_TRUE(c.users.anonymous_write);
  EXPECT_FALSE(c.transfer.atomic_uploads);
  EXPECT_EQ(c.log.level, LogLevel::Debug);
  EXPECT_EQ(c.log.file, "/var/log/ringftpd.log");
  EXPECT_EQ(c.log.xferlog, "/var/log/xferlog");
  EXPECT_EQ(c.log.json, "/var/log/ringftpd/events.jsonl");
  EXPECT_FALSE(c.sandbox.enabled);
  EXPECT_TRUE(c.metrics.enabled);
  EXPECT_EQ(c.metrics.address, "::1");
  EXPECT_EQ(c.metrics.port, 9273);
  EXPECT_TRUE(c.shared.enabled);
  EXPECT_EQ(c.shared.redis.kind, RedisEndpoint::Kind::Tcp);
  EXPECT_EQ(c.shared.redis.host, "::1");
  EXPECT_EQ(c.shared.redis.port, 6380);
  EXPECT_EQ(c.shared.redis_user, "ftp");
  EXPECT_EQ(c.shared.redis_password_file, dir_ + "/users.toml");
  EXPECT_EQ(c.shared.redis_timeout_ms, 400u);
  EXPECT_EQ(c.shared.secret_file, dir_ + "/users.toml");
  EXPECT_EQ(c.shared.key_prefix, "site-a");
  EXPECT_FALSE(c.shared.session_ids);
}

TEST_F(ConfigTest, SharedTakesAUnixSocket) {
  const Config c = parse(tree_.expand("[shared]\nredis = \"unix:/run/redis/redis.sock\"\n"
                                      "secret_file = \"@DIR@/users.toml\"\n"),
                         "s.toml");
  EXPECT_EQ(c.shared.redis.kind, RedisEndpoint::Kind::Unix);
  EXPECT_EQ(c.shared.redis.path, "/run/redis/redis.sock");
  EXPECT_EQ(c.shared.redis_timeout_ms, 250u);
  EXPECT_EQ(c.shared.key_prefix, "ringftpd");
  EXPECT_TRUE(c.shared.session_ids);
}

TEST_F(ConfigTest, EmptyFileTakesTheSafeDefaults) {
  const Config c = parse("", "empty.toml");
  ASSERT_EQ(c.listeners.size(), 1u);
  EXPECT_EQ(c.listeners[0].address, "127.0.0.1");
  EXPECT_EQ(c.listeners[0].port, 2121);
  EXPECT_FALSE(c.listeners[0].implicit_tls);
  EXPECT_EQ(c.workers, 0u);
  EXPECT_EQ(c.run_as, "ringftpd");
  EXPECT_EQ(c.state_dir, "/var/lib/ringftpd");
  EXPECT_EQ(c.banner, "ringftpd ready");
  EXPECT_EQ(c.control.tls, ControlTls::RequiredForLogin);
  EXPECT_EQ(c.control.anonymous, AnonymousTls::SameAsOthers);
  EXPECT_EQ(c.data.protection, DataProtection::Required);
  EXPECT_TRUE(c.data.require_session_reuse);
  EXPECT_TRUE(c.data.clear_allowed_for.empty());
  EXPECT_TRUE(c.tls.certificate_file.empty());
  EXPECT_EQ(c.tls.min_version, TlsVersion::V1_2);
  EXPECT_EQ(c.tls.max_version, TlsVersion::V1_3);
  EXPECT_EQ(c.tls.session_lifetime_seconds, 8u * 3600);
  EXPECT_EQ(c.tls.client_certs, ClientCerts::Off);
  EXPECT_EQ(c.passive.ports.first, 50000);
  EXPECT_EQ(c.passive.ports.last, 50999);
  EXPECT_EQ(c.limits.max_sessions, 4000u);
  EXPECT_FALSE(c.users.anonymous);
  EXPECT_TRUE(c.transfer.atomic_uploads);
  EXPECT_EQ(c.log.level, LogLevel::Info);
  EXPECT_TRUE(c.sandbox.enabled);
  EXPECT_FALSE(c.metrics.enabled);  // opt-in
  EXPECT_FALSE(c.shared.enabled);   // opt-in
}

TEST_F(ConfigTest, ListenerKeysDefaultInsideAnEntry) {
  const Config c = parse("[[listen]]\nimplicit_tls = true\n", "t.toml");
  ASSERT_EQ(c.listeners.size(), 1u);
  EXPECT_EQ(c.listeners[0].address, "127.0.0.1");
  EXPECT_EQ(c.listeners[0].port, 2121);
  EXPECT_TRUE(c.listeners[0].implicit_tls);
}

TEST_F(ConfigTest, SamePortOnDifferentAddressesIsFine) {
  const Config c = parse(
      "[[listen]]\naddress = \"127.0.0.1\"\nport = 21\n"
      "[[listen]]\naddress = \"::1\"\nport = 21\n",
      "t.toml");
  EXPECT_EQ(c.listeners.size(), 2u);
}

TEST_F(ConfigTest, PerCommandDefaultsToListingsInClear) {
  const Config c = parse("[data]\nprotection = \"per_command\"\n", "t.toml");
  EXPECT_THAT(c.data.clear_allowed_for, ElementsAre("LIST", "NLST", "MLSD"));
}

TEST_F(ConfigTest, PerCommandAcceptsAnEmptyList) {
  const Config c = parse("[data]\nprotection = \"per_command\"\nclear_allowed_for = []\n", "t");
  EXPECT_TRUE(c.data.clear_allowed_for.empty());
}

TEST_F(ConfigTest, AnonymousTlsExceptionWithoutAnonymousIsAccepted) {
  const Config c = parse("[control]\nanonymous_tls = \"clear_required\"\n", "t.toml");
  EXPECT_EQ(c.control.anonymous, AnonymousTls::ClearRequired);
  EXPECT_FALSE(c.users.anonymous);
}

TEST_F(ConfigTest, PassiveRangeOfExactlyOnePortPerWorker) {
  const Config c = parse("workers = 4\n[passive]\nports = \"60000-60003\"\n", "t.toml");
  EXPECT_EQ(c.passive.ports.size(), 4u);
  EXPECT_EQ(c.workers, 4u);
}

TEST_F(ConfigTest, ClientCaIsNotCheckedWhenClientCertsAreOff) {
  const Config c = parse("[tls]\nclient_ca = \"/nonexistent/ca.pem\"\n", "t.toml");
  EXPECT_EQ(c.tls.client_ca_file, "/nonexistent/ca.pem");
}

TEST_F(ConfigTest, ErrorMessageIsExactlyPlaceWhatExpected) {
  try {
    (void)parse("# comment\n[limits]\nerror_budget = \"ten\"\n", "/etc/ringftpd.toml");
    FAIL();
  } catch (const ConfigError& e) {
    EXPECT_STREQ(e.what(),
                 "/etc/ringftpd.toml:3:16: limits.error_budget has the wrong type, expected "
                 "integer, got string");
  }
}

TEST_F(ConfigTest, LoadFileReadsFromDisk) {
  const std::string path = tree_.write("ringftpd.toml", "workers = 2\nbanner = \"disk\"\n");
  const Config c = load_file(path);
  EXPECT_EQ(c.source, path);
  EXPECT_EQ(c.workers, 2u);
  EXPECT_EQ(c.banner, "disk");
}

TEST_F(ConfigTest, LoadFileResolvesRelativePathsAgainstItsDirectory) {
  const std::string path = tree_.write(
      "ringftpd.toml",
      "state_dir = \"state\"\n[tls]\ncertificate = \"cert.pem\"\nprivate_key = \"key.pem\"\n"
      "[users]\nanonymous = true\nanonymous_root = \"anon\"\n");
  // From elsewhere, the files are found only through the config file's directory.
  const auto cwd = std::filesystem::current_path();
  std::filesystem::current_path("/");
  const Config c = load_file(path);
  std::filesystem::current_path(cwd);
  EXPECT_EQ(c.tls.certificate_file, dir_ + "/cert.pem");
  EXPECT_EQ(c.tls.private_key_file, dir_ + "/key.pem");
  EXPECT_EQ(c.users.anonymous_root, dir_ + "/anon");
  EXPECT_EQ(c.state_dir, dir_ + "/state");
}

TEST_F(ConfigTest, LoadFileErrorNamesTheFile) {
  const std::string path = tree_.write("bad.toml", "\n\nworkers = true\n");
  try {
    (void)load_file(path);
    FAIL();
  } catch (const ConfigError& e) {
    EXPECT_EQ(std::string(e.what()),
              path + ":3:11: workers has the wrong type, expected integer, got boolean");
  }
}

TEST_F(ConfigTest, SyntaxErrorHasLineAndColumn) {
  try {
    (void)parse("workers = 1\n\nbanner = \"unterminated\n", "s.toml");
    FAIL();
  } catch (const ConfigError& e) {
    EXPECT_THAT(e.what(), ::testing::StartsWith("s.toml:3:"));
    EXPECT_THAT(e.what(), HasSubstr("invalid TOML: "));
  }
}

TEST_F(ConfigTest, MissingFile) {
  const std::string path = dir_ + "/absent.toml";
  try {
    (void)load_file(path);
    FAIL();
  } catch (const ConfigError& e) {
    EXPECT_EQ(std::string(e.what()), path + ": cannot read: No such file or directory");
  }
}

TEST_F(ConfigTest, DirectoryInsteadOfFile) {
  try {
    (void)load_file(dir_);
    FAIL();
  } catch (const ConfigError& e) {
    EXPECT_EQ(std::string(e.what()), dir_ + ": cannot read: Is a directory");
  }
}

TEST_F(ConfigTest, UnreadableCertificate) {
  if (::geteuid() == 0) GTEST_SKIP() << "root reads any file";
  const std::string key = tree_.write("secret.pem", "x");
  ASSERT_EQ(::chmod(key.c_str(), 0), 0);
  const std::string toml =
      tree_.expand("[tls]\ncertificate = \"@DIR@/cert.pem\"\nprivate_key = \"@DIR@/secret.pem\"\n");
  EXPECT_THROW(
      {
        try {
          (void)parse(toml, "t.toml");
        } catch (const ConfigError& e) {
          EXPECT_THAT(e.what(), HasSubstr("t.toml:3:15: "));
          EXPECT_THAT(e.what(), HasSubstr("(Permission denied)"));
          throw;
        }
      },
      ConfigError);
}

TEST(EmbeddedDefault, IsLoopbackWithStrictTls) {
  const Config c = embedded_default("/tmp/ringftpd-state");
  EXPECT_EQ(c.source, "<embedded default>");
  ASSERT_EQ(c.listeners.size(), 1u);
  EXPECT_EQ(c.listeners[0].address, "127.0.0.1");
  EXPECT_EQ(c.listeners[0].port, 2121);
  EXPECT_FALSE(c.listeners[0].implicit_tls);
  EXPECT_EQ(c.state_dir, "/tmp/ringftpd-state");
  EXPECT_EQ(c.control.tls, ControlTls::RequiredForLogin);
  EXPECT_EQ(c.data.protection, DataProtection::Required);
  EXPECT_TRUE(c.data.require_session_reuse);
  EXPECT_FALSE(c.users.anonymous);
  EXPECT_TRUE(c.tls.certificate_file.empty());
  EXPECT_EQ(c.passive.ports.first, 50000);
  EXPECT_EQ(c.passive.ports.last, 50999);
}

TEST(ToString, SpellsEnumsAsInToml) {
  EXPECT_EQ(to_string(TlsVersion::V1_2), "1.2");
  EXPECT_EQ(to_string(TlsVersion::V1_3), "1.3");
  EXPECT_EQ(to_string(DataProtection::ClearOnly), "clear_only");
  EXPECT_EQ(to_string(DataProtection::ClientChoice), "client_choice");
  EXPECT_EQ(to_string(DataProtection::Required), "required");
  EXPECT_EQ(to_string(DataProtection::PerCommand), "per_command");
  EXPECT_EQ(to_string(ControlTls::Optional), "optional");
  EXPECT_EQ(to_string(ControlTls::RequiredForLogin), "required_for_login");
  EXPECT_EQ(to_string(ControlTls::Required), "required");
}

}  // namespace
}  // namespace ringftpd::config
