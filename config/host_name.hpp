// Host names in the configuration (passive addresses): their syntax, and their
// resolution to an IPv4 address.
//
// resolve_ipv4() blocks on the system resolver (getaddrinfo: /etc/hosts, DNS).
// It is called only while a configuration is loaded: by the master at start and
// on SIGHUP, and by --check-config; never by a worker (DESIGN.md: no DNS on the
// loop). A worker reads the addresses it produced from the snapshot.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "config/network.hpp"

namespace ringftpd::config {

// RFC 1123 syntax: dot-separated labels of letters, digits and inner hyphens,
// each 1..63 bytes, 253 in all, an optional final dot. The last label must not
// be all digits, so a mistyped IPv4 literal ("10.1.2") is not taken for a name
// (getaddrinfo would read it as 10.1.0.2).
[[nodiscard]] bool is_host_name(std::string_view text);

struct Resolved {
  std::optional<Ipv4Address> address;  // the resolver's first IPv4 address
  std::string error;                   // why not, when address is empty
};

// Asks the system resolver for the IPv4 addresses of `name`.
[[nodiscard]] Resolved resolve_ipv4(const std::string& name);

}  // namespace ringftpd::config
