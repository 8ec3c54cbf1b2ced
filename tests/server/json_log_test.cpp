// server/json_log (and Log's side of it): every session-log line has one JSON
// object per line, structured events carry their fields, hostile client text
// never breaks a line, and the sink's guarantees (never blocking, drops
// counted) hold for it too.
#include "server/json_log.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "server/log.hpp"
#include "server/security_log.hpp"
#include "tests/server/json_reader.hpp"

namespace ringftpd::server {
namespace {

using namespace std::chrono_literals;
using Fields = std::map<std::string, std::string>;
using test_support::JsonReader;

Fields parsed(const std::string& line) {
  auto fields = JsonReader(line).flat_object_line();
  EXPECT_TRUE(fields.has_value()) << line;
  return fields.value_or(Fields{});
}

// 2026-11-23T10:00:00.123Z
const auto kWhen = std::chrono::system_clock::time_point(1795428000123ms);

TEST(JsonLogTest, APlainLineCarriesTimeLevelProcessAndText) {
  const std::string line = JsonLog::format(kWhen, config::LogLevel::Info, "worker 2", 4242,
                                           "192.0.2.1:5000", "connected to 192.0.2.9:21", "", {});
  EXPECT_EQ(line,
            "{\"time\":\"2026-11-23T10:00:00.123Z\",\"level\":\"info\",\"process\":\"worker 2\","
            "\"pid\":4242,\"client\":\"192.0.2.1:5000\",\"event\":\"log\","
            "\"msg\":\"connected to 192.0.2.9:21\"}\n");
}

TEST(JsonLogTest, ClientsAreAddressesAndProcessesAreSources) {
  EXPECT_EQ(parsed(JsonLog::format(kWhen, config::LogLevel::Warn, "master", 1,
                                   "[2001:db8::7]:40000", "x", "", {}))["client"],
            "[2001:db8::7]:40000");
  const Fields f =
      parsed(JsonLog::format(kWhen, config::LogLevel::Error, "master", 1, "worker 3", "x", "", {}));
  EXPECT_EQ(f.at("source"), "worker 3");
  EXPECT_EQ(f.count("client"), 0U);
  EXPECT_EQ(f.at("level"), "error");
  const Fields none =
      parsed(JsonLog::format(kWhen, config::LogLevel::Debug, "authd", 7, "", "x", "", {}));
  EXPECT_EQ(none.count("client") + none.count("source"), 0U);
}

TEST(JsonLogTest, StructuredEventsCarryTypedFields) {
  const LogField fields[] = {text_field("direction", "upload"),
                             text_field("path", "/in/a b.bin"),
                             number_field("bytes", 3457024),
                             number_field("duration_ms", 12),
                             bool_field("anonymous", false),
                             text_field("reason", "storage full: No space left on device")};
  const std::string line = JsonLog::format(kWhen, config::LogLevel::Info, "worker 1", 9,
                                           "127.0.0.1:1", "upload ... failed", "transfer", fields);
  EXPECT_NE(line.find("\"bytes\":3457024,"), std::string::npos);
  EXPECT_NE(line.find("\"anonymous\":false,"), std::string::npos);
  const Fields f = parsed(line);
  EXPECT_EQ(f.at("event"), "transfer");
  EXPECT_EQ(f.at("path"), "/in/a b.bin");
  EXPECT_EQ(f.at("reason"), "storage full: No space left on device");
  EXPECT_EQ(f.at("duration_ms"), "12");
}

TEST(JsonLogTest, HostileClientTextNeverBreaksTheLine) {
  const char kUser[] = "eve\",\"level\":\"debug\"}\n{\"event\":\"login\x00\r\x1b[2J\xff\xc0";
  const std::string user(kUser, sizeof kUser);  // the final NUL too
  const std::string path(8000, '\n');
  const LogField fields[] = {text_field("user", user), text_field("path", path),
                             text_field("path2", path), text_field("path3", path)};
  const std::string line = JsonLog::format(kWhen, config::LogLevel::Warn, "worker 1", 9,
                                           "127.0.0.1:1", user + path, "login_failed", fields);
  EXPECT_LE(line.size(), LineSink::kMaxLineBytes);
  EXPECT_EQ(line.find('\n'), line.size() - 1);  // one line
  const Fields f = parsed(line);
  EXPECT_EQ(f.at("level"), "warn");
  EXPECT_EQ(f.at("event"), "login_failed");
  EXPECT_EQ(f.at("user").substr(0, 4), "eve\"");
  EXPECT_NE(f.at("user").find("\xef\xbf\xbd"), std::string::npos);  // the bad bytes
}

class JsonLogFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (std::string* path : {&text_, &json_}) {
      char name[] = "/tmp/ringftpd-json-log-XXXXXX";
      const int fd = mkstemp(name);
      ASSERT_GE(fd, 0);
      close(fd);
      *path = name;
    }
  }
  void TearDown() override {
    unlink(text_.c_str());
    unlink(json_.c_str());
  }
  static std::vector<std::string> lines_of(const std::string& path) {
    std::ifstream in(path);
    std::vector<std::string> lines;
    for (std::string line; std::getline(in, line);) lines.push_back(line + "\n");
    return lines;
  }
  std::string text_, json_;
};

