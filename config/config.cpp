// TOML -> validated Config. Each [section] has one reader that checks types and
// ranges of its own keys and the rules that stay inside the section; rules that
// span sections (listeners against the passive range, workers against its
// size) run last, in check_cross_section().
#include "config/config.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <cstdint>
#include <filesystem>
#include <initializer_list>
#include <limits>
#include <optional>
#include <string>
#include <system_error>
#include <utility>

#include "config/network_reader.hpp"
#include "config/passive_reader.hpp"
#include "config/shared_reader.hpp"
#include "config/toml_reader.hpp"

namespace ringftpd::config {
namespace {

using detail::Context;
using detail::Section;
using detail::Spelling;

constexpr std::int64_t kNoMax = std::numeric_limits<std::int64_t>::max();
constexpr std::int64_t kU32Max = std::numeric_limits<std::uint32_t>::max();
constexpr std::int64_t kDay = 86400;

constexpr Spelling<TlsVersion> kTlsVersions[] = {{"1.2", TlsVersion::V1_2},
                                                 {"1.3", TlsVersion::V1_3}};
constexpr Spelling<ClientCerts> kClientCerts[] = {{"off", ClientCerts::Off},
                                                  {"optional", ClientCerts::Optional},
                                                  {"required", ClientCerts::Required}};
constexpr Spelling<ControlTls> kControlTls[] = {
    {"optional", ControlTls::Optional},
    {"required_for_login", ControlTls::RequiredForLogin},
    {"required", ControlTls::Required}};
constexpr Spelling<AnonymousTls> kAnonymousTls[] = {
    {"same", AnonymousTls::SameAsOthers},
    {"clear_allowed", AnonymousTls::ClearAllowed},
    {"clear_required", AnonymousTls::ClearRequired}};
constexpr Spelling<DataProtection> kDataProtection[] = {
    {"clear_only", DataProtection::ClearOnly},
    {"client_choice", DataProtection::ClientChoice},
    {"required", DataProtection::Required},
    {"per_command", DataProtection::PerCommand}};
constexpr Spelling<ProxyProtocol> kProxyProtocols[] = {{"off", ProxyProtocol::Off},
                                                       {"v1", ProxyProtocol::V1},
                                                       {"v2", ProxyProtocol::V2},
                                                       {"any", ProxyProtocol::Any}};
constexpr Spelling<LogLevel> kLogLevels[] = {{"error", LogLevel::Error},
                                             {"warn", LogLevel::Warn},
                                             {"info", LogLevel::Info},
                                             {"debug", LogLevel::Debug}};

constexpr std::array<std::string_view, 3> kUserFields = {"CN", "emailAddress", "UID"};
// The transfer verbs that open a data connection, the only ones PROT applies to.
constexpr std::array<std::string_view, 7> kDataVerbs = {"LIST", "NLST", "MLSD", "RETR",
                                                        "STOR", "STOU", "APPE"};

template <typename T, typename U>
void assign(T& out, std::optional<U> value) {
  if (value) out = static_cast<T>(std::move(*value));
}

// The binary form of a numeric address, so "::1" and "0::1" compare equal.
std::optional<std::string> ip_bytes(const std::string& text) {
  unsigned char buf[16];
  if (::inet_pton(AF_INET, text.c_str(), buf) == 1) return std::string(buf, buf + 4);
  if (::inet_pton(AF_INET6, text.c_str(), buf) == 1) return std::string(buf, buf + 16);
  return std::nullopt;
}

void require_readable(Section& s, std::string_view key, const std::string& path,
                      std::string_view expected) {
  if (auto why = detail::why_not_readable_file(path)) {
    s.fail(key, s.qualified(key) + " = \"" + path + "\" cannot be read (" + *why + ")", expected);
  }
}

void require_directory(Section& s, std::string_view key, const std::string& path) {
  if (auto why = detail::why_not_directory(path)) {
    s.fail(key, s.qualified(key) + " = \"" + path + "\" cannot be used (" + *why + ")",
           "an existing directory");
  }
}

void read_top_level(Section& top, Config& c) {
  assign(c.workers, top.integer("workers", 0, 256));
  if (auto v = top.string("run_as")) {
    // Empty would mean "stay root" after start-up; refuse rather than guess.
    if (v->empty()) top.fail("run_as", "run_as is empty", "a user name");
    c.run_as = *v;
  }
  if (auto v = top.path("state_dir")) {
    if (v->empty()) top.fail("state_dir", "state_dir is empty", "a directory path");
    c.state_dir = *v;
  }
  if (auto v = top.path("pid_file")) {
    if (v->empty()) top.fail("pid_file", "pid_file is empty", "a file path");
    c.pid_file = *v;
  }
  if (auto v = top.string("banner")) {
    // A CR or LF would let the banner forge extra reply lines.
    if (v->find_first_of("\r\n") != std::string::npos) {
      top.fail("banner", "banner contains a line break", "a single line of text");
    }
    c.banner = *v;
  }
}

// proxy_protocol and proxy_trusted of a [[listen]] table or of [passive]:
// each needs the other, since a header from anyone could claim any address,
// and a list of balancers that nothing reads would be a silent no-op.
ProxySettings read_proxy(Section& s) {
  ProxySettings p;
  assign(p.protocol, s.choice("proxy_protocol", kProxyProtocols));
  if (p.enabled()) {
    p.trusted = detail::read_networks(s, "proxy_trusted", "the balancers' addresses");
  } else if (s.strings("proxy_trusted")) {
    s.fail("proxy_trusted", s.qualified("proxy_trusted") + " is set but proxy_protocol is off",
           "proxy_protocol = \"v2\" (or \"v1\", \"any\") beside it, or no proxy_trusted");
  }
  return p;
}

Listener read_listener(const Context& ctx, const toml::node& node, std::size_t index) {
  Section s(ctx, &node, "listen[" + std::to_string(index) + "]");
  Listener l;
  if (auto a = s.string("address")) {
    if (!ip_bytes(*a)) {
      s.fail("address", s.qualified("address") + " = \"" + *a + "\" is not a numeric address",
             "an IPv4 or IPv6 literal such as \"0.0.0.0\" or \"::\"");
    }
    l.address = *a;
  }
  assign(l.port, s.integer("port", 1, 65535));
  assign(l.implicit_tls, s.boolean("implicit_tls"));
  assign(l.bandwidth_bytes_per_second,
         s.integer("bandwidth_bytes_per_second", 0,
                   static_cast<std::int64_t>(kMaxBandwidthBytesPerSecond)));
  l.proxy = read_proxy(s);
  s.finish();
  return l;
}

std::vector<Listener> read_listeners(Section& top) {
  const toml::array* arr = top.array_of_tables("listen");
  if (arr == nullptr) return {Listener{}};
  if (arr->empty()) top.fail("listen", "listen is empty", "at least one [[listen]] table");
  if (arr->size() > kMaxListeners) {
    top.fail("listen", "listen has " + std::to_string(arr->size()) + " tables",
             "at most " + std::to_string(kMaxListeners) + " [[listen]] tables");
  }
  std::vector<Listener> out;
  for (std::size_t i = 0; i < arr->size(); ++i) {
    out.push_back(read_listener(top.context(), *arr->get(i), i));
  }
  return out;
}

void read_tls_files(Section& s, TlsSettings& t) {
  assign(t.certificate_file, s.path("certificate"));
  assign(t.private_key_file, s.path("private_key"));
  if (t.certificate_file.empty() != t.private_key_file.empty()) {
    const bool has_cert = !t.certificate_file.empty();
    s.fail(has_cert ? "certificate" : "private_key",
           has_cert ? "tls.certificate is set without tls.private_key"
                    : "tls.private_key is set without tls.certificate",
           "both or neither (neither: a self-signed certificate in state_dir)");
  }
  if (!t.certificate_file.empty()) {
    require_readable(s, "certificate", t.certificate_file, "a readable PEM certificate file");
    require_readable(s, "private_key", t.private_key_file, "a readable PEM private key file");
  }
}

void read_tls_client_certs(Section& s, TlsSettings& t) {
  assign(t.client_certs, s.choice("client_certs", kClientCerts));
  assign(t.client_ca_file, s.path("client_ca"));
  if (auto f = s.string("client_cert_user_field")) {
    if (std::find(kUserFields.begin(), kUserFields.end(), *f) == kUserFields.end()) {
      s.fail("client_cert_user_field", "tls.client_cert_user_field = \"" + *f + "\" is not valid",
             "one of " + detail::quoted_list(kUserFields));
    }
    t.client_cert_user_field = *f;
  }
  if (t.client_certs == ClientCerts::Off) return;
  if (t.client_ca_file.empty()) {
    s.fail("client_certs",
           "tls.client_certs = \"" +
               std::string(detail::spelling_of(kClientCerts, t.client_certs)) +
               "\" needs tls.client_ca",
           "a CA file in tls.client_ca, or client_certs = \"off\"");
  }
  require_readable(s, "client_ca", t.client_ca_file, "a readable PEM CA file");
}

void read_tls(Section s, TlsSettings& t) {
  read_tls_files(s, t);
  assign(t.min_version, s.choice("min_version", kTlsVersions));
  assign(t.max_version, s.choice("max_version", kTlsVersions));
  if (t.min_version > t.max_version) {
    s.fail("min_version", "tls.min_version is above tls.max_version", "min_version <= max_version");
  }
  assign(t.cipher_list, s.string("cipher_list"));
  assign(t.ciphersuites, s.string("ciphersuites"));
  assign(t.session_lifetime_seconds, s.integer("session_lifetime_seconds", 60, 7 * kDay));
  assign(t.ticket_key_rotation_seconds, s.integer("ticket_key_rotation_seconds", 60, kDay));
  assign(t.session_cache_entries, s.integer("session_cache_entries", 1, 1'000'000));
  assign(t.allow_auth_ssl, s.boolean("allow_auth_ssl"));
  assign(t.allow_ccc, s.boolean("allow_ccc"));
  read_tls_client_certs(s, t);
  s.finish();
}

void read_control(Section s, ControlPolicy& p) {
  assign(p.tls, s.choice("tls", kControlTls));
  assign(p.anonymous, s.choice("anonymous_tls", kAnonymousTls));
  s.finish();
}

std::vector<std::string> read_clear_verbs(Section& s) {
  std::vector<std::string> verbs;
  auto list = s.strings("clear_allowed_for");
  if (!list) return {"LIST", "NLST", "MLSD"};
  for (auto& [text, node] : *list) {
    std::string verb = text;
    std::transform(verb.begin(), verb.end(), verb.begin(),
                   [](unsigned char ch) { return static_cast<char>(std::toupper(ch)); });
    if (std::find(kDataVerbs.begin(), kDataVerbs.end(), verb) == kDataVerbs.end()) {
      s.context().fail(node, "\"" + text + "\" is not a data transfer verb",
                       "one of " + detail::quoted_list(kDataVerbs));
    }
    if (std::find(verbs.begin(), verbs.end(), verb) != verbs.end()) {
      s.context().fail(node, "\"" + text + "\" is listed twice", "each verb once");
    }
    verbs.push_back(std::move(verb));
  }
  return verbs;
}

void read_data(Section s, DataPolicy& d) {
  assign(d.protection, s.choice("protection", kDataProtection));
  if (d.protection == DataProtection::PerCommand) {
    d.clear_allowed_for = read_clear_verbs(s);
  } else if (s.get("clear_allowed_for") != nullptr) {
    // Under any other policy the list would be silently ignored.
    s.fail("clear_allowed_for", "data.clear_allowed_for is set but protection is not per_command",
           "protection = \"per_command\", or no clear_allowed_for");
  }
  assign(d.require_session_reuse, s.boolean("require_session_reuse"));
  s.finish();
}

std::optional<std::uint16_t> parse_port(std::string_view text) {
  unsigned value = 0;
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (text.empty() || ec != std::errc{} || ptr != end || value < 1024 || value > 65535) {
    return std::nullopt;
  }
  return static_cast<std::uint16_t>(value);
}

void read_passive(Section s, PassiveSettings& p) {
  if (auto text = s.string("ports")) {
    const auto dash = text->find('-');
    std::optional<std::uint16_t> first, last;
    if (dash != std::string::npos) {
      first = parse_port(std::string_view(*text).substr(0, dash));
      last = parse_port(std::string_view(*text).substr(dash + 1));
    }
    if (!first || !last || *first > *last) {
      s.fail("ports", "passive.ports = \"" + *text + "\" is not a valid port range",
             "\"first-last\" with 1024 <= first <= last <= 65535");
    }
    p.ports = PortRange{*first, *last};
  }
  // PASV (227) can only carry an IPv4 address; names are resolved here.
  detail::read_passive_addresses(s, p);
  p.proxy = read_proxy(s);
  // A data connection's header is read with exact-length receives, so that
  // no byte of the TLS handshake or the upload after it is taken: v2 says its
  // length up front, v1 does not.
  if (p.proxy.enabled() && p.proxy.protocol != ProxyProtocol::V2) {
    s.fail("proxy_protocol", "passive.proxy_protocol must be \"v2\" (or \"off\")",
           "\"v2\" (HAProxy: send-proxy-v2 on the data ports' servers)");
  }
  s.finish();
}

void read_limit_pairs(Section& s, const Limits& l) {
  if (l.max_sessions_per_address > l.max_sessions) {
    const bool per_set = s.get("max_sessions_per_address") != nullptr;
    s.fail(per_set ? "max_sessions_per_address" : "max_sessions",
           "limits.max_sessions_per_address (" + std::to_string(l.max_sessions_per_address) +
               ") is above limits.max_sessions (" + std::to_string(l.max_sessions) + ")",
           "max_sessions_per_address <= max_sessions");
  }
  if (l.failed_logins_before_delay > l.max_failed_logins) {
    const bool delay_set = s.get("failed_logins_before_delay") != nullptr;
    s.fail(delay_set ? "failed_logins_before_delay" : "max_failed_logins",
           "limits.failed_logins_before_delay (" + std::to_string(l.failed_logins_before_delay) +
               ") is above limits.max_failed_logins (" + std::to_string(l.max_failed_logins) + ")",
           "failed_logins_before_delay <= max_failed_logins");
  }
}

void read_limits(Section s, Limits& l) {
  assign(l.max_sessions, s.integer("max_sessions", 1, 1'000'000));
  assign(l.max_sessions_per_address, s.integer("max_sessions_per_address", 1, 1'000'000));
  assign(l.max_line_bytes, s.integer("max_line_bytes", 512, 65536));
  assign(l.failed_logins_before_delay, s.integer("failed_logins_before_delay", 1, kU32Max));
  assign(l.max_failed_logins, s.integer("max_failed_logins", 1, kU32Max));
  assign(l.error_budget, s.integer("error_budget", 1, 10000));
  assign(l.idle_timeout_seconds, s.integer("idle_timeout_seconds", 1, kDay));
  assign(l.login_timeout_seconds, s.integer("login_timeout_seconds", 1, kDay));
  assign(l.handshake_timeout_seconds, s.integer("handshake_timeout_seconds", 1, kDay));
  assign(l.data_stall_timeout_seconds, s.integer("data_stall_timeout_seconds", 1, kDay));
  assign(l.send_timeout_seconds, s.integer("send_timeout_seconds", 1, kDay));
  assign(l.bandwidth_bytes_per_second, s.integer("bandwidth_bytes_per_second", 0, kNoMax));
  assign(l.shutdown_grace_seconds, s.integer("shutdown_grace_seconds", 0, 3600));
  read_limit_pairs(s, l);
  s.finish();
}

void read_users(Section s, UsersSettings& u) {
  assign(u.file, s.path("file"));
  if (!u.file.empty()) require_readable(s, "file", u.file, "a readable users file");
  assign(u.anonymous, s.boolean("anonymous"));
  assign(u.anonymous_root, s.path("anonymous_root"));
  assign(u.anonymous_write, s.boolean("anonymous_write"));
  if (u.anonymous) {
    if (u.anonymous_root.empty()) {
      s.fail("anonymous", "users.anonymous = true needs users.anonymous_root",
             "an anonymous_root directory, or anonymous = false");
    }
    require_directory(s, "anonymous_root", u.anonymous_root);
  }
  s.finish();
}

void read_transfer(Section s, TransferSettings& t) {
  assign(t.atomic_uploads, s.boolean("atomic_uploads"));
  s.finish();
}

void read_log(Section s, LogSettings& l) {
  assign(l.level, s.choice("level", kLogLevels));
  assign(l.file, s.path("file"));
  assign(l.xferlog, s.path("xferlog"));
  assign(l.json, s.path("json"));
  // Two formats in one file would leave it readable by neither reader.
  const auto same = [](const std::string& a, const std::string& b) {
    return !a.empty() && !b.empty() &&
           std::filesystem::path(a).lexically_normal() ==
               std::filesystem::path(b).lexically_normal();
  };
  if (same(l.json, l.file)) {
    s.fail("json", "log.json names the same file as log.file",
           "a file of its own for the JSON lines");
  }
  if (same(l.json, l.xferlog)) {
    s.fail("json", "log.json names the same file as log.xferlog",
           "a file of its own for the JSON lines");
  }
  s.finish();
}

void read_sandbox(Section s, SandboxSettings& b) {
  assign(b.enabled, s.boolean("enabled"));
  s.finish();
}

// [metrics]: present means on, so a port is required (no silent default port
// that could collide with something else on the host).
void read_metrics(Section s, MetricsSettings& m) {
  if (!s.is_present()) return;
  m.enabled = true;
  if (auto a = s.string("address")) {
    if (!ip_bytes(*a)) {
      s.fail("address", "metrics.address = \"" + *a + "\" is not a numeric address",
             "an IPv4 or IPv6 literal such as \"127.0.0.1\" or \"::1\"");
    }
    m.address = *a;
  }
  const auto port = s.integer("port", 1, 65535);
  if (!port) s.fail("port", "[metrics] has no port", "port = 1..65535, e.g. 9273");
  m.port = static_cast<std::uint16_t>(*port);
  s.finish();
}

// The first of the paths that names a node in the document, for error places
// of rules that involve values which may have taken their defaults.
const toml::node* first_present(const toml::table& root, std::initializer_list<std::string> paths) {
  for (const auto& p : paths) {
    if (const toml::node* n = toml::at_path(root, p).node()) return n;
  }
  return nullptr;
}

void check_listeners(const Context& ctx, const toml::table& root, const Config& c) {
  for (std::size_t i = 0; i < c.listeners.size(); ++i) {
    const Listener& l = c.listeners[i];
    const std::string name = "listen[" + std::to_string(i) + "]";
    const toml::node* at = first_present(root, {name + ".port", name, "passive.ports"});
    if (c.passive.ports.contains(l.port)) {
      ctx.fail(at,
               name + " port " + std::to_string(l.port) + " is inside passive.ports " +
                   std::to_string(c.passive.ports.first) + "-" +
                   std::to_string(c.passive.ports.last),
               "a listener port outside the passive range");
    }
    for (std::size_t j = 0; j < i; ++j) {
      if (c.listeners[j].port == l.port &&
          ip_bytes(c.listeners[j].address) == ip_bytes(l.address)) {
        ctx.fail(at,
                 name + " repeats listen[" + std::to_string(j) + "] (" + l.address + " port " +
                     std::to_string(l.port) + ")",
                 "each address and port once");
      }
    }
  }
}

// The metrics port must not take a port the FTP side binds or hands out.
void check_metrics(const Context& ctx, const toml::table& root, const Config& c) {
  if (!c.metrics.enabled) return;
  const toml::node* at = first_present(root, {"metrics.port", "metrics"});
  if (c.passive.ports.contains(c.metrics.port)) {
    ctx.fail(at,
             "metrics.port " + std::to_string(c.metrics.port) + " is inside passive.ports " +
                 std::to_string(c.passive.ports.first) + "-" + std::to_string(c.passive.ports.last),
             "a metrics port outside the passive range");
  }
  const auto metrics_ip = ip_bytes(c.metrics.address);
  for (std::size_t i = 0; i < c.listeners.size(); ++i) {
    const Listener& l = c.listeners[i];
    // The same port on a wildcard address collides with any address.
    const bool wildcard = l.address == "0.0.0.0" || l.address == "::" ||
                          c.metrics.address == "0.0.0.0" || c.metrics.address == "::";
    if (l.port == c.metrics.port && (wildcard || ip_bytes(l.address) == metrics_ip)) {
      ctx.fail(at,
               "metrics.port " + std::to_string(c.metrics.port) + " is also listen[" +
                   std::to_string(i) + "]'s (" + l.address + ")",
               "a port no [[listen]] uses");
    }
  }
}

// Each worker owns a disjoint slice of the passive ports (DESIGN.md §2), so
// every worker needs at least one.
void check_passive_slices(const Context& ctx, const toml::table& root, const Config& c) {
  if (c.workers == 0 || c.passive.ports.size() >= c.workers) return;
  ctx.fail(first_present(root, {"passive.ports", "workers"}),
           "passive.ports has " + std::to_string(c.passive.ports.size()) + " ports for " +
               std::to_string(c.workers) + " workers",
           "at least one passive port per worker");
}

Config build_config(std::string_view text, const std::string& source,
                    std::filesystem::path base_dir) {
  const toml::table root = detail::parse_document(text, source);
  const Context ctx{source, std::move(base_dir)};
  Config c;
  c.source = source;
  c.run_as = "ringftpd";
  c.state_dir = "/var/lib/ringftpd";
  Section top(ctx, &root, "");
  read_top_level(top, c);
  c.listeners = read_listeners(top);
  read_tls(top.section("tls"), c.tls);
  read_control(top.section("control"), c.control);
  read_data(top.section("data"), c.data);
  read_passive(top.section("passive"), c.passive);
  read_limits(top.section("limits"), c.limits);
  read_users(top.section("users"), c.users);
  read_transfer(top.section("transfer"), c.transfer);
  read_log(top.section("log"), c.log);
  read_sandbox(top.section("sandbox"), c.sandbox);
  read_metrics(top.section("metrics"), c.metrics);
  detail::read_shared(top.section("shared"), c.shared);
  top.finish();
  check_listeners(ctx, root, c);
  check_passive_slices(ctx, root, c);
  check_metrics(ctx, root, c);
  return c;
}

}  // namespace

Config load_file(const std::string& path) {
  const std::string text = detail::read_text_file(path);
  // Resolve relative paths against the file's absolute directory, so a later
  // reload from another working directory reads the same files.
  std::error_code ec;
  std::filesystem::path abs = std::filesystem::absolute(path, ec);
  return build_config(text, path, ec ? detail::base_dir_of(path) : abs.parent_path());
}

Config parse(std::string_view toml_text, std::string_view source_name) {
  return build_config(toml_text, std::string(source_name), detail::base_dir_of(source_name));
}

Config embedded_default(std::string state_dir) {
  Config c;
  c.source = "<embedded default>";
  c.listeners = {Listener{}};
  c.state_dir = std::move(state_dir);
  // Started as root, the workers need someone to be: the one user every
  // system has. The served directory must be readable by it.
  c.run_as = "nobody";
  return c;
}

std::string_view to_string(TlsVersion v) {
  return detail::spelling_of(kTlsVersions, v);
}
std::string_view to_string(DataProtection p) {
  return detail::spelling_of(kDataProtection, p);
}
std::string_view to_string(ControlTls t) {
  return detail::spelling_of(kControlTls, t);
}

}  // namespace ringftpd::config
