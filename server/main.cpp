// ringftpd entry point: parse the command line, build the configuration
// snapshot, check certificates and directories, bind the listeners, serve.
//
// Everything that can fail at start-up fails here, before any client is
// accepted, with one line on stderr and a non-zero exit status. Exceptions are
// allowed here (start-up) and nowhere in the event loop.
#include <signal.h>
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
#include "server/cli.hpp"
#include "server/embedded_default.hpp"
#include "server/log.hpp"
#include "server/password_hash.hpp"
#include "server/process/master.hpp"
#include "server/process/pid_file.hpp"
#include "server/process/privileges.hpp"
#include "server/process/serving_snapshot.hpp"
#include "server/process/status_report.hpp"
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

// Checks what only a running system can tell: started as root, the workers
// become run_as, and must be able to read the directories they serve.
void check_run_as_can_serve(const config::Config& cfg, const server::EmbeddedAccount* account,
                            server::Log& log) {
  const auto run_as = server::resolve_run_as(cfg.run_as);  // throws if unknown or root
  if (!run_as) return;
  std::vector<std::string> roots;
  if (account != nullptr) roots.push_back(account->user.root);
  if (cfg.users.anonymous) roots.push_back(cfg.users.anonymous_root);
  for (const std::string& root : roots) {
    if (server::user_can_read_dir(*run_as, root)) continue;
    const std::string why = root + " is not readable by user " + run_as->name +
                            " (workers run as run_as when started as root)";
    if (account != nullptr) throw std::runtime_error(why);
    log.warn("main", why);
  }
}

int serve(config::Snapshot cfg, const server::EmbeddedAccount* account,
          const std::string& config_path) {
  // Before any thread or child exists: every signal is read through a signalfd.
  server::block_server_signals();
  server::ServingSnapshot snapshot = server::load_serving_snapshot(std::move(cfg), account);
  const bool generated = snapshot.generated_certificate;
  const std::string fingerprint = tls::fingerprint_sha256(snapshot.credentials->cert_chain_pem());
  server::MasterSetup setup{std::move(snapshot), account, config_path};
  const config::Snapshot running = setup.snapshot.config;
  server::Master master(std::move(setup));
  server::Log& log = master.log();
  log.info("main", server::version_text().substr(0, server::version_text().find('\n')) +
                       " starting, config " + running->source);
  if (generated) log.info("main", "generated a self-signed certificate in " + running->state_dir);
  check_run_as_can_serve(*running, account, log);
  if (account != nullptr) {
    std::cout << server::connection_help(*running, *account, fingerprint) << std::flush;
  }
  return master.run();
}

// --status: ask the running master (named by the pid file) for its counters
// and print them.
int print_status(const server::CliOptions& o) {
  std::string state_dir = o.state_dir;
  std::string pid_path;
  if (!o.config_file.empty()) {
    const config::Config cfg = config::load_file(o.config_file);
    state_dir = cfg.state_dir;
    pid_path = cfg.pid_file;
  }
  if (state_dir.empty()) state_dir = server::default_state_dir();
  if (pid_path.empty()) pid_path = state_dir + "/ringftpd.pid";
  const pid_t pid = server::PidFile::read_live_pid(pid_path);
  if (pid <= 0) return fail("no running ringftpd named in " + pid_path);
  const std::string status_path = server::status_file_path(state_dir);
  struct stat before {};
  const bool existed = ::stat(status_path.c_str(), &before) == 0;
  if (kill(pid, SIGUSR1) != 0) return fail("cannot signal pid " + std::to_string(pid));
  for (int i = 0; i < 100; ++i) {  // up to 5 s
    struct stat now {};
    if (::stat(status_path.c_str(), &now) == 0 &&
        (!existed || now.st_mtim.tv_sec != before.st_mtim.tv_sec ||
         now.st_mtim.tv_nsec != before.st_mtim.tv_nsec || now.st_ino != before.st_ino)) {
      std::ifstream in(status_path);
      std::cout << in.rdbuf();
      return 0;
    }
    usleep(50'000);
  }
  return fail("the master (pid " + std::to_string(pid) + ") did not answer within 5 s");
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
    case server::CliAction::Status:
      return print_status(o);
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
    return serve(std::make_shared<const config::Config>(setup.config), &setup.account, {});
  }
  auto cfg = std::make_shared<const config::Config>(config::load_file(o.config_file));
  if (o.action == server::CliAction::CheckConfig) {
    if (!cfg->users.file.empty()) (void)config::load_users_file(cfg->users.file);
    if (!cfg->tls.certificate_file.empty()) {
      // Building the snapshot also checks cipher names and the client CA.
      (void)server::load_serving_snapshot(cfg, nullptr);
    }
    std::cout << "ringftpd: configuration OK: " << o.config_file << "\n";
    return 0;
  }
  return serve(cfg, nullptr, o.config_file);
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
