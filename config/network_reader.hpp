// Internal to ringftpd_config: a key whose value is a list of networks
// (passive.address_for's `networks`, a listener's `proxy_trusted`).
#pragma once

#include <string_view>
#include <vector>

#include "config/network.hpp"
#include "config/toml_reader.hpp"

namespace ringftpd::config::detail {

// Reads `key` of section `s`: a non-empty array of CIDRs or single addresses.
// `purpose` ends the hint of a missing key ("... , the clients this address
// is for"). Throws ConfigError at the offending element.
[[nodiscard]] std::vector<Network> read_networks(Section& s, std::string_view key,
                                                 std::string_view purpose);

}  // namespace ringftpd::config::detail
