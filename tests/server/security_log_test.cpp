// server/security_log: the exact lines dist/fail2ban/filter.d/ringftpd.conf
// matches (docs/operations.md documents them; changing one breaks bans).
#include "server/security_log.hpp"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>

namespace ringftpd::server {
namespace {

class SecurityLogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char name[] = "/tmp/ringftpd-security-log-XXXXXX";
    const int fd = mkstemp(name);
    ASSERT_GE(fd, 0);
    close(fd);
    path_ = name;
  }
  void TearDown() override { unlink(path_.c_str()); }

  // Writes through a real Log at `level` and returns what reached the file.
  template <typename F>
  std::string logged(config::LogLevel level, F&& write) {
    std::ofstream(path_, std::ios::trunc).close();  // each call reads only its own lines
    {
      Log log(level, path_);
      write(log);
      (void)log.drain(std::chrono::milliseconds(500));
    }
    std::ifstream in(path_);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
  }

  static io::SocketAddress address(const char* ip, std::uint16_t port) {
    return *io::SocketAddress::parse(ip, port);
  }

  std::string path_;
};

// "2026-12-03T10:00:00Z warn " then the rest.
const std::string kStamp = R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ warn )";

TEST_F(SecurityLogTest, FailedLoginsNameTheAddressFirstAndTheUserLast) {
  const std::string text = logged(config::LogLevel::Warn, [](Log& log) {
    log_login_failed(log, address("203.0.113.7", 51234), LoginFailure::BadCredentials, "bob");
    log_login_failed(log, address("2001:db8::7", 40000), LoginFailure::AddressThrottled, "eve");
  });
  EXPECT_TRUE(std::regex_search(
      text, std::regex("^" + kStamp +
                       R"(\[203\.0\.113\.7:51234\] login failed \(bad credentials\): user bob\n)")))
      << text;
  EXPECT_TRUE(std::regex_search(
      text,
      std::regex(kStamp +
                 R"(\[\[2001:db8::7\]:40000\] login failed \(address throttled\): user eve\n$)")))
      << text;
}

TEST_F(SecurityLogTest, ALongUserNameIsCutAndCannotBreakTheLine) {
  const std::string user = std::string(100, 'a') + "\n2026-12-03T10:00:00Z warn [192.0.2.9:1]";
  const std::string text = logged(config::LogLevel::Warn, [&user](Log& log) {
    log_login_failed(log, address("198.51.100.1", 2000), LoginFailure::TooLong, user);
    log_login_failed(log, address("198.51.100.2", 2000), LoginFailure::BadCredentials,
                     "x\ny [192.0.2.9:1] login failed");
  });
  EXPECT_NE(text.find("] login failed (too long): user " + std::string(kMaxLoggedUserBytes, 'a') +
                      "...\n"),
            std::string::npos)
      << text;
  // One event, one line: a client's CR/LF cannot start a line of its own.
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 2) << text;
  EXPECT_NE(text.find("user x y [192.0.2.9:1] login failed\n"), std::string::npos) << text;
}

TEST_F(SecurityLogTest, RefusalsNameTheirClass) {
  const std::string text = logged(config::LogLevel::Warn, [](Log& log) {
    log_refused(log, address("192.0.2.1", 1000), Refusal::PerAddressLimit,
                "max_sessions_per_address reached");
    log_refused(log, address("192.0.2.2", 1001), Refusal::Capacity, "max_sessions reached");
  });
  EXPECT_TRUE(std::regex_search(
      text, std::regex("^" + kStamp +
                       R"(\[192\.0\.2\.1:1000\] refused \(per-address limit\): )"
                       R"(max_sessions_per_address reached\n)" +
                       kStamp +
                       R"(\[192\.0\.2\.2:1001\] refused \(capacity\): max_sessions reached\n$)")))
      << text;
}

TEST_F(SecurityLogTest, AWarnLevelLogKeepsThemAnErrorLevelLogDoesNot) {
  EXPECT_NE(logged(config::LogLevel::Warn,
                   [](Log& log) {
                     log_login_failed(log, address("192.0.2.1", 1), LoginFailure::BadCredentials,
                                      "u");
                   }),
            "");
  EXPECT_EQ(
      logged(config::LogLevel::Error,
             [](Log& log) { log_refused(log, address("192.0.2.1", 1), Refusal::Capacity, "d"); }),
      "");
}

}  // namespace
}  // namespace ringftpd::server
