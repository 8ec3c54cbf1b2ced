// passive.public_address and [[passive.address_for]]: accepted files read into
// binary addresses and networks, and one row per refusal at its file:line:column.
#include "config/passive_reader.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "config/config.hpp"
#include "tests/config/temp_tree.hpp"

namespace ringftpd::config {
namespace {

using test_support::ErrorRow;
using ::testing::HasSubstr;
using ::testing::StartsWith;

Ipv4Address v4(std::uint8_t a, std::uint8_t b, std::uint8_t c, std::uint8_t d) {
  return Ipv4Address{{a, b, c, d}};
}

TEST(PassiveAddresses, DefaultsAreTheLocalAddressAndNoRules) {
  const Config c = parse("", "t.toml");
  EXPECT_FALSE(c.passive.public_ipv4.has_value());
  EXPECT_TRUE(c.passive.address_for.empty());
}

TEST(PassiveAddresses, PublicLiteralIsKeptAsWrittenAndInBinary) {
  const Config c = parse("[passive]\npublic_address = \"203.0.113.7\"\n", "t.toml");
  EXPECT_EQ(c.passive.public_address, "203.0.113.7");
  EXPECT_EQ(c.passive.public_ipv4, v4(203, 0, 113, 7));
}

TEST(PassiveAddresses, EmptyPublicAddressMeansLocal) {
  const Config c = parse("[passive]\npublic_address = \"\"\n", "t.toml");
  EXPECT_FALSE(c.passive.public_ipv4.has_value());
}

TEST(PassiveAddresses, PublicHostNameIsResolvedAtLoad) {
  const Config c = parse("[passive]\npublic_address = \"localhost\"\n", "t.toml");
  EXPECT_EQ(c.passive.public_address, "localhost");
  ASSERT_TRUE(c.passive.public_ipv4.has_value());
  EXPECT_EQ(c.passive.public_ipv4->bytes[0], 127);
}

TEST(PassiveAddresses, RulesKeepTheirOrderNetworksAndAddresses) {
  const Config c = parse(R"(
[passive]
public_address = "203.0.113.7"

[[passive.address_for]]
networks = ["10.0.0.0/8", "192.168.0.0/16", "fd00::/8"]
address = "10.1.2.3"

[[passive.address_for]]
networks = ["127.0.0.2"]
address = "localhost"

[[passive.address_for]]
networks = ["0.0.0.0/0"]
address = ""
)",
                         "t.toml");
  const auto& rules = c.passive.address_for;
  ASSERT_EQ(rules.size(), 3u);
  ASSERT_EQ(rules[0].networks.size(), 3u);
  EXPECT_EQ(rules[0].networks[0], parse_network("10.0.0.0/8"));
  EXPECT_EQ(rules[0].networks[1], parse_network("192.168.0.0/16"));
  EXPECT_EQ(rules[0].networks[2], parse_network("fd00::/8"));
  EXPECT_EQ(rules[0].address, "10.1.2.3");
  EXPECT_EQ(rules[0].ipv4, v4(10, 1, 2, 3));
  EXPECT_EQ(rules[1].networks[0], parse_network("127.0.0.2/32"));
  EXPECT_EQ(rules[1].address, "localhost");
  ASSERT_TRUE(rules[1].ipv4.has_value());
  EXPECT_EQ(rules[1].ipv4->bytes[0], 127);
  EXPECT_EQ(rules[2].address, "");
  EXPECT_FALSE(rules[2].ipv4.has_value());
  EXPECT_EQ(c.passive.public_ipv4, v4(203, 0, 113, 7));
}

TEST(PassiveAddresses, InlineArrayOfTablesIsTheSame) {
  const Config c =
      parse("[passive]\naddress_for = [{ networks = [\"10.0.0.0/8\"], address = \"10.1.2.3\" }]\n",
            "t.toml");
  ASSERT_EQ(c.passive.address_for.size(), 1u);
  EXPECT_EQ(c.passive.address_for[0].ipv4, v4(10, 1, 2, 3));
}

const ErrorRow kRows[] = {
    {"address_for_is_table", "[passive.address_for]\nnetworks = [\"10.0.0.0/8\"]\n",
     "t.toml:1:1: ", "passive.address_for has the wrong type, expected array of tables"},
    {"address_for_unknown_key",
     "[[passive.address_for]]\nnetworks = [\"10.0.0.0/8\"]\naddress = \"10.1.2.3\"\nadress = "
     "\"x\"\n",
     "t.toml:4:1: ",
     "unknown key 'adress' in passive.address_for[0], expected one of: networks, address"},
    {"address_for_no_networks", "[[passive.address_for]]\naddress = \"10.1.2.3\"\n",
     "t.toml:1:1: ", "passive.address_for[0].networks is missing"},
    {"address_for_networks_empty",
     "[[passive.address_for]]\nnetworks = []\naddress = \"10.1.2.3\"\n",
     "t.toml:2:12: ", "passive.address_for[0].networks is empty, expected at least one"},
    {"address_for_networks_string",
     "[[passive.address_for]]\nnetworks = \"10.0.0.0/8\"\naddress = \"10.1.2.3\"\n",
     "t.toml:2:12: ",
     "passive.address_for[0].networks has the wrong type, expected array of strings"},
    {"address_for_network_integer",
     "[[passive.address_for]]\nnetworks = [\"10.0.0.0/8\", 7]\naddress = \"10.1.2.3\"\n",
     "t.toml:2:27: ", "passive.address_for[0].networks[1] has the wrong type, expected string"},
    {"address_for_network_name",
     "[[passive.address_for]]\nnetworks = [\"10.0.0.0/8\", \"lan.example\"]\naddress = "
     "\"10.1.2.3\"\n",
     "t.toml:2:27: ",
     "\"lan.example\" is not a network (not an IPv4 or IPv6 address), expected a CIDR"},
    {"address_for_network_prefix",
     "[[passive.address_for]]\nnetworks = [\"10.0.0.0/33\"]\naddress = \"10.1.2.3\"\n",
     "t.toml:2:13: ", "\"10.0.0.0/33\" is not a network (bad prefix length)"},
    {"address_for_network_host_bits",
     "[[passive.address_for]]\nnetworks = [\"10.1.2.3/8\"]\naddress = \"10.1.2.3\"\n",
     "t.toml:2:13: ", "\"10.1.2.3/8\" is not a network (bits set past the prefix length)"},
    {"address_for_ipv6_network_host_bits",
     "[[passive.address_for]]\nnetworks = [\"2001:db8::1/32\"]\naddress = \"10.1.2.3\"\n",
     "t.toml:2:13: ", "(bits set past the prefix length)"},
    {"address_for_no_address", "[[passive.address_for]]\nnetworks = [\"10.0.0.0/8\"]\n",
     "t.toml:1:1: ", "passive.address_for[0].address is missing, expected an IPv4 literal"},
    {"address_for_address_ipv6",
     "[[passive.address_for]]\nnetworks = [\"10.0.0.0/8\"]\naddress = \"2001:db8::1\"\n",
     "t.toml:3:11: ", "passive.address_for[0].address = \"2001:db8::1\" is an IPv6 address"},
    {"address_for_address_malformed",
     "[[passive.address_for]]\nnetworks = [\"10.0.0.0/8\"]\naddress = \"10.1.2\"\n",
     "t.toml:3:11: ", "\"10.1.2\" is neither an IPv4 address nor a host name"},
    {"address_for_address_cidr",
     "[[passive.address_for]]\nnetworks = [\"10.0.0.0/8\"]\naddress = \"10.1.2.3/32\"\n",
     "t.toml:3:11: ", "is neither an IPv4 address nor a host name"},
    {"address_for_address_unresolvable",
     "[[passive.address_for]]\nnetworks = [\"10.0.0.0/8\"]\naddress = \"no-such-host.invalid\"\n",
     "t.toml:3:11: ",
     "passive.address_for[0].address = \"no-such-host.invalid\" does not resolve ("},
    {"address_for_second_rule",
     "[[passive.address_for]]\nnetworks = [\"10.0.0.0/8\"]\naddress = \"10.1.2.3\"\n"
     "[[passive.address_for]]\nnetworks = [\"192.168.0.0/16\"]\naddress = 5\n",
     "t.toml:6:11: ", "passive.address_for[1].address has the wrong type, expected string"},
    {"public_address_malformed", "[passive]\npublic_address = \"203.0.113\"\n",
     "t.toml:2:18: ", "passive.public_address = \"203.0.113\" is neither an IPv4 address"},
};

class PassiveAddressErrors : public ::testing::TestWithParam<ErrorRow> {};

TEST_P(PassiveAddressErrors, IsRefusedAtItsPlace) {
  const ErrorRow& row = GetParam();
  try {
    (void)parse(row.toml, "t.toml");
    FAIL() << "accepted:\n" << row.toml;
  } catch (const ConfigError& e) {
    EXPECT_THAT(e.what(), StartsWith(row.prefix));
    EXPECT_THAT(e.what(), HasSubstr(row.detail));
  }
}

INSTANTIATE_TEST_SUITE_P(Schema, PassiveAddressErrors, ::testing::ValuesIn(kRows),
                         test_support::row_name);

}  // namespace
}  // namespace ringftpd::config
