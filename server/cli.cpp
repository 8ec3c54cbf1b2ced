#include "server/cli.hpp"

#include <charconv>

namespace ringftpd::server {

std::string usage_text() {
  return R"(usage: ringftpd [--config FILE] [--check-config] [DIR]
       ringftpd --status [--config FILE | --state-dir DIR]
       ringftpd --hash-password [--scheme yescrypt|sha512|bcrypt]  (password on stdin)
       ringftpd --version | --help

Without --config, serves DIR (default: the current directory) read-only on
127.0.0.1:2121 with FTPS required, to an account printed at start-up.

Runs in the foreground, logging to stderr unless log.file is set: a master
process, an auth process and one worker per CPU. Signals to the master:
SIGHUP reloads the configuration and certificate (sessions continue), SIGTERM
stops gracefully, SIGINT stops now, SIGUSR1 writes the counters to the log.

  -c, --config FILE     use the TOML configuration FILE
      --check-config    validate the configuration (and its certificate and
                        users file), print the result, exit 0 or 1
      --status          print the live counters of the running server (the
                        master named by the pid file writes them on SIGUSR1)
      --state-dir DIR   embedded default: where the self-signed certificate lives
      --port N          embedded default: listen on 127.0.0.1:N instead of 2121
      --hash-password   read a password from stdin, print a crypt(3) hash for
                        the users file
      --scheme NAME     hash scheme for --hash-password (default yescrypt)
  -V, --version         print versions and crypto build facts
  -h, --help            this text
)";
}

CliResult parse_cli(const std::vector<std::string_view>& args) {
  CliOptions o;
  const auto fail = [](std::string msg) { return CliResult{std::nullopt, std::move(msg)}; };
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string_view a = args[i];
    const auto value = [&]() -> std::optional<std::string_view> {
      if (i + 1 >= args.size()) return std::nullopt;
      return args[++i];
    };
    if (a == "-c" || a == "--config") {
      const auto v = value();
      if (!v) return fail(std::string(a) + " needs a file name");
      o.config_file = *v;
    } else if (a == "--check-config") {
      o.action = CliAction::CheckConfig;
    } else if (a == "--status") {
      o.action = CliAction::Status;
    } else if (a == "-V" || a == "--version") {
      o.action = CliAction::Version;
    } else if (a == "-h" || a == "--help") {
      o.action = CliAction::Help;
    } else if (a == "--hash-password") {
      o.action = CliAction::HashPassword;
    } else if (a == "--scheme") {
      const auto v = value();
      if (!v) return fail("--scheme needs yescrypt, sha512 or bcrypt");
      o.hash_scheme = *v;
    } else if (a == "--state-dir") {
      const auto v = value();
      if (!v) return fail("--state-dir needs a directory");
      o.state_dir = *v;
    } else if (a == "--port") {
      const auto v = value();
      unsigned port = 0;
      if (!v) return fail("--port needs a number");
      const auto [p, ec] = std::from_chars(v->data(), v->data() + v->size(), port);
      if (ec != std::errc{} || p != v->data() + v->size() || port == 0 || port > 65535) {
        return fail("--port: not a port number: " + std::string(*v));
      }
      o.port = static_cast<std::uint16_t>(port);
    } else if (!a.empty() && a[0] == '-') {
      return fail("unknown option " + std::string(a) + " (try --help)");
    } else if (o.serve_dir.empty()) {
      o.serve_dir = a;
    } else {
      return fail("more than one directory given: " + std::string(a));
    }
  }
  if (!o.config_file.empty() && o.action != CliAction::Status &&
      (!o.serve_dir.empty() || o.port || !o.state_dir.empty())) {
    return fail(
        "DIR, --port and --state-dir apply to the embedded default only; "
        "set them in the configuration file instead");
  }
  return CliResult{o, {}};
}

}  // namespace ringftpd::server
