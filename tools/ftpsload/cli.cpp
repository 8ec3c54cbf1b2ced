#include "tools/ftpsload/cli.hpp"

#include <arpa/inet.h>

#include <charconv>
#include <cmath>
#include <cstdint>
#include <functional>

namespace ringftpd::ftpsload {
namespace {

constexpr std::string_view kUsage = R"(usage: ftpsload MODE [options]

Drives an FTPS (or FTP) server with many concurrent sessions and reports
rates, latency percentiles, TLS handshakes and errors. Exit status: 0 when
nothing failed, 1 when any error occurred, 2 for a bad command line, 3 when
the run could not start.

modes
  download   log in once per connection, then RETR --path again and again
  upload     log in once per connection, then STOR --size bytes again and again
             (with --rest N: REST N first; the upload stream's bytes from
             offset N on land in the file at N, in place)
  append     log in once per connection, then APPE --size bytes again and
             again: the bytes of the upload stream from the file's current
             size on, so the file stays a prefix of that stream; its size is
             learnt by SIZE once, then checked by SIZE after every APPE
  list       log in once per connection, then LIST --path again and again
  mlsd       log in once per connection, then MLSD --path again and again;
             every entry is parsed (RFC 3659 facts, CRLF) and counted, and
             a malformed line is an error
  sessions   whole sessions: connect, AUTH TLS, USER/PASS, PBSZ 0, PROT,
             TYPE I, PASV/EPSV, RETR --path, QUIT; then the next one
  idle       open --concurrency sessions (logged in, PBSZ/PROT done) and hold
             them until --duration ends (server memory per idle session);
             prints "ready: N of M sessions logged in after S s" once none is
             left in set-up (on stderr with --json or --quiet)

target
      --host HOST        server name or address (default 127.0.0.1)
      --port N           control port (default 21)
      --user NAME        (default anonymous)
      --password PW      (default ftpsload@)
      --path PATH        file to RETR; file to STOR or APPE (with
                         --concurrency > 1 each connection adds .N, or
                         replaces {} by N); directory to LIST or MLSD
                         (default: the current one)
      --implicit         implicit FTPS: TLS from the first byte (the port
                         990 style), no AUTH TLS

load
  -c, --concurrency N    connections; idle: sessions to hold (default 1)
  -d, --duration S       stop after S seconds (whole run, set-up included);
                         work in flight then is cut and not counted
  -n, --count N          stop after N transfers (sessions: N sessions);
                         failed attempts count too
  -t, --threads N        event loops, one io_uring each (default 1)
      --per-session N    transfers per control session before QUIT and a
                         new session (default 0: unlimited)
      --ramp N           at most N sessions in set-up at once while the
                         connections start (default 32: below the listen
                         backlog of most servers; vsftpd's is 32)
      --bind ADDRS       source addresses, round robin: A,B,... or a range
                         127.0.0.1-127.0.0.20 (default: the kernel's choice;
                         above 10000 connections to a 127.x server, spread
                         over 127.0.0.1-N, 2500 each)
      --size BYTES       upload and append size, K/M/G suffixes (default 1M)
      --rest BYTES       REST BYTES before every RETR (download, sessions:
                         the file's tail from BYTES on) or STOR (upload)

protocol
      --tls 1.2|1.3|any  TLS versions offered (default any)
      --no-tls           plain FTP: no AUTH TLS
      --prot P|C         data connection protection (default P)
      --reuse on|off     data connections resume the control connection's
                         TLS session (default on; vsftpd require_ssl_reuse,
                         ProFTPD and ringftpd need it); off: full handshakes
      --data epsv|pasv|eprt|port
                         how data connections are made (default epsv):
                         passive, ftpsload connects to the server; or
                         active, ftpsload listens on the control
                         connection's local address and the server
                         connects back (under PROT P the data TLS still
                         resumes the control session, see --reuse)
      --epsv | --pasv | --eprt   short for --data epsv|pasv|eprt
      --ciphers LIST     cipher suites to offer, wolfSSL names, ':'-separated;
                         TLS13-* names go to TLS 1.3, the rest to TLS 1.2
                         (e.g. TLS13-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384,
                         what OpenSSL clients pick against OpenSSL servers)

verification (download, sessions; list: size only; mlsd: entries)
      --expect-size N    every download must be exactly N bytes
      --expect-sha256 H  and must hash to H (64 hex digits)
      --verify-file F    take both from the local file F
      --expect-entries N mlsd: every listing must hold N entries
  With --rest, these describe the bytes received (the file's tail), and
  --verify-file takes them from F past the offset. Without them a download
  is only checked for a 2xx reply and, under TLS, for its close_notify.
  Uploads are checked by the 226 reply and a SIZE afterwards (--rest
  included); appends by a SIZE that grew by exactly --size; every MLSD
  listing by its syntax.

output and limits
      --json             one JSON object on stdout instead of the report
      --quiet            no progress lines
      --trace            log the first connection's commands, replies and
                         TLS handshakes to stderr, with times (PASS hidden)
      --timeout S        longest wait for any one step: connect, a reply, a
                         TLS handshake, data progress (default 10)
      --keepalive S      idle: NOOP every S seconds (default: never)
  -h, --help
)";

struct Parser {
  std::span<const std::string_view> args;
  std::size_t i = 0;
  CliResult result;
  Options o;
  bool seen_tls_option = false;
  bool seen_no_tls = false;
  bool seen_expect = false;
  bool seen_rest = false;

  bool fail(std::string message) {
    if (result.error.empty()) result.error = std::move(message);
    return false;
  }
};

template <class T>
std::optional<T> parse_uint(std::string_view s) {
  T v{};
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc{} || end != s.data() + s.size()) return std::nullopt;
  return v;
}

std::optional<double> parse_seconds(std::string_view s) {
  if (!s.empty() && s.back() == 's') s.remove_suffix(1);
  double v = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc{} || end != s.data() + s.size() || !std::isfinite(v) || v <= 0) {
    return std::nullopt;
  }
  return v;
}

using Handler = std::function<bool(Parser&, std::string_view)>;

struct OptionSpec {
  std::string_view name;
  char short_name;
  bool takes_value;
  Handler handle;
};

template <class T>
Handler number(T Options::*field, T min, T max) {
  return [=](Parser& p, std::string_view v) {
    const auto n = parse_uint<T>(v);
    if (!n || *n < min || *n > max) {
      return p.fail("expected a number from " + std::to_string(min) + " to " + std::to_string(max) +
                    ", got \"" + std::string(v) + "\"");
    }
    p.o.*field = *n;
    return true;
  };
}

Handler seconds(double Options::*field) {
  return [=](Parser& p, std::string_view v) {
    const auto s = parse_seconds(v);
    if (!s) return p.fail("expected seconds (> 0), got \"" + std::string(v) + "\"");
    p.o.*field = *s;
    return true;
  };
}

Handler text(std::string Options::*field) {
  return [=](Parser& p, std::string_view v) {
    p.o.*field = std::string(v);
    return true;
  };
}

Handler flag(bool Options::*field, bool value) {
  return [=](Parser& p, std::string_view) {
    p.o.*field = value;
    return true;
  };
}

Handler data_command(DataCommand command) {
  return [=](Parser& p, std::string_view) {
    p.o.data_command = command;
    return true;
  };
}

std::optional<DataCommand> parse_data_command(std::string_view s) {
  if (s == "epsv") return DataCommand::Epsv;
  if (s == "pasv") return DataCommand::Pasv;
  if (s == "eprt") return DataCommand::Eprt;
  if (s == "port") return DataCommand::Port;
  return std::nullopt;
}

Handler on_off(bool Options::*field) {
  return [=](Parser& p, std::string_view v) {
    if (v != "on" && v != "off")
      return p.fail("expected on or off, got \"" + std::string(v) + "\"");
    p.o.*field = v == "on";
    return true;
  };
}

const std::vector<OptionSpec>& option_table() {
  static const std::vector<OptionSpec> table = {
      {"host", 0, true, text(&Options::host)},
      {"port", 0, true, number<std::uint16_t>(&Options::port, 1, 65535)},
      {"user", 0, true, text(&Options::user)},
      {"password", 0, true, text(&Options::password)},
      {"path", 0, true, text(&Options::path)},
      {"concurrency", 'c', true, number<unsigned>(&Options::concurrency, 1, 1000000)},
      {"duration", 'd', true, seconds(&Options::duration_s)},
      {"count", 'n', true, number<std::uint64_t>(&Options::count, 1, ~std::uint64_t{0})},
      {"threads", 't', true, number<unsigned>(&Options::threads, 1, 64)},
      {"per-session", 0, true, number<unsigned>(&Options::per_session, 0, 1000000000)},
      {"ramp", 0, true, number<unsigned>(&Options::ramp, 1, 1000000)},
      {"bind", 0, true,
       [](Parser& p, std::string_view v) {
         auto list = parse_bind_list(v);
         if (!list)
           return p.fail("expected A,B,... or A-B (IPv4, same /24), got \"" + std::string(v) +
                         "\"");
         p.o.bind = std::move(*list);
         return true;
       }},
      {"size", 0, true,
       [](Parser& p, std::string_view v) {
         const auto n = parse_bytes(v);
         if (!n) return p.fail("expected bytes (K/M/G suffix), got \"" + std::string(v) + "\"");
         p.o.upload_size = *n;
         return true;
       }},
      {"rest", 0, true,
       [](Parser& p, std::string_view v) {
         p.seen_rest = true;
         const auto n = parse_bytes(v);
         // The server keeps offsets in off_t (REST above INT64_MAX is a 501).
         if (!n || *n > static_cast<std::uint64_t>(INT64_MAX))
           return p.fail("expected bytes (K/M/G suffix), got \"" + std::string(v) + "\"");
         p.o.rest = *n;
         return true;
       }},
      {"implicit", 0, false,
       [](Parser& p, std::string_view) {
         p.seen_tls_option = true;
         p.o.implicit_tls = true;
         return true;
       }},
      {"tls", 0, true,
       [](Parser& p, std::string_view v) {
         p.seen_tls_option = true;
         if (v == "1.2")
           p.o.tls_versions = TlsVersions::Tls12;
         else if (v == "1.3")
           p.o.tls_versions = TlsVersions::Tls13;
         else if (v == "any")
           p.o.tls_versions = TlsVersions::Any;
         else
           return p.fail("expected 1.2, 1.3 or any, got \"" + std::string(v) + "\"");
         return true;
       }},
      {"no-tls", 0, false,
       [](Parser& p, std::string_view) {
         p.seen_no_tls = true;
         p.o.tls = false;
         return true;
       }},
      {"prot", 0, true,
       [](Parser& p, std::string_view v) {
         p.seen_tls_option = true;
         if (v != "P" && v != "C" && v != "p" && v != "c") {
           return p.fail("expected P or C, got \"" + std::string(v) + "\"");
         }
         p.o.prot_private = v == "P" || v == "p";
         return true;
       }},
      {"reuse", 0, true,
       [](Parser& p, std::string_view v) {
         p.seen_tls_option = true;
         return on_off(&Options::reuse)(p, v);
       }},
      {"data", 0, true,
       [](Parser& p, std::string_view v) {
         const auto c = parse_data_command(v);
         if (!c) return p.fail("expected epsv, pasv, eprt or port, got \"" + std::string(v) + "\"");
         p.o.data_command = *c;
         return true;
       }},
      {"epsv", 0, false, data_command(DataCommand::Epsv)},
      {"eprt", 0, false, data_command(DataCommand::Eprt)},
      {"ciphers", 0, true,
       [](Parser& p, std::string_view v) {
         p.seen_tls_option = true;
         p.o.tls12_ciphers.clear();
         p.o.tls13_ciphers.clear();
         while (!v.empty()) {
           const auto colon = v.find(':');
           const std::string_view name = v.substr(0, colon);
           v = colon == std::string_view::npos ? std::string_view{} : v.substr(colon + 1);
           if (name.empty()) continue;
           const bool v13 = name.starts_with("TLS13-") || name.starts_with("TLS_AES_") ||
                            name.starts_with("TLS_CHACHA20_");
           std::string& list = v13 ? p.o.tls13_ciphers : p.o.tls12_ciphers;
           if (!list.empty()) list += ':';
           list += name;
         }
         if (p.o.tls12_ciphers.empty() && p.o.tls13_ciphers.empty()) {
           return p.fail("expected cipher suite names");
         }
         return true;
       }},
      {"pasv", 0, false, data_command(DataCommand::Pasv)},
      {"expect-size", 0, true,
       [](Parser& p, std::string_view v) {
         p.seen_expect = true;
         const auto n = parse_uint<std::uint64_t>(v);
         if (!n) return p.fail("expected bytes, got \"" + std::string(v) + "\"");
         p.o.expect_size = *n;
         return true;
       }},
      {"expect-sha256", 0, true,
       [](Parser& p, std::string_view v) {
         p.seen_expect = true;
         p.o.expect_sha256 = parse_digest_hex(v);
         if (!p.o.expect_sha256) return p.fail("expected 64 hex digits");
         return true;
       }},
      {"verify-file", 0, true, text(&Options::verify_file)},
      {"expect-entries", 0, true,
       [](Parser& p, std::string_view v) {
         const auto n = parse_uint<std::uint64_t>(v);
         if (!n) return p.fail("expected a number, got \"" + std::string(v) + "\"");
         p.o.expect_entries = *n;
         return true;
       }},
      {"json", 0, false, flag(&Options::json, true)},
      {"quiet", 0, false, flag(&Options::quiet, true)},
      {"trace", 0, false, flag(&Options::trace, true)},
      {"timeout", 0, true, seconds(&Options::timeout_s)},
      {"keepalive", 0, true, seconds(&Options::keepalive_s)},
  };
  return table;
}

std::optional<Mode> parse_mode(std::string_view s) {
  if (s == "download") return Mode::Download;
  if (s == "upload") return Mode::Upload;
  if (s == "append") return Mode::Append;
  if (s == "list") return Mode::List;
  if (s == "mlsd") return Mode::Mlsd;
  if (s == "sessions") return Mode::Sessions;
  if (s == "idle") return Mode::Idle;
  return std::nullopt;
}

// One argument (and its value, if it takes one). False on error.
bool parse_option(Parser& p) {
  std::string_view arg = p.args[p.i++];
  std::string_view value;
  bool has_value = false;
  const OptionSpec* spec = nullptr;
  if (arg.starts_with("--")) {
    std::string_view name = arg.substr(2);
    if (const auto eq = name.find('='); eq != std::string_view::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
      has_value = true;
    }
    for (const auto& s : option_table()) {
      if (s.name == name) spec = &s;
    }
  } else if (arg.size() == 2 && arg[0] == '-') {
    for (const auto& s : option_table()) {
      if (s.short_name != 0 && s.short_name == arg[1]) spec = &s;
    }
  }
  if (spec == nullptr) return p.fail("unknown option " + std::string(arg));
  if (spec->takes_value && !has_value) {
    if (p.i >= p.args.size()) return p.fail(std::string(arg) + " needs a value");
    value = p.args[p.i++];
  } else if (!spec->takes_value && has_value) {
    return p.fail(std::string(arg) + " takes no value");
  }
  if (!spec->handle(p, value)) {
    p.result.error = "--" + std::string(spec->name) + ": " + p.result.error;
    return false;
  }
  return true;
}

bool check_combinations(Parser& p) {
  Options& o = p.o;
  if (p.seen_no_tls && p.seen_tls_option) {
    return p.fail(
        "--no-tls cannot be combined with --tls, --prot, --reuse, --ciphers or --implicit");
  }
  if (o.duration_s == 0 && o.count == 0) return p.fail("give --duration or --count (or both)");
  if (o.mode == Mode::Idle && o.duration_s == 0) return p.fail("idle needs --duration");
  if (o.mode == Mode::Idle && o.count != 0) return p.fail("idle takes --duration, not --count");
  if ((o.mode == Mode::Download || o.mode == Mode::Sessions || o.mode == Mode::Upload ||
       o.mode == Mode::Append) &&
      o.path.empty()) {
    return p.fail(std::string(mode_name(o.mode)) + " needs --path");
  }
  if (!o.verify_file.empty() && p.seen_expect) {
    return p.fail("--verify-file replaces --expect-size and --expect-sha256");
  }
  const bool verifies = p.seen_expect || !o.verify_file.empty();
  if (verifies && !(o.mode == Mode::Download || o.mode == Mode::Sessions ||
                    (o.mode == Mode::List && !o.expect_sha256 && o.verify_file.empty()))) {
    return p.fail("--expect-*/--verify-file apply to download and sessions (list: --expect-size)");
  }
  if (o.expect_entries && o.mode != Mode::Mlsd) return p.fail("--expect-entries applies to mlsd");
  if (p.seen_rest &&
      !(o.mode == Mode::Download || o.mode == Mode::Sessions || o.mode == Mode::Upload)) {
    return p.fail("--rest applies to download, sessions and upload");
  }
  if (o.threads > o.concurrency) return p.fail("--threads cannot exceed --concurrency");
  if (o.keepalive_s > 0 && o.mode != Mode::Idle) return p.fail("--keepalive applies to idle");
  if (o.per_session != 0 && (o.mode == Mode::Sessions || o.mode == Mode::Idle)) {
    return p.fail("--per-session applies to download, upload, append, list and mlsd");
  }
  return true;
}

}  // namespace

std::string_view mode_name(Mode mode) noexcept {
  switch (mode) {
    case Mode::Download:
      return "download";
    case Mode::Upload:
      return "upload";
    case Mode::Append:
      return "append";
    case Mode::List:
      return "list";
    case Mode::Mlsd:
      return "mlsd";
    case Mode::Sessions:
      return "sessions";
    case Mode::Idle:
      return "idle";
  }
  return "?";
}

std::string_view data_command_name(DataCommand command) noexcept {
  switch (command) {
    case DataCommand::Epsv:
      return "EPSV";
    case DataCommand::Pasv:
      return "PASV";
    case DataCommand::Eprt:
      return "EPRT";
    case DataCommand::Port:
      return "PORT";
  }
  return "?";
}

std::string_view usage() noexcept {
  return kUsage;
}

std::optional<std::uint64_t> parse_bytes(std::string_view text) {
  std::uint64_t scale = 1;
  if (!text.empty()) {
    switch (text.back()) {
      case 'k':
      case 'K':
        scale = 1ULL << 10;
        break;
      case 'm':
      case 'M':
        scale = 1ULL << 20;
        break;
      case 'g':
      case 'G':
        scale = 1ULL << 30;
        break;
      default:
        break;
    }
    if (scale != 1) text.remove_suffix(1);
  }
  const auto n = parse_uint<std::uint64_t>(text);
  if (!n || *n > (~std::uint64_t{0}) / scale) return std::nullopt;
  return *n * scale;
}

std::optional<std::vector<std::string>> parse_bind_list(std::string_view text) {
  auto is_ipv4 = [](std::string_view s) {
    in_addr a{};
    return inet_pton(AF_INET, std::string(s).c_str(), &a) == 1;
  };
  std::vector<std::string> out;
  if (const auto dash = text.find('-'); dash != std::string_view::npos) {
    const std::string_view a = text.substr(0, dash);
    const std::string_view b = text.substr(dash + 1);
    const auto dot_a = a.rfind('.');
    const auto dot_b = b.rfind('.');
    if (!is_ipv4(a) || !is_ipv4(b) || dot_a == std::string_view::npos ||
        a.substr(0, dot_a) != b.substr(0, dot_b)) {
      return std::nullopt;
    }
    const auto lo = parse_uint<unsigned>(a.substr(dot_a + 1));
    const auto hi = parse_uint<unsigned>(b.substr(dot_b + 1));
    if (!lo || !hi || *lo > *hi) return std::nullopt;
    for (unsigned x = *lo; x <= *hi; ++x)
      out.push_back(std::string(a.substr(0, dot_a + 1)) + std::to_string(x));
    return out;
  }
  for (;;) {
    const auto comma = text.find(',');
    const std::string_view one = text.substr(0, comma);
    if (!is_ipv4(one)) return std::nullopt;  // also an empty item: "a,,b", "a,"
    out.emplace_back(one);
    if (comma == std::string_view::npos) return out;
    text = text.substr(comma + 1);
  }
}

CliResult parse_cli(std::span<const std::string_view> args) {
  Parser p;
  p.args = args;
  for (const auto a : args) {
    if (a == "-h" || a == "--help") {
      p.result.help = true;
      return p.result;
    }
  }
  if (args.empty()) {
    p.fail("no mode given (download, upload, append, list, mlsd, sessions or idle)");
    return p.result;
  }
  const auto mode = parse_mode(args[0]);
  if (!mode) {
    p.fail("unknown mode \"" + std::string(args[0]) +
           "\" (download, upload, append, list, mlsd, sessions or idle)");
    return p.result;
  }
  p.o.mode = *mode;
  p.i = 1;
  while (p.i < args.size()) {
    if (!parse_option(p)) return p.result;
  }
  if (!check_combinations(p)) return p.result;
  p.result.options = std::move(p.o);
  return p.result;
}

}  // namespace ringftpd::ftpsload
