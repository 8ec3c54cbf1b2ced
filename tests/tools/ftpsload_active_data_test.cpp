#include "tools/ftpsload/active_data.hpp"

#include <gtest/gtest.h>
#include <sys/socket.h>

#include <optional>
#include <string>

namespace ringftpd::ftpsload {
namespace {

io::SocketAddress address(const char* ip, std::uint16_t port) {
  auto a = io::SocketAddress::parse(ip, port);
  EXPECT_TRUE(a) << ip;
  return a.value_or(io::SocketAddress{});
}

struct PortCase {
  const char* ip;
  std::uint16_t port;
  std::optional<std::string> port_argument;  // PORT (RFC 959 §4.1.2)
  std::string eprt_argument;                 // EPRT (RFC 2428 §2)
};

TEST(ActiveData, PortAndEprtArguments) {
  const PortCase cases[] = {
      // p1 = port / 256, p2 = port % 256, decimal, no spaces, no padding
      {"127.0.0.1", 37691, "127,0,0,1,147,59", "|1|127.0.0.1|37691|"},
      {"10.20.30.40", 1024, "10,20,30,40,4,0", "|1|10.20.30.40|1024|"},
      {"192.168.0.255", 65535, "192,168,0,255,255,255", "|1|192.168.0.255|65535|"},
      {"0.0.0.0", 255, "0,0,0,0,0,255", "|1|0.0.0.0|255|"},
      // IPv6: family 2, the text form; PORT cannot say it
      {"::1", 2121, std::nullopt, "|2|::1|2121|"},
      {"2001:db8::7", 50000, std::nullopt, "|2|2001:db8::7|50000|"},
  };
  for (const auto& c : cases) {
    const io::SocketAddress a = address(c.ip, c.port);
    EXPECT_EQ(format_port_argument(a), c.port_argument) << c.ip;
    EXPECT_EQ(format_eprt_argument(a), c.eprt_argument) << c.ip;
  }
}

TEST(ActiveData, ListenerOnTheGivenAddressWithAKernelPort) {
  ActiveListener l;
  // The port of `local` is ignored: the kernel picks one.
  ASSERT_EQ(open_active_listener(address("127.0.0.1", 1), l), 0);
  ASSERT_TRUE(l.fd);
  EXPECT_EQ(l.address.ip(), "127.0.0.1");
  EXPECT_NE(l.address.port(), 0);
  EXPECT_NE(l.address.port(), 1);
  int listening = 0;
  socklen_t len = sizeof listening;
  ASSERT_EQ(::getsockopt(l.fd.get(), SOL_SOCKET, SO_ACCEPTCONN, &listening, &len), 0);
  EXPECT_EQ(listening, 1);
}

TEST(ActiveData, ListenerOnAForeignAddressFails) {
  ActiveListener l;
  // TEST-NET-1 is on no interface here: bind fails, `l` is left alone.
  EXPECT_EQ(open_active_listener(address("192.0.2.1", 0), l), -EADDRNOTAVAIL);
  EXPECT_FALSE(l.fd);
}

TEST(ActiveData, RouteSourceOfLoopback) {
  const auto s = route_source(address("127.0.0.1", 21));
  ASSERT_TRUE(s);
  EXPECT_EQ(s->ip(), "127.0.0.1");
  EXPECT_EQ(s->port(), 0);
}

}  // namespace
}  // namespace ringftpd::ftpsload
