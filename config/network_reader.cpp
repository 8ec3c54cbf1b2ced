#include "config/network_reader.hpp"

#include <string>

namespace ringftpd::config::detail {
namespace {

std::string_view why_not(NetworkError e) {
  switch (e) {
    case NetworkError::NotAnAddress:
      return "not an IPv4 or IPv6 address";
    case NetworkError::BadPrefix:
      return "bad prefix length";
    case NetworkError::HostBitsSet:
      return "bits set past the prefix length";
  }
  return "?";
}

}  // namespace

std::vector<Network> read_networks(Section& s, std::string_view key, std::string_view purpose) {
  auto list = s.strings(key);
  if (!list) {
    s.fail(key, s.qualified(key) + " is missing",
           std::string(key) + " = [\"10.0.0.0/8\", ...], " + std::string(purpose));
  }
  if (list->empty()) s.fail(key, s.qualified(key) + " is empty", "at least one");
  std::vector<Network> out;
  for (const auto& [text, node] : *list) {
    NetworkError why{};
    const auto n = parse_network(text, &why);
    if (!n) {
      s.context().fail(node,
                       "\"" + text + "\" is not a network (" + std::string(why_not(why)) + ")",
                       "a CIDR such as \"10.0.0.0/8\" or \"fd00::/8\", or one address");
    }
    out.push_back(*n);
  }
  return out;
}

}  // namespace ringftpd::config::detail
