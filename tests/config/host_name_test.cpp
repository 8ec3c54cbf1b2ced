// Host-name syntax (one row per rule) and the resolver on names every test
// machine answers from /etc/hosts or refuses at once (RFC 6761 ".invalid").
#include "config/host_name.hpp"

#include <gtest/gtest.h>

namespace ringftpd::config {
namespace {

TEST(IsHostName, AcceptsNames) {
  for (const char* name : {"localhost", "ftp.example.com", "ftp.example.com.", "a-b.c9.example",
                           "x", "1.example.com", "xn--bcher-kva.example"}) {
    EXPECT_TRUE(is_host_name(name)) << name;
  }
}

TEST(IsHostName, RefusesOthers) {
  const std::string long_label(64, 'a');
  const std::string long_name = std::string(62, 'a') + "." + std::string(62, 'b') + "." +
                                std::string(62, 'c') + "." + std::string(62, 'd') + ".ee";
  for (const std::string& name :
       {std::string(""), std::string("."), std::string("a..b"), std::string(".a"),
        std::string("-a.example"), std::string("a-.example"), std::string("a_b.example"),
        std::string("a b"), std::string("ftp.example.com/24"), std::string("10.1.2"),
        std::string("10.1.2.3.4"), std::string("::1"), long_label + ".example", long_name}) {
    EXPECT_FALSE(is_host_name(name)) << name;
  }
  EXPECT_EQ(long_name.size(), 254u);
}

TEST(ResolveIpv4, LocalhostIsLoopback) {
  const Resolved r = resolve_ipv4("localhost");
  ASSERT_TRUE(r.address.has_value()) << r.error;
  EXPECT_EQ(r.address->bytes[0], 127);
}

TEST(ResolveIpv4, UnknownNameSaysWhy) {
  const Resolved r = resolve_ipv4("no-such-host.invalid");
  EXPECT_FALSE(r.address.has_value());
  EXPECT_FALSE(r.error.empty());
}

}  // namespace
}  // namespace ringftpd::config