TEST_F(JsonLogFileTest, EveryTextLineHasItsObjectAtTheSameLevel) {
  {
    Log log(config::LogLevel::Info, text_, json_);
    log.info("master", "pid 1, 2 worker(s)");
    log.debug("master", "not at this level");
    log_login_failed(log, *io::SocketAddress::parse("203.0.113.7", 51234),
                     LoginFailure::BadCredentials, "bob\nfake");
    log_refused(log, *io::SocketAddress::parse("203.0.113.8", 1), Refusal::Capacity, "full");
    log.event(config::LogLevel::Debug, "x", "hidden", "transfer", {number_field("bytes", 1)});
    EXPECT_TRUE(log.drain(500ms));
  }
  const auto text = lines_of(text_);
  const auto json = lines_of(json_);
  ASSERT_EQ(text.size(), 3U);
  ASSERT_EQ(json.size(), 3U);
  const Fields start = parsed(json[0]);
  EXPECT_EQ(start.at("event"), "log");
  EXPECT_EQ(start.at("source"), "master");
  EXPECT_EQ(start.at("process"), "master");
  EXPECT_EQ(start.at("pid"), std::to_string(getpid()));
  const Fields failed = parsed(json[1]);
  EXPECT_EQ(failed.at("event"), "login_failed");
  EXPECT_EQ(failed.at("client"), "203.0.113.7:51234");
  EXPECT_EQ(failed.at("user"), "bob\nfake");
  EXPECT_EQ(failed.at("reason"), "bad credentials");
  // The text line is the one ban filters read: unchanged.
  EXPECT_NE(text[1].find("warn [203.0.113.7:51234] login failed (bad credentials): user bob fake"),
            std::string::npos);
  const Fields refused = parsed(json[2]);
  EXPECT_EQ(refused.at("event"), "refused");
  EXPECT_EQ(refused.at("reason"), "capacity");
  EXPECT_EQ(refused.at("detail"), "full");
}

TEST_F(JsonLogFileTest, AfterForkNamesTheChildAndDropsTheParentsQueue) {
  Log log(config::LogLevel::Info, text_, json_);
  log.after_fork("worker 4");
  log.warn("worker 4", "sandbox: off");
  EXPECT_TRUE(log.drain(500ms));
  const auto json = lines_of(json_);
  ASSERT_EQ(json.size(), 1U);
  EXPECT_EQ(parsed(json[0]).at("process"), "worker 4");
}

// The JSON sink is a LineSink like the text one: a reader that never reads
// costs dropped lines, counted with the text log's, never a blocked writer.
TEST(JsonLogPipeTest, ANeverReadPipeDropsWholeCountedLines) {
  int p[2];
  ASSERT_EQ(pipe2(p, O_CLOEXEC), 0);
  const int fd =
      open(("/proc/self/fd/" + std::to_string(p[1])).c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  Log log(config::LogLevel::Info, LineSink(), JsonLog(LineSink(fd, true, LineSink::Mode::Write)));
  EXPECT_GE(log.json_fd(), 0);
  const std::string text(900, 'x');
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < 2000; ++i) log.info("master", text);  // ~2 MB: more than pipe and queue
  EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
  EXPECT_GT(log.take_dropped(), 0U);
  close(p[1]);
  // Whatever reached the pipe is whole objects.
  fcntl(p[0], F_SETFL, O_NONBLOCK);
  std::string got;
  char buf[65536];
  for (ssize_t n; (n = read(p[0], buf, sizeof buf)) > 0;)
    got.append(buf, static_cast<std::size_t>(n));
  close(p[0]);
  ASSERT_FALSE(got.empty());
  std::istringstream in(got);
  for (std::string line; std::getline(in, line);) parsed(line + "\n");
}

}  // namespace
}  // namespace ringftpd::server
