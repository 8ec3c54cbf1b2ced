// Internal to ringftpd_config: the [shared] section (Redis for TLS state
// shared across hosts), read and checked.
#pragma once

#include "config/config.hpp"
#include "config/toml_reader.hpp"

namespace ringftpd::config::detail {

// Reads [shared] into `out` (enabled when the section is present). Throws
// ConfigError at the offending value: a malformed redis endpoint, an
// unreadable secret or password file, a bad prefix, a missing secret_file.
void read_shared(Section s, SharedSettings& out);

// "unix:/path" or "tcp:host:port" ("tcp:[::1]:6379" for IPv6); nullopt if
// malformed.
[[nodiscard]] std::optional<RedisEndpoint> parse_redis_endpoint(std::string_view text);

}  // namespace ringftpd::config::detail
