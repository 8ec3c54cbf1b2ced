// The validated, immutable configuration of a ringftpd instance.
//
// A Config is built once by load_file() / parse() / embedded_default() and
// never changed afterwards: a reload builds a new snapshot and hands it out as
// std::shared_ptr<const Config>, so sessions that started under the old one keep
// it. Every value here has been range-checked; code that reads a Config never
// re-validates.
//
// This library depends on nothing else of ours (DESIGN.md §3).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "config/network.hpp"

namespace ringftpd::config {

// Draft §10.1: when the control connection must be protected.
enum class ControlTls {
  Optional,          // clear allowed for everything
  RequiredForLogin,  // AUTH before USER/PASS (the default)
  Required,          // AUTH before anything but a few (FEAT, AUTH, QUIT, …)
};

// Draft §10.1 per-user exception for the anonymous account.
enum class AnonymousTls {
  SameAsOthers,   // the control policy applies
  ClearAllowed,   // anonymous may log in without TLS
  ClearRequired,  // anonymous must log in without TLS
};

// Draft §10.2: which data protection levels are acceptable.
enum class DataProtection {
  ClearOnly,     // PROT P refused
  ClientChoice,  // whatever PROT says
  Required,      // PROT P for every transfer (the default)
  PerCommand,    // PROT C allowed only for the verbs in clear_allowed_for
};

enum class TlsVersion { V1_2, V1_3 };
enum class ClientCerts { Off, Optional, Required };
enum class LogLevel { Error, Warn, Info, Debug };

// Per-user permissions; a bit set.
enum Permission : std::uint8_t {
  kPermList = 1u << 0,
  kPermRead = 1u << 1,
  kPermWrite = 1u << 2,
  kPermDelete = 1u << 3,
  kPermRename = 1u << 4,
  kPermMkdir = 1u << 5,
};
inline constexpr std::uint8_t kPermReadOnly = kPermList | kPermRead;
inline constexpr std::uint8_t kPermAll =
    kPermList | kPermRead | kPermWrite | kPermDelete | kPermRename | kPermMkdir;

// [[listen]] tables at most (each has a shared bandwidth bucket of its own).
inline constexpr std::size_t kMaxListeners = 64;

// The PROXY protocol header (HAProxy's, v1 text or v2 binary) that an L4
// balancer puts before each connection it forwards: which versions a
// listener takes. Off: none is expected, and one is an FTP syntax error.
enum class ProxyProtocol : std::uint8_t { Off, V1, V2, Any };

// `proxy_protocol` and `proxy_trusted` of a [[listen]] table or of [passive]
// (data connections through the balancer; v2 only there).
struct ProxySettings {
  ProxyProtocol protocol = ProxyProtocol::Off;
  // The balancers: a connection from anywhere else is closed (its header
  // would let it claim any address). Never empty when protocol is not Off.
  std::vector<Network> trusted;
  [[nodiscard]] bool enabled() const noexcept { return protocol != ProxyProtocol::Off; }
};

struct Listener {
  std::string address = "127.0.0.1";  // numeric IPv4 or IPv6 literal
  std::uint16_t port = 2121;
  bool implicit_tls = false;  // TLS from the first byte (legacy port 990 style)
  // Shared by every session accepted on this listener, on all workers; 0 = unlimited.
  std::uint64_t bandwidth_bytes_per_second = 0;
  ProxySettings proxy;  // the connections come through a balancer
};

struct PortRange {
  std::uint16_t first = 0;
  std::uint16_t last = 0;  // inclusive
  [[nodiscard]] std::uint32_t size() const { return std::uint32_t{last} - first + 1; }
  [[nodiscard]] bool contains(std::uint16_t p) const { return p >= first && p <= last; }
};

struct TlsSettings {
  // Empty certificate_file: a self-signed certificate is generated on first
  // start into state_dir and reused afterwards.
  std::string certificate_file;  // PEM chain, leaf first
  std::string private_key_file;  // PEM, RSA or ECDSA
  TlsVersion min_version = TlsVersion::V1_2;
  TlsVersion max_version = TlsVersion::V1_3;
  std::string cipher_list;   // TLS 1.2 suites, wolfSSL/OpenSSL syntax; empty = built-in
  std::string ciphersuites;  // TLS 1.3 suites; empty = built-in
  std::uint32_t session_lifetime_seconds = 8 * 3600;  // outlasts long sessions
  std::uint32_t ticket_key_rotation_seconds = 3600;
  std::uint32_t session_cache_entries = 20000;
  bool allow_auth_ssl = false;  // legacy "AUTH SSL"
  bool allow_ccc = false;
  ClientCerts client_certs = ClientCerts::Off;
  std::string client_ca_file;  // required unless client_certs is Off
  std::string client_cert_user_field = "CN";
};

struct ControlPolicy {
  ControlTls tls = ControlTls::RequiredForLogin;
  AnonymousTls anonymous = AnonymousTls::SameAsOthers;
};

struct DataPolicy {
  DataProtection protection = DataProtection::Required;
  // Upper-case verbs allowed in clear under PerCommand, e.g. LIST NLST MLSD.
  std::vector<std::string> clear_allowed_for;
  bool require_session_reuse = true;  // draft §10.2, our headline feature
};

// [[passive.address_for]]: clients in `networks` are told `address` in 227.
struct PassiveAddressRule {
  std::vector<Network> networks;
  std::string address;              // as written: IPv4 literal, host name, or ""
  std::optional<Ipv4Address> ipv4;  // resolved at load; nullopt = the local address
};

struct PassiveSettings {
  PortRange ports{50000, 50999};
  std::string public_address;  // advertised in PASV replies; empty = local address
  // public_address resolved when the snapshot was loaded (a host name is looked
  // up then, never by a worker); nullopt = the control connection's local address.
  std::optional<Ipv4Address> public_ipv4;
  // Tried in order before public_address; the first rule with a network that
  // holds the client's address wins.
  std::vector<PassiveAddressRule> address_for;
  // Passive data connections that come through the balancer, each with a v2
  // header (off: they come straight to this host, at the address a 227
  // advertises).
  ProxySettings proxy;
};

struct Limits {
  std::uint32_t max_sessions = 4000;
  std::uint32_t max_sessions_per_address = 64;
  std::uint32_t max_line_bytes = 4096;  // command line incl. CRLF
  std::uint32_t failed_logins_before_delay = 3;
  std::uint32_t max_failed_logins = 6;  // then 421 and disconnect
  std::uint32_t error_budget = 32;      // bad commands before disconnect
  std::uint32_t idle_timeout_seconds = 600;
  std::uint32_t login_timeout_seconds = 60;
  std::uint32_t handshake_timeout_seconds = 15;
  std::uint32_t data_stall_timeout_seconds = 120;
  std::uint32_t send_timeout_seconds = 60;       // a reply send without progress: close
  std::uint64_t bandwidth_bytes_per_second = 0;  // per session; 0 = unlimited
  // SIGTERM: transfers in progress may finish for this long, then everyone is closed.
  std::uint32_t shutdown_grace_seconds = 30;
};

struct UsersSettings {
  std::string file;  // TOML users file; empty = no virtual users
  bool anonymous = false;
  std::string anonymous_root;  // required when anonymous is on
  bool anonymous_write = false;
};

struct TransferSettings {
  bool atomic_uploads = true;  // STOR to a temp file, rename on success
};

// The worker's sandbox (seccomp allowlist, restricted ring, Landlock on the
// roots). Off only to get a server going while a missing system call is
// reported and fixed.
struct SandboxSettings {
  bool enabled = true;
};

// The Prometheus scrape listener (off unless [metrics] is present). Served
// by a helper process of the master's, never by a worker.
struct MetricsSettings {
  bool enabled = false;
  std::string address = "127.0.0.1";  // numeric IPv4 or IPv6 literal
  std::uint16_t port = 0;             // required when enabled
};

// Where Redis listens ([shared] redis = "unix:/path" or "tcp:host:port").
struct RedisEndpoint {
  enum class Kind : std::uint8_t { Unix, Tcp };
  Kind kind = Kind::Unix;
  std::string path;  // Unix: the socket
  std::string host;  // Tcp: a numeric address or a name (resolved by sharedd)
  std::uint16_t port = 0;
};

// [shared]: TLS resumption state shared with other hosts through Redis
// (docs/scale-out.md). Off unless the section is present. Spoken only by the
// master's sharedd helper, never by a worker.
struct SharedSettings {
  bool enabled = false;
  RedisEndpoint redis;
  std::string redis_user;                // empty: Redis's default user
  std::string redis_password_file;       // empty: no AUTH
  std::uint32_t redis_timeout_ms = 250;  // connect and each command
  std::string secret_file;               // required: seals every record (>= 32 bytes)
  std::string key_prefix = "ringftpd";   // every Redis key starts "<prefix>:"
  bool session_ids = true;               // copy TLS 1.2 sessions to Redis
};

struct LogSettings {
  LogLevel level = LogLevel::Info;
  std::string file;     // empty = stderr
  std::string xferlog;  // empty = no transfer log
  std::string json;     // empty = no JSON-lines log; never the same file as the other two
};

struct Config {
  std::string source;  // the file it came from, or "<embedded default>"
  std::vector<Listener> listeners;
  std::uint32_t workers = 0;  // 0 = one per CPU
  std::string run_as;         // user to drop to when started as root
  std::string state_dir;      // generated certificate, pid file, …
  std::string pid_file;       // empty = state_dir/ringftpd.pid
  std::string banner = "ringftpd ready";
  TlsSettings tls;
  ControlPolicy control;
  DataPolicy data;
  PassiveSettings passive;
  Limits limits;
  UsersSettings users;
  TransferSettings transfer;
  LogSettings log;
  SandboxSettings sandbox;
  MetricsSettings metrics;
  SharedSettings shared;
};

using Snapshot = std::shared_ptr<const Config>;

// A configuration error. what() is "file:line:column: message" when the
// error has a place in a file, "file: message" otherwise.
class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Reads and validates a TOML file. Throws ConfigError.
[[nodiscard]] Config load_file(const std::string& path);

// Validates TOML text; source_name is used in error messages. Throws ConfigError.
[[nodiscard]] Config parse(std::string_view toml_text, std::string_view source_name);

// The configuration used when no file is given: 127.0.0.1:2121, TLS required
// before login, protected data, reuse required, a self-signed certificate in
// state_dir.
[[nodiscard]] Config embedded_default(std::string state_dir);

// One account of the virtual users file.
struct User {
  std::string name;
  std::string password_hash;  // crypt(3): $y$ yescrypt, $6$ sha512-crypt, $2b$ bcrypt
  std::string root;           // absolute directory
  std::uint8_t permissions = kPermReadOnly;
  // Aggregated over all of this user's sessions on all workers; 0 = unlimited.
  std::uint32_t max_sessions = 0;
  std::uint64_t bandwidth_bytes_per_second = 0;
};

// The largest bandwidth_bytes_per_second a users file or [[listen]] accepts
// (1 TB/s): anything above is a typo, not a limit.
inline constexpr std::uint64_t kMaxBandwidthBytesPerSecond = 1'000'000'000'000ULL;
// The largest per-user max_sessions (limits.max_sessions's own bound).
inline constexpr std::uint32_t kMaxUserSessions = 1'000'000;

// Reads and validates a users file. Throws ConfigError.
[[nodiscard]] std::vector<User> load_users_file(const std::string& path);
[[nodiscard]] std::vector<User> parse_users(std::string_view toml_text,
                                            std::string_view source_name);

[[nodiscard]] std::string_view to_string(TlsVersion v);
[[nodiscard]] std::string_view to_string(DataProtection p);
[[nodiscard]] std::string_view to_string(ControlTls t);

}  // namespace ringftpd::config
