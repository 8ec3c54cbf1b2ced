// CIDR parsing (one row per rule) and prefix matching at the byte boundaries.
#include "config/network.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>

#include <array>
#include <string>
#include <vector>

namespace ringftpd::config {
namespace {

std::vector<std::uint8_t> ip(const std::string& text) {
  std::array<std::uint8_t, 16> buf{};
  if (::inet_pton(AF_INET, text.c_str(), buf.data()) == 1) return {buf.begin(), buf.begin() + 4};
  if (::inet_pton(AF_INET6, text.c_str(), buf.data()) == 1) return {buf.begin(), buf.end()};
  ADD_FAILURE() << "bad test address " << text;
  return {};
}

Network net(const char* text) {
  const auto n = parse_network(text);
  EXPECT_TRUE(n.has_value()) << text;
  return n.value_or(Network{});
}

TEST(ParseNetwork, ReadsIpv4Cidr) {
  const Network n = net("10.0.0.0/8");
  EXPECT_FALSE(n.is_ipv6);
  EXPECT_EQ(n.prefix_bits, 8);
  EXPECT_EQ(n.bytes[0], 10);
}

TEST(ParseNetwork, ReadsIpv6Cidr) {
  const Network n = net("2001:db8::/32");
  EXPECT_TRUE(n.is_ipv6);
  EXPECT_EQ(n.prefix_bits, 32);
  EXPECT_EQ(n.bytes[0], 0x20);
  EXPECT_EQ(n.bytes[3], 0xb8);
}

TEST(ParseNetwork, BareAddressIsOneHost) {
  EXPECT_EQ(net("192.0.2.1").prefix_bits, 32);
  EXPECT_EQ(net("::1").prefix_bits, 128);
}

TEST(ParseNetwork, ZeroPrefixIsEverythingOfItsFamily) {
  EXPECT_EQ(net("0.0.0.0/0").prefix_bits, 0);
  EXPECT_EQ(net("::/0").prefix_bits, 0);
}

struct BadRow {
  const char* text;
  NetworkError error;
};

class ParseNetworkRefuses : public ::testing::TestWithParam<BadRow> {};

TEST_P(ParseNetworkRefuses, WithItsReason) {
  // Start from a reason other than the expected one, so the test sees it set.
  NetworkError why = GetParam().error == NetworkError::BadPrefix ? NetworkError::HostBitsSet
                                                                 : NetworkError::BadPrefix;
  EXPECT_FALSE(parse_network(GetParam().text, &why).has_value()) << GetParam().text;
  EXPECT_EQ(why, GetParam().error) << GetParam().text;
}

INSTANTIATE_TEST_SUITE_P(Rows, ParseNetworkRefuses,
                         ::testing::Values(BadRow{"", NetworkError::NotAnAddress},
                                           BadRow{"localhost/8", NetworkError::NotAnAddress},
                                           BadRow{"10.0.0/8", NetworkError::NotAnAddress},
                                           BadRow{"256.0.0.0/8", NetworkError::NotAnAddress},
                                           BadRow{" 10.0.0.0/8", NetworkError::NotAnAddress},
                                           BadRow{"fe80::%eth0/64", NetworkError::NotAnAddress},
                                           BadRow{"10.0.0.0/", NetworkError::BadPrefix},
                                           BadRow{"10.0.0.0/33", NetworkError::BadPrefix},
                                           BadRow{"10.0.0.0/-1", NetworkError::BadPrefix},
                                           BadRow{"10.0.0.0/+8", NetworkError::BadPrefix},
                                           BadRow{"10.0.0.0/08", NetworkError::BadPrefix},
                                           BadRow{"10.0.0.0/8 ", NetworkError::BadPrefix},
                                           BadRow{"10.0.0.0/8/8", NetworkError::BadPrefix},
                                           BadRow{"::/129", NetworkError::BadPrefix},
                                           BadRow{"10.1.2.3/8", NetworkError::HostBitsSet},
                                           BadRow{"192.168.1.0/23", NetworkError::HostBitsSet},
                                           BadRow{"10.0.0.1/31", NetworkError::HostBitsSet},
                                           BadRow{"2001:db8::1/64", NetworkError::HostBitsSet},
                                           BadRow{"::1/127", NetworkError::HostBitsSet}));

TEST(NetworkContains, Ipv4OnAByteBoundary) {
  const Network n = net("10.0.0.0/8");
  EXPECT_TRUE(n.contains(ip("10.0.0.0")));
  EXPECT_TRUE(n.contains(ip("10.255.255.255")));
  EXPECT_FALSE(n.contains(ip("11.0.0.0")));
  EXPECT_FALSE(n.contains(ip("9.255.255.255")));
}

TEST(NetworkContains, Ipv4InsideAByte) {
  const Network n = net("192.168.2.0/23");
  EXPECT_TRUE(n.contains(ip("192.168.2.1")));
  EXPECT_TRUE(n.contains(ip("192.168.3.254")));
  EXPECT_FALSE(n.contains(ip("192.168.1.255")));
  EXPECT_FALSE(n.contains(ip("192.168.4.0")));
}

TEST(NetworkContains, Ipv4HostAndEverything) {
  EXPECT_TRUE(net("127.0.0.2/32").contains(ip("127.0.0.2")));
  EXPECT_FALSE(net("127.0.0.2/32").contains(ip("127.0.0.3")));
  EXPECT_TRUE(net("0.0.0.0/0").contains(ip("203.0.113.9")));
}

TEST(NetworkContains, Ipv6Prefixes) {
  const Network n = net("fd00::/8");
  EXPECT_TRUE(n.contains(ip("fd12:3456::1")));
  EXPECT_FALSE(n.contains(ip("fe80::1")));
  const Network odd = net("2001:db8:8000::/33");
  EXPECT_TRUE(odd.contains(ip("2001:db8:ffff::1")));
  EXPECT_FALSE(odd.contains(ip("2001:db8:7fff::1")));
  EXPECT_TRUE(net("::/0").contains(ip("2001:db8::1")));
}

TEST(NetworkContains, NeverAcrossFamilies) {
  // "Everything" of one family holds nothing of the other.
  EXPECT_FALSE(net("0.0.0.0/0").contains(ip("::ffff:10.0.0.1")));
  EXPECT_FALSE(net("::/0").contains(ip("10.0.0.1")));
}

}  // namespace
}  // namespace ringftpd::config
