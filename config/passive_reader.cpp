// [passive] public_address and [[passive.address_for]]: which IPv4 address a
// 227 reply advertises, chosen by the client's network. Host names are resolved
// here, once per load, so a worker only compares bytes.
#include "config/passive_reader.hpp"

#include <arpa/inet.h>

#include <string>

#include "config/host_name.hpp"
#include "config/network.hpp"
#include "config/network_reader.hpp"

namespace ringftpd::config::detail {
namespace {

constexpr std::string_view kAddressExpected =
    "an IPv4 literal such as \"203.0.113.7\", a host name with an IPv4 address, or \"\" for "
    "the local address (a 227 reply carries only IPv4)";

// "" (the local address), an IPv4 literal, or a host name resolved now.
std::optional<Ipv4Address> read_advertised(Section& s, std::string_view key,
                                           const std::string& text) {
  if (text.empty()) return std::nullopt;
  const std::string shown = s.qualified(key) + " = \"" + text + "\"";
  Ipv4Address a;
  if (::inet_pton(AF_INET, text.c_str(), a.bytes.data()) == 1) return a;
  unsigned char v6[16];
  if (::inet_pton(AF_INET6, text.c_str(), v6) == 1) {
    s.fail(key, shown + " is an IPv6 address", kAddressExpected);
  }
  if (!is_host_name(text)) {
    s.fail(key, shown + " is neither an IPv4 address nor a host name", kAddressExpected);
  }
  Resolved r = resolve_ipv4(text);
  if (!r.address) s.fail(key, shown + " does not resolve (" + r.error + ")", kAddressExpected);
  return r.address;
}

PassiveAddressRule read_rule(const Context& ctx, const toml::node& node, std::size_t index) {
  Section s(ctx, &node, "passive.address_for[" + std::to_string(index) + "]");
  PassiveAddressRule rule;
  rule.networks = read_networks(s, "networks", "the clients this address is for");
  auto address = s.string("address");
  if (!address) s.fail("address", s.qualified("address") + " is missing", kAddressExpected);
  rule.address = *address;
  rule.ipv4 = read_advertised(s, "address", rule.address);
  s.finish();
  return rule;
}

}  // namespace

void read_passive_addresses(Section& s, PassiveSettings& p) {
  if (auto a = s.string("public_address")) {
    p.public_address = *a;
    p.public_ipv4 = read_advertised(s, "public_address", p.public_address);
  }
  if (const toml::array* rules = s.array_of_tables("address_for")) {
    for (std::size_t i = 0; i < rules->size(); ++i) {
      p.address_for.push_back(read_rule(s.context(), *rules->get(i), i));
    }
  }
}

}  // namespace ringftpd::config::detail
