// The PASV address choice: first matching rule, then the global address, then
// the control connection's local address; IPv4-mapped clients match IPv4 rules.
#include "server/passive_address.hpp"

#include <gtest/gtest.h>

#include <array>
#include <string>

#include "config/config.hpp"

namespace ringftpd::server {
namespace {

using Bytes = std::array<std::uint8_t, 4>;

io::SocketAddress at(const std::string& ip) {
  const auto a = io::SocketAddress::parse(ip, 21);
  EXPECT_TRUE(a.has_value()) << ip;
  return a.value_or(io::SocketAddress{});
}

// The [passive] of a real file, so the test also covers what the reader built.
config::PassiveSettings passive(const std::string& toml) {
  return config::parse(toml, "t.toml").passive;
}

constexpr const char* kRules = R"(
[passive]
public_address = "203.0.113.7"

[[passive.address_for]]
networks = ["127.0.0.2", "10.0.0.0/8"]
address = "10.1.2.3"

[[passive.address_for]]
networks = ["127.0.0.0/8", "fd00::/8"]
address = "192.0.2.50"

[[passive.address_for]]
networks = ["192.168.0.0/16"]
address = ""
)";

TEST(PassiveReplyAddress, FirstMatchingRuleWins) {
  const auto p = passive(kRules);
  const auto local = at("127.0.0.1");
  // 127.0.0.2 is in both the first and the second rule.
  EXPECT_EQ(passive_reply_address(p, local, at("127.0.0.2")), (Bytes{10, 1, 2, 3}));
  EXPECT_EQ(passive_reply_address(p, local, at("10.200.0.1")), (Bytes{10, 1, 2, 3}));
  EXPECT_EQ(passive_reply_address(p, local, at("127.0.0.3")), (Bytes{192, 0, 2, 50}));
}

TEST(PassiveReplyAddress, NoMatchFallsBackToPublicAddress) {
  const auto p = passive(kRules);
  EXPECT_EQ(passive_reply_address(p, at("127.0.0.1"), at("198.51.100.4")), (Bytes{203, 0, 113, 7}));
  EXPECT_EQ(passive_reply_address(p, at("::1"), at("2001:db8::4")), (Bytes{203, 0, 113, 7}));
}

TEST(PassiveReplyAddress, EmptyRuleAddressMeansLocal) {
  const auto p = passive(kRules);
  EXPECT_EQ(passive_reply_address(p, at("192.168.7.1"), at("192.168.7.20")),
            (Bytes{192, 168, 7, 1}));
}

TEST(PassiveReplyAddress, NoPublicAddressMeansLocal) {
  const auto p =
      passive("[[passive.address_for]]\nnetworks = [\"10.0.0.0/8\"]\naddress = \"10.1.2.3\"\n");
  EXPECT_EQ(passive_reply_address(p, at("127.0.0.5"), at("127.0.0.9")), (Bytes{127, 0, 0, 5}));
  EXPECT_EQ(passive_reply_address(p, at("127.0.0.5"), at("10.9.9.9")), (Bytes{10, 1, 2, 3}));
}

TEST(PassiveReplyAddress, MappedClientMatchesIpv4Rules) {
  const auto p = passive(kRules);
  // A dual-stack listener sees an IPv4 client as ::ffff:a.b.c.d.
  EXPECT_EQ(passive_reply_address(p, at("::ffff:127.0.0.1"), at("::ffff:10.4.4.4")),
            (Bytes{10, 1, 2, 3}));
  // ... and an IPv4 local address mapped the same way is still ours to give.
  EXPECT_EQ(passive_reply_address(p, at("::ffff:192.168.0.1"), at("::ffff:192.168.0.2")),
            (Bytes{192, 168, 0, 1}));
}

TEST(PassiveReplyAddress, Ipv6ClientMatchesIpv6Rules) {
  const auto p = passive(kRules);
  EXPECT_EQ(passive_reply_address(p, at("fd00::1"), at("fd00::2")), (Bytes{192, 0, 2, 50}));
  // An IPv6 network never holds an IPv4 client, nor the reverse.
  const auto v6_only =
      passive("[[passive.address_for]]\nnetworks = [\"::/0\"]\naddress = \"10.1.2.3\"\n");
  EXPECT_EQ(passive_reply_address(v6_only, at("127.0.0.1"), at("127.0.0.2")),
            (Bytes{127, 0, 0, 1}));
}

TEST(PassiveReplyAddress, Ipv6LocalWithoutAnyAddressGivesZeros) {
  const auto p = passive("");
  EXPECT_EQ(passive_reply_address(p, at("::1"), at("::1")), (Bytes{0, 0, 0, 0}));
}

}  // namespace
}  // namespace ringftpd::server
