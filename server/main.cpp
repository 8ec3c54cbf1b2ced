// ringftpd entry point: parse the command line, build the configuration
// snapshot, check certificates and directories, bind the listeners, serve.
//
// Everything that can fail at start-up fails here, before any client is
// accepted, with one line on stderr and a non-zero exit status. Exceptions are
// allowed here (start-up) and nowhere in the event loop.
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <string>
#include <system_error>
#include <vector>

#include "config/config.hpp"
#include "server/auth/auth_service.hpp"
#include "server/auth/user_table.hpp"
#include "server/cli.hpp"
#include "server/embedded_default.hpp"
#include "server/log.hpp"
#include "server/password_hash.hpp"
#include "server/version.hpp"
#include "server/worker.hpp"
#include "tls/context.hpp"
#include "tls/credentials.hpp"
#include "tls/error.hpp"
#include "tls/library.hpp"

namespace {

using namespace ringftpd;

constexpr int kExitUsage = 2;
constexpr int kExitFailure = 1;

int fail(const std::string& message) {
  std::cerr << "ringftpd: " << message << "\n";
  return kExitFailure;
}

// The certificate the server will present: configured, or first-run
// self-signed in the state directory. Throws tls::TlsError.
tls::Credentials server_credentials(const config::Config& cfg, bool* generated) {
  if (!cfg.tls.certificate_file.empty()) {
    return tls::load_credentials(cfg.tls.certificate_file, cfg.tls.private_key_file);
  }
  const tls::CredentialPaths paths = tls::ensure_self_signed(cfg.state_dir);
  if (generated != nullptr) *generated = paths.generated;
  return tls::load_credentials(paths.cert, paths.key);
}

tls::ServerOptions server_tls_options(const config::Config& cfg) {
  const auto version = [](config::TlsVersion v) {
    return v == config::TlsVersion::V1_3 ? tls::Version::Tls13 : tls::Version::Tls12;
  };
  tls::ServerOptions o;
  o.min_version = version(cfg.tls.min_version);
  o.max_version = version(cfg.tls.max_version);
  o.tls12_ciphers = cfg.tls.cipher_list;
  o.tls13_ciphers = cfg.tls.ciphersuites;
  o.session_lifetime = std::chrono::seconds(cfg.tls.session_lifetime_seconds);
  if (cfg.tls.client_certs != config::ClientCerts::Off) {
    o.client_certs = cfg.tls.client_certs == config::ClientCerts::Required
                         ? tls::ServerOptions::ClientCertMode::Required
                         : tls::ServerOptions::ClientCertMode::Optional;
    std::ifstream in(cfg.tls.client_ca_file);
    o.client_ca_pem.assign(std::istreambuf_iterator<char>(in), {});
    if (!in && !in.eof()) throw std::runtime_error(cfg.tls.client_ca_file + ": cannot read");
  }
  return o;
}

std::vector<server::ListenSocket> bind_listeners(const config::Config& cfg) {
  std::vector<server::ListenSocket> out;
  for (const config::Listener& l : cfg.listeners) {
    const auto address = io::SocketAddress::parse(l.address, l.port);
    if (!address) throw std::runtime_error(l.address + ": not a numeric IP address");
    out.push_back({io::listen_on(*address, {}), l.implicit_tls});
  }
  return out;
}

int hash_password(const server::CliOptions& o) {
  const auto scheme = server::parse_hash_scheme(o.hash_scheme);
  if (!scheme) return fail("unknown hash scheme " + o.hash_scheme);
  if (isatty(STDIN_FILENO)) std::cerr << "Password: " << std::flush;
  std::string password;
  if (!std::getline(std::cin, password) || password.empty()) {
    return fail("no password on standard input");
  }
  std::cout << server::hash_password(password, *scheme) << "\n";
  return 0;
}

int serve(config::Snapshot cfg, const server::EmbeddedAccount* account) {
  server::block_stop_signals();  // before any thread exists (the auth service's)
  bool generated = false;
  const tls::Credentials creds = server_credentials(*cfg, &generated);
  auto listeners = bind_listeners(*cfg);
  server::Log log(cfg->log.level, cfg->log.file);
  log.info("main", server::version_text().substr(0, server::version_text().find('\n')) +
                       " starting, config " + cfg->source);
  if (generated) log.info("main", "generated a self-signed certificate in " + cfg->state_dir);
  if (account != nullptr) {
    std::cout << server::connection_help(*cfg, *account,
                                         tls::fingerprint_sha256(creds.cert_chain_pem()))
              << std::flush;
  }
  // Password checks run on the auth service's threads, never on the loop.
  // (The master/worker issue moves the service into its own process.)
  std::vector<config::User> users;
  if (account != nullptr) {
    users.push_back(account->user);
  } else if (!cfg->users.file.empty()) {
    users = config::load_users_file(cfg->users.file);
  }
  server::auth::AuthServiceOptions auth_options;
  auth_options.log = [&log](std::string_view line) { log.info("authd", line); };
  // Certificate logins ask the service for the account without a password.
  auth_options.allow_user_lookup = cfg->tls.client_certs != config::ClientCerts::Off;
  server::auth::AuthService auth(server::auth::UserTable(std::move(users), cfg->users), cfg->limits,
                                 std::move(auth_options));
  const tls::ServerContext tls_context(creds, server_tls_options(*cfg));
  server::Worker worker(cfg, std::move(listeners), auth.add_client(), &tls_context, log);
  return worker.run();
}

int run(const server::CliOptions& o) {
  switch (o.action) {
    case server::CliAction::Help:
      std::cout << server::usage_text();
      return 0;
    case server::CliAction::Version:
      std::cout << server::version_text();
      return 0;
    case server::CliAction::HashPassword:
      return hash_password(o);
    case server::CliAction::CheckConfig:
    case server::CliAction::Serve:
      break;
  }
  const tls::Library tls_library;
  if (o.config_file.empty()) {
    if (o.action == server::CliAction::CheckConfig) {
      return fail("--check-config needs --config FILE");
    }
    const server::EmbeddedSetup setup = server::make_embedded_setup(o);
    return serve(std::make_shared<const config::Config>(setup.config), &setup.account);
  }
  auto cfg = std::make_shared<const config::Config>(config::load_file(o.config_file));
  if (o.action == server::CliAction::CheckConfig) {
    if (!cfg->users.file.empty()) (void)config::load_users_file(cfg->users.file);
    if (!cfg->tls.certificate_file.empty()) {
      // Building the context also checks cipher names and the client CA.
      const tls::Credentials creds =
          tls::load_credentials(cfg->tls.certificate_file, cfg->tls.private_key_file);
      const tls::ServerContext context(creds, server_tls_options(*cfg));
    }
    std::cout << "ringftpd: configuration OK: " << o.config_file << "\n";
    return 0;
  }
  return serve(cfg, nullptr);
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string_view> args(argv + 1, argv + argc);
  const server::CliResult parsed = server::parse_cli(args);
  if (!parsed.options) {
    std::cerr << "ringftpd: " << parsed.error << "\n";
    return kExitUsage;
  }
  try {
    return run(*parsed.options);
  } catch (const config::ConfigError& e) {
    return fail(e.what());
  } catch (const tls::TlsError& e) {
    return fail(e.what());
  } catch (const std::system_error& e) {
    return fail(e.what());
  } catch (const std::exception& e) {
    return fail(e.what());
  }
}
