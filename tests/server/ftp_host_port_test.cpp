#include "server/ftp/host_port.hpp"

#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <optional>
#include <string>

namespace ringftpd::server::ftp {
namespace {

struct HostPortRow {
  const char* name;
  std::string arg;
  ParseStatus status;
  std::optional<HostPort> expected = std::nullopt;  // checked when status == Ok
};

HostPort v4(std::uint8_t a, std::uint8_t b, std::uint8_t c, std::uint8_t d, std::uint16_t port) {
  HostPort hp;
  hp.family = AddressFamily::Ipv4;
  hp.address = {a, b, c, d};
  hp.port = port;
  return hp;
}

HostPort v6(std::array<std::uint8_t, 16> bytes, std::uint16_t port) {
  HostPort hp;
  hp.family = AddressFamily::Ipv6;
  hp.address = bytes;
  hp.port = port;
  return hp;
}

constexpr std::array<std::uint8_t, 16> kLoopback6 = {0, 0, 0, 0, 0, 0, 0, 0,
                                                     0, 0, 0, 0, 0, 0, 0, 1};
// 1080::8:800:200C:417A (RFC 2428's example)
constexpr std::array<std::uint8_t, 16> kRfcExample6 = {0x10, 0x80, 0, 0, 0,    0,    0,    0,
                                                       0,    0x08, 8, 0, 0x20, 0x0C, 0x41, 0x7A};

void check(const HostPortRow& row, const ParseResult<HostPort>& r) {
  EXPECT_EQ(r.status, row.status) << '"' << row.arg << '"';
  if (row.status == ParseStatus::Ok && r.ok()) {
    ASSERT_TRUE(row.expected.has_value());
    EXPECT_TRUE(r.value == *row.expected) << '"' << row.arg << '"';
  }
}

class FtpPortRules : public testing::TestWithParam<HostPortRow> {};
TEST_P(FtpPortRules, Parse) {
  check(GetParam(), parse_port_argument(GetParam().arg));
}

INSTANTIATE_TEST_SUITE_P(
    Rules, FtpPortRules,
    testing::Values(HostPortRow{"loopback", "127,0,0,1,4,1", ParseStatus::Ok,
                                v4(127, 0, 0, 1, 1025)},
                    HostPortRow{"all_zero", "0,0,0,0,0,0", ParseStatus::Ok, v4(0, 0, 0, 0, 0)},
                    HostPortRow{"all_max", "255,255,255,255,255,255", ParseStatus::Ok,
                                v4(255, 255, 255, 255, 65535)},
                    HostPortRow{"leading_zeros", "010,000,000,001,004,001", ParseStatus::Ok,
                                v4(10, 0, 0, 1, 1025)},
                    HostPortRow{"empty", "", ParseStatus::Syntax},
                    HostPortRow{"five_fields", "127,0,0,1,4", ParseStatus::Syntax},
                    HostPortRow{"seven_fields", "127,0,0,1,4,1,1", ParseStatus::Syntax},
                    HostPortRow{"trailing_comma", "127,0,0,1,4,1,", ParseStatus::Syntax},
                    HostPortRow{"empty_field", "127,,0,1,4,1", ParseStatus::Syntax},
                    HostPortRow{"host_byte_256", "256,0,0,1,4,1", ParseStatus::Syntax},
                    HostPortRow{"port_byte_256", "127,0,0,1,256,1", ParseStatus::Syntax},
                    HostPortRow{"four_digits", "0127,0,0,1,4,1", ParseStatus::Syntax},
                    HostPortRow{"negative", "127,0,0,1,4,-1", ParseStatus::Syntax},
                    HostPortRow{"plus_sign", "127,0,0,1,4,+1", ParseStatus::Syntax},
                    HostPortRow{"leading_space", " 127,0,0,1,4,1", ParseStatus::Syntax},
                    HostPortRow{"trailing_space", "127,0,0,1,4,1 ", ParseStatus::Syntax},
                    HostPortRow{"space_after_comma", "127, 0,0,1,4,1", ParseStatus::Syntax},
                    HostPortRow{"letters", "a,0,0,1,4,1", ParseStatus::Syntax},
                    HostPortRow{"dots", "127.0.0.1.4.1", ParseStatus::Syntax}),
    [](const auto& info) { return std::string(info.param.name); });

class FtpEprtRules : public testing::TestWithParam<HostPortRow> {};
TEST_P(FtpEprtRules, Parse) {
  check(GetParam(), parse_eprt_argument(GetParam().arg));
}

INSTANTIATE_TEST_SUITE_P(
    Rules, FtpEprtRules,
    testing::Values(
        HostPortRow{"ipv4", "|1|132.235.1.2|6275|", ParseStatus::Ok, v4(132, 235, 1, 2, 6275)},
        HostPortRow{"ipv6", "|2|1080::8:800:200C:417A|5282|", ParseStatus::Ok,
                    v6(kRfcExample6, 5282)},
        HostPortRow{"ipv6_loopback", "|2|::1|21|", ParseStatus::Ok, v6(kLoopback6, 21)},
        HostPortRow{"other_delimiter", "!1!10.0.0.1!1024!", ParseStatus::Ok, v4(10, 0, 0, 1, 1024)},
        HostPortRow{"delimiter_126", "~1~10.0.0.1~65535~", ParseStatus::Ok, v4(10, 0, 0, 1, 65535)},
        HostPortRow{"unsupported_protocol", "|3|whatever|21|", ParseStatus::Unsupported},
        HostPortRow{"empty", "", ParseStatus::Syntax},
        HostPortRow{"only_delimiters", "||||", ParseStatus::Syntax},
        HostPortRow{"no_final_delimiter", "|1|132.235.1.2|6275", ParseStatus::Syntax},
        HostPortRow{"extra_field", "|1|132.235.1.2|6275||", ParseStatus::Syntax},
        HostPortRow{"mixed_delimiters", "|1!132.235.1.2|6275|", ParseStatus::Syntax},
        HostPortRow{"empty_port", "|1|132.235.1.2||", ParseStatus::Syntax},
        HostPortRow{"empty_address", "|1||6275|", ParseStatus::Syntax},
        HostPortRow{"empty_protocol", "||132.235.1.2|6275|", ParseStatus::Syntax},
        HostPortRow{"protocol_not_a_number", "|x|132.235.1.2|6275|", ParseStatus::Syntax},
        HostPortRow{"ipv6_address_for_protocol_1", "|1|::1|6275|", ParseStatus::Syntax},
        HostPortRow{"ipv4_address_for_protocol_2", "|2|1.2.3.4|6275|", ParseStatus::Syntax},
        HostPortRow{"octet_256", "|1|1.2.3.256|21|", ParseStatus::Syntax},
        HostPortRow{"short_ipv4", "|1|1.2.3|21|", ParseStatus::Syntax},
        HostPortRow{"zone_id", "|2|fe80::1%eth0|21|", ParseStatus::Syntax},
        HostPortRow{"port_65536", "|1|1.2.3.4|65536|", ParseStatus::Syntax},
        HostPortRow{"port_negative", "|1|1.2.3.4|-1|", ParseStatus::Syntax},
        HostPortRow{"port_with_space", "|1|1.2.3.4| 21|", ParseStatus::Syntax},
        HostPortRow{"space_delimiter", " 1 1.2.3.4 21 ", ParseStatus::Syntax},
        HostPortRow{"del_delimiter",
                    "\x7f"
                    "1\x7f"
                    "1.2.3.4\x7f"
                    "21\x7f",
                    ParseStatus::Syntax},
        HostPortRow{"nul_in_address", std::string("|1|1.2.3.4\0|21|", 16), ParseStatus::Syntax},
        HostPortRow{"very_long_address", "|2|" + std::string(200, ':') + "|21|",
                    ParseStatus::Syntax}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(FtpPassiveReplies, Pasv) {
  const Reply r = format_pasv_reply({127, 0, 0, 1}, 1025);
  EXPECT_EQ(r.code, kReplyEnteringPassiveMode);
  EXPECT_EQ(to_wire(r), "227 Entering Passive Mode (127,0,0,1,4,1)\r\n");
  EXPECT_EQ(to_wire(format_pasv_reply({255, 255, 255, 255}, 65535)),
            "227 Entering Passive Mode (255,255,255,255,255,255)\r\n");
}

TEST(FtpPassiveReplies, PasvRoundTripsThroughPort) {
  const Reply r = format_pasv_reply({192, 168, 7, 42}, 50'001);
  const auto open = r.text.find('(');
  const auto close = r.text.find(')');
  ASSERT_NE(open, std::string::npos);
  const auto parsed =
      parse_port_argument(std::string_view(r.text).substr(open + 1, close - open - 1));
  ASSERT_TRUE(parsed.ok());
  EXPECT_TRUE(parsed.value == v4(192, 168, 7, 42, 50'001));
}

TEST(FtpPassiveReplies, Epsv) {
  const Reply r = format_epsv_reply(6446);
  EXPECT_EQ(r.code, kReplyEnteringExtendedPassiveMode);
  EXPECT_EQ(to_wire(r), "229 Entering Extended Passive Mode (|||6446|)\r\n");
}

}  // namespace
}  // namespace ringftpd::server::ftp
