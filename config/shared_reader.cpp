// [shared]: where Redis is, how to log in to it, and the secret that seals
// every record ringftpd keeps there (tls/shared_record.hpp).
#include "config/shared_reader.hpp"

#include <charconv>
#include <string>

namespace ringftpd::config::detail {

std::optional<RedisEndpoint> parse_redis_endpoint(std::string_view text) {
  RedisEndpoint e;
  if (text.starts_with("unix:")) {
    e.kind = RedisEndpoint::Kind::Unix;
    e.path = std::string(text.substr(5));
    // sun_path holds 107 bytes and a NUL.
    if (e.path.empty() || e.path.front() != '/' || e.path.size() > 107) return std::nullopt;
    return e;
  }
  if (!text.starts_with("tcp:")) return std::nullopt;
  std::string_view rest = text.substr(4);
  std::string_view host;
  std::string_view port;
  if (rest.starts_with("[")) {  // [v6]:port
    const auto close = rest.find(']');
    if (close == std::string_view::npos || rest.substr(close + 1).size() < 2 ||
        rest[close + 1] != ':') {
      return std::nullopt;
    }
    host = rest.substr(1, close - 1);
    port = rest.substr(close + 2);
  } else {
    const auto colon = rest.rfind(':');
    if (colon == std::string_view::npos) return std::nullopt;
    host = rest.substr(0, colon);
    port = rest.substr(colon + 1);
    if (host.find(':') != std::string_view::npos) return std::nullopt;  // v6 needs brackets
  }
  unsigned value = 0;
  const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (host.empty() || host.size() > 253 || ec != std::errc() || end != port.data() + port.size() ||
      value < 1 || value > 65535) {
    return std::nullopt;
  }
  e.kind = RedisEndpoint::Kind::Tcp;
  e.host = std::string(host);
  e.port = static_cast<std::uint16_t>(value);
  return e;
}

namespace {

void require_file(Section& s, std::string_view key, const std::string& path,
                  std::string_view expected) {
  if (auto why = why_not_readable_file(path)) {
    s.fail(key, s.qualified(key) + " = \"" + path + "\" cannot be read (" + *why + ")", expected);
  }
}

bool is_prefix_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '_' || c == '.';
}

}  // namespace

void read_shared(Section s, SharedSettings& out) {
  if (!s.is_present()) return;
  out.enabled = true;
  const auto redis = s.string("redis");
  if (!redis) {
    s.fail("redis", "[shared] has no redis",
           R"(redis = "unix:/run/redis/redis-server.sock" or "tcp:127.0.0.1:6379")");
  }
  const auto endpoint = parse_redis_endpoint(*redis);
  if (!endpoint) {
    s.fail("redis", "shared.redis = \"" + *redis + "\" is not a Redis address",
           R"("unix:/absolute/path" or "tcp:host:port" ("tcp:[::1]:6379" for IPv6))");
  }
  out.redis = *endpoint;
  if (auto u = s.string("redis_user")) {
    if (u->empty() || u->find_first_of(" \t\r\n") != std::string::npos) {
      s.fail("redis_user", "shared.redis_user = \"" + *u + "\" is not a Redis user name",
             "a non-empty name without white space");
    }
    out.redis_user = *u;
  }
  if (auto p = s.path("redis_password_file")) {
    require_file(s, "redis_password_file", *p, "a readable file holding the Redis password");
    out.redis_password_file = *p;
  }
  if (!out.redis_user.empty() && out.redis_password_file.empty()) {
    s.fail("redis_user", "shared.redis_user is set without shared.redis_password_file",
           "a password file for the ACL user");
  }
  if (auto t = s.integer("redis_timeout_ms", 10, 10'000)) {
    out.redis_timeout_ms = static_cast<std::uint32_t>(*t);
  }
  const auto secret = s.path("secret_file");
  if (!secret) {
    s.fail("secret_file", "[shared] has no secret_file",
           "secret_file = a file of at least 32 random bytes, the same on every host");
  }
  require_file(s, "secret_file", *secret, "a readable file of at least 32 random bytes");
  out.secret_file = *secret;
  if (auto p = s.string("key_prefix")) {
    bool ok = !p->empty() && p->size() <= 64;
    for (char c : *p) ok = ok && is_prefix_char(c);
    if (!ok) {
      s.fail("key_prefix", "shared.key_prefix = \"" + *p + "\" is not a usable prefix",
             "1 to 64 of A-Z a-z 0-9 - _ .");
    }
    out.key_prefix = *p;
  }
  if (auto b = s.boolean("session_ids")) out.session_ids = *b;
  s.finish();
}

}  // namespace ringftpd::config::detail
