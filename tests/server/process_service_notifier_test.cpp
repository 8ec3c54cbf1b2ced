// server/process/service_notifier: what reaches a service manager's
// NOTIFY_SOCKET (this test plays the manager with its own datagram socket).
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

#include "io/unique_fd.hpp"
#include "server/process/service_notifier.hpp"

namespace ringftpd::server {
namespace {

unsigned long long monotonic_usec() {
  timespec t{};
  clock_gettime(CLOCK_MONOTONIC, &t);
  return static_cast<unsigned long long>(t.tv_sec) * 1'000'000ULL +
         static_cast<unsigned long long>(t.tv_nsec) / 1000ULL;
}

// A bound AF_UNIX datagram socket in a fresh directory, named by
// NOTIFY_SOCKET for the test's duration.
class NotifySocketTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char dir[] = "/tmp/ringftpd-notify-XXXXXX";
    ASSERT_NE(mkdtemp(dir), nullptr);
    dir_ = dir;
    path_ = dir_ + "/notify";
    sock_.reset(socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    ASSERT_TRUE(sock_);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    ASSERT_LT(path_.size(), sizeof addr.sun_path);
    path_.copy(addr.sun_path, path_.size());
    ASSERT_EQ(bind(sock_.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    timeval timeout{5, 0};  // a missing message fails the test, never hangs it
    setsockopt(sock_.get(), SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    setenv("NOTIFY_SOCKET", path_.c_str(), 1);
  }
  void TearDown() override {
    unsetenv("NOTIFY_SOCKET");
    unlink(path_.c_str());
    rmdir(dir_.c_str());
  }
  std::string receive() {
    char buf[4096];
    const ssize_t n = recv(sock_.get(), buf, sizeof buf, 0);
    return n < 0 ? std::string("<nothing>") : std::string(buf, static_cast<std::size_t>(n));
  }

  std::string dir_;
  std::string path_;
  io::UniqueFd sock_;
};

TEST_F(NotifySocketTest, ReadyCarriesItsStatus) {
  const ServiceNotifier n;
  EXPECT_TRUE(n.is_active());
  EXPECT_EQ(n.ready("2 worker(s) serving"), "");
  EXPECT_EQ(receive(), "READY=1\nSTATUS=2 worker(s) serving");
  EXPECT_EQ(n.ready(""), "");
  EXPECT_EQ(receive(), "READY=1");
}

TEST_F(NotifySocketTest, ReloadingCarriesTheMonotonicClockOfNow) {
  const ServiceNotifier n;
  const unsigned long long before = monotonic_usec();
  EXPECT_EQ(n.reloading(), "");
  const unsigned long long after = monotonic_usec();
  const std::string m = receive();
  ASSERT_EQ(m.rfind("RELOADING=1\n", 0), 0u) << m;
  const std::size_t at = m.find("\nMONOTONIC_USEC=");
  ASSERT_NE(at, std::string::npos) << m;
  const unsigned long long usec = std::stoull(m.substr(at + 16));
  EXPECT_GE(usec, before);
  EXPECT_LE(usec, after);
}

TEST_F(NotifySocketTest, Stopping) {
  const ServiceNotifier n;
  EXPECT_EQ(n.stopping(), "");
  EXPECT_EQ(receive(), "STOPPING=1\nSTATUS=stopping");
}

TEST_F(NotifySocketTest, AManagerThatIsGoneIsReportedNotThrown) {
  const ServiceNotifier n;
  unlink(path_.c_str());
  EXPECT_NE(n.ready("x"), "");
}

TEST(ServiceNotifier, WithoutNotifySocketNothingIsSent) {
  unsetenv("NOTIFY_SOCKET");
  const ServiceNotifier n;
  EXPECT_FALSE(n.is_active());
  EXPECT_EQ(n.ready("x"), "");
  EXPECT_EQ(n.reloading(), "");
  EXPECT_EQ(n.stopping(), "");
}

}  // namespace
}  // namespace ringftpd::server
