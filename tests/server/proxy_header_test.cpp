#include "server/proxy_header.hpp"

#include <gtest/gtest.h>

#include <array>
#include <string>
#include <vector>

namespace ringftpd::server {
namespace {

using Status = ProxyParse::Status;

std::span<const std::byte> bytes_of(const std::string& s) {
  return std::as_bytes(std::span(s.data(), s.size()));
}

ProxyParse parse(const std::string& s, ProxyVersions v = ProxyVersions::Any) {
  return parse_proxy_header(bytes_of(s), v);
}

std::string v2(std::uint8_t ver_cmd, std::uint8_t fam, const std::string& body) {
  std::string h = "\r\n\r\n";
  h += '\0';
  h += "\r\nQUIT\n";
  h += static_cast<char>(ver_cmd);
  h += static_cast<char>(fam);
  h += static_cast<char>(body.size() >> 8);
  h += static_cast<char>(body.size() & 0xFF);
  return h + body;
}

using Ipv4 = std::array<std::uint8_t, 4>;

std::string ipv4_block(Ipv4 src, Ipv4 dst, std::uint16_t sport, std::uint16_t dport) {
  std::string b(src.begin(), src.end());
  b.append(dst.begin(), dst.end());
  b += static_cast<char>(sport >> 8);
  b += static_cast<char>(sport & 0xFF);
  b += static_cast<char>(dport >> 8);
  b += static_cast<char>(dport & 0xFF);
  return b;
}

TEST(ProxyHeaderTest, V1Tcp4GivesTheClientAndTheLengthOfTheLine) {
  const std::string line = "PROXY TCP4 192.0.2.7 198.51.100.2 51234 21\r\n";
  const auto p = parse(line + "USER alice\r\n");
  ASSERT_EQ(p.status, Status::Complete) << p.error;
  EXPECT_EQ(p.header.version, 1);
  EXPECT_EQ(p.header.length, line.size());
  ASSERT_TRUE(p.header.source);
  EXPECT_EQ(p.header.source->to_string(), "192.0.2.7:51234");
  EXPECT_EQ(p.header.destination->to_string(), "198.51.100.2:21");
}

TEST(ProxyHeaderTest, V1Tcp6) {
  const auto p = parse("PROXY TCP6 2001:db8::7 2001:db8::1 40000 990\r\n");
  ASSERT_EQ(p.status, Status::Complete) << p.error;
  EXPECT_EQ(p.header.source->to_string(), "[2001:db8::7]:40000");
}

TEST(ProxyHeaderTest, V1UnknownKeepsTheSocketsAddresses) {
  const auto p = parse("PROXY UNKNOWN ffff:f...f:ffff 65535 65535\r\n");
  ASSERT_EQ(p.status, Status::Complete) << p.error;
  EXPECT_FALSE(p.header.source);
  EXPECT_FALSE(p.header.destination);
}

TEST(ProxyHeaderTest, AHeaderFedOneByteAtATimeIsIncompleteUntilItsLastByte) {
  const std::string v1 = "PROXY TCP4 192.0.2.7 198.51.100.2 51234 21\r\n";
  const std::string v2h = v2(0x21, 0x11, ipv4_block({192, 0, 2, 7}, {127, 0, 0, 1}, 5, 21));
  for (const std::string& whole : {v1, v2h}) {
    for (std::size_t n = 1; n < whole.size(); ++n) {
      EXPECT_EQ(parse(whole.substr(0, n)).status, Status::Incomplete) << n;
    }
    EXPECT_EQ(parse(whole).status, Status::Complete);
  }
}

TEST(ProxyHeaderTest, V1WithoutCrlfWithinItsBoundIsRefused) {
  const std::string longline = "PROXY TCP4 " + std::string(120, '1');
  EXPECT_EQ(parse(longline.substr(0, 106)).status, Status::Incomplete);
  const auto p = parse(longline);
  EXPECT_EQ(p.status, Status::Invalid);
  EXPECT_NE(p.error.find("107"), std::string_view::npos);
}

TEST(ProxyHeaderTest, MalformedV1LinesAreRefused) {
  for (const std::string line : {
           "PROXY TCP4 192.0.2.7 198.51.100.2 051234 21\r\n",  // leading zero
           "PROXY TCP4 192.0.2.7 198.51.100.2 65536 21\r\n",   // port out of range
           "PROXY TCP4 192.0.2.7 198.51.100.2 51234\r\n",      // a field missing
           "PROXY TCP4 192.0.2.7 198.51.100.2 1 2 3\r\n",      // one too many
           "PROXY TCP4 2001:db8::7 198.51.100.2 1 2\r\n",      // family mismatch
           "PROXY TCP6 192.0.2.7 198.51.100.2 1 2\r\n",        // family mismatch
           "PROXY TCP4 192.0.2.7  198.51.100.2 1 2\r\n",       // double space
           "PROXY UDP4 192.0.2.7 198.51.100.2 1 2\r\n",        // not TCP
           "PROXY TCP4 192.0.2.7\x01 198.51.100.2 1 2\r\n",    // control byte
           "PROXY TCP4 192.0.2.7 198.51.100.2 1 2\r\r\n",      // CR without LF
           "PROXY TCP4 192.0.2.7 198.51.100.2 1 2\n",          // LF alone
       }) {
    EXPECT_EQ(parse(line).status, Status::Invalid) << line;
  }
}

TEST(ProxyHeaderTest, AClientThatSkippedTheBalancerIsToldApartAtItsFirstByte) {
  EXPECT_EQ(parse("USER alice\r\n").status, Status::Invalid);
  EXPECT_EQ(parse("\x16\x03\x01").status, Status::Invalid);  // a TLS ClientHello
  EXPECT_EQ(parse("PROXZ").status, Status::Invalid);
  EXPECT_EQ(parse("\r\n\r\n\x01").status, Status::Invalid);
  EXPECT_EQ(parse("").status, Status::Incomplete);
}

TEST(ProxyHeaderTest, AListenerTakesOnlyItsVersions) {
  const std::string v1 = "PROXY TCP4 192.0.2.7 198.51.100.2 51234 21\r\n";
  const std::string v2h = v2(0x21, 0x11, ipv4_block({192, 0, 2, 7}, {127, 0, 0, 1}, 5, 21));
  EXPECT_EQ(parse(v1, ProxyVersions::V2).status, Status::Invalid);
  EXPECT_EQ(parse(v2h, ProxyVersions::V1).status, Status::Invalid);
  EXPECT_EQ(parse(v1, ProxyVersions::V1).status, Status::Complete);
  EXPECT_EQ(parse(v2h, ProxyVersions::V2).status, Status::Complete);
}

TEST(ProxyHeaderTest, V2Ipv4WithTlvs) {
  std::string tlvs;
  tlvs += '\x01';  // ALPN
  tlvs += std::string("\x00\x03", 2) + "ftp";
  tlvs += '\x05';  // unique id
  tlvs += std::string("\x00\x00", 2);
  const std::string h =
      v2(0x21, 0x11, ipv4_block({192, 0, 2, 7}, {127, 0, 0, 1}, 51234, 21) + tlvs);
  const auto p = parse(h + "trailing");
  ASSERT_EQ(p.status, Status::Complete) << p.error;
  EXPECT_EQ(p.header.version, 2);
  EXPECT_EQ(p.header.length, h.size());
  EXPECT_EQ(p.header.source->to_string(), "192.0.2.7:51234");
  EXPECT_EQ(p.header.destination->to_string(), "127.0.0.1:21");
}

TEST(ProxyHeaderTest, V2Ipv6) {
  std::string block(16, '\0');
  block[0] = '\x20';
  block[1] = '\x01';
  block[15] = '\x07';
  block += std::string(15, '\0') + "\x01";
  block += std::string("\x9C\x40\x03\xDE", 4);
  const auto p = parse(v2(0x21, 0x21, block));
  ASSERT_EQ(p.status, Status::Complete) << p.error;
  EXPECT_EQ(p.header.source->to_string(), "[2001::7]:40000");
  EXPECT_EQ(p.header.destination->to_string(), "[::1]:990");
}

TEST(ProxyHeaderTest, V2LocalAndUnspecKeepTheSocketsAddresses) {
  for (const std::string& h :
       {v2(0x20, 0x00, ""), v2(0x20, 0x11, std::string(12, 'x')), v2(0x21, 0x00, "whatever")}) {
    const auto p = parse(h);
    ASSERT_EQ(p.status, Status::Complete) << p.error;
    EXPECT_FALSE(p.header.source);
    EXPECT_EQ(p.header.length, h.size());
  }
}

TEST(ProxyHeaderTest, V2WithAHugeLengthIsRefusedWithoutWaitingForIt) {
  std::string h = v2(0x21, 0x11, "");
  h[14] = '\xFF';
  h[15] = '\xFF';
  const auto p = parse(h);
  EXPECT_EQ(p.status, Status::Invalid);
  EXPECT_NE(p.error.find("1024"), std::string_view::npos);
}

TEST(ProxyHeaderTest, MalformedV2HeadersAreRefused) {
  const std::string addr = ipv4_block({192, 0, 2, 7}, {127, 0, 0, 1}, 1, 2);
  EXPECT_EQ(parse(v2(0x11, 0x11, addr)).status, Status::Invalid);               // version 1 in v2
  EXPECT_EQ(parse(v2(0x22, 0x11, addr)).status, Status::Invalid);               // command 2
  EXPECT_EQ(parse(v2(0x21, 0x12, addr)).status, Status::Invalid);               // datagram
  EXPECT_EQ(parse(v2(0x21, 0x41, addr)).status, Status::Invalid);               // family 4
  EXPECT_EQ(parse(v2(0x21, 0x11, addr.substr(0, 8))).status, Status::Invalid);  // short
  EXPECT_EQ(parse(v2(0x21, 0x21, addr)).status, Status::Invalid);               // short for IPv6
  EXPECT_EQ(parse(v2(0x21, 0x11, addr + "\x04\x00")).status, Status::Invalid);  // cut TLV
  EXPECT_EQ(parse(v2(0x21, 0x11, addr + std::string("\x04\x00\x09xx", 5))).status,
            Status::Invalid);  // TLV longer than the header
}

TEST(ProxyHeaderTest, V2UnixStreamKeepsTheSocketsAddresses) {
  const auto p = parse(v2(0x21, 0x31, std::string(216, '\0')));
  ASSERT_EQ(p.status, Status::Complete) << p.error;
  EXPECT_FALSE(p.header.source);
}

}  // namespace
}  // namespace ringftpd::server
