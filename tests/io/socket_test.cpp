#include "io/socket.hpp"

#include <gtest/gtest.h>

#include <system_error>

namespace ringftpd::io {
namespace {

TEST(SocketAddress, ParsesAndPrintsBothFamilies) {
  const auto v4 = SocketAddress::parse("127.0.0.1", 2121);
  ASSERT_TRUE(v4);
  EXPECT_EQ(v4->to_string(), "127.0.0.1:2121");
  const auto v6 = SocketAddress::parse("::1", 21);
  ASSERT_TRUE(v6);
  EXPECT_EQ(v6->to_string(), "[::1]:21");
  EXPECT_FALSE(SocketAddress::parse("localhost", 21));  // numeric only: no DNS
  EXPECT_FALSE(SocketAddress::parse("127.0.0.256", 21));
}

TEST(SocketAddress, SameHostIgnoresPort) {
  EXPECT_TRUE(
      SocketAddress::parse("127.0.0.1", 1)->same_host(*SocketAddress::parse("127.0.0.1", 2)));
  EXPECT_FALSE(
      SocketAddress::parse("127.0.0.1", 1)->same_host(*SocketAddress::parse("127.0.0.2", 1)));
  EXPECT_FALSE(SocketAddress::parse("::1", 1)->same_host(*SocketAddress::parse("127.0.0.1", 1)));
}

TEST(ListenOn, ReportsAddressInUseWithTheAddress) {
  const UniqueFd first = listen_on(*SocketAddress::parse("127.0.0.1", 0), {});
  const auto bound = local_address(first.get());
  ASSERT_TRUE(bound);
  try {
    (void)listen_on(*bound, {});
    FAIL() << "second bind succeeded";
  } catch (const std::system_error& e) {
    EXPECT_NE(std::string(e.what()).find(bound->to_string()), std::string::npos) << e.what();
    EXPECT_EQ(e.code().value(), EADDRINUSE);
  }
}

TEST(ListenOn, ReusePortAllowsOneSocketPerWorker) {
  ListenOptions o;
  o.reuse_port = true;
  const UniqueFd first = listen_on(*SocketAddress::parse("127.0.0.1", 0), o);
  const auto bound = local_address(first.get());
  ASSERT_TRUE(bound);
  const UniqueFd second = listen_on(*bound, o);
  EXPECT_TRUE(second.valid());
}

}  // namespace
}  // namespace ringftpd::io
