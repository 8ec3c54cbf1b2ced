// Internal to ringftpd_config: the advertised-address keys of [passive]
// (public_address, [[passive.address_for]]), read and resolved into binary
// form. Resolving names blocks; see config/host_name.hpp for who may call it.
#pragma once

#include "config/config.hpp"
#include "config/toml_reader.hpp"

namespace ringftpd::config::detail {

// Reads passive.public_address and passive.address_for from the [passive]
// section `s` into p. Throws ConfigError at the offending value: a malformed
// network, an IPv6 or malformed address, a name that does not resolve.
void read_passive_addresses(Section& s, PassiveSettings& p);

}  // namespace ringftpd::config::detail
