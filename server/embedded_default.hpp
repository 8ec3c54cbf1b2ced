// The embedded default: what `ringftpd [DIR]` serves with no configuration
// file. One read-only account with a password made at start-up, printed with
// the curl and lftp command lines that reach it.
#pragma once

#include <string>

#include "config/config.hpp"
#include "server/cli.hpp"

namespace ringftpd::server {

struct EmbeddedAccount {
  config::User user;     // read-only, rooted at the served directory
  std::string password;  // shown once on stdout; only its hash is kept in user
};

struct EmbeddedSetup {
  config::Config config;
  EmbeddedAccount account;
};

// Where the embedded default keeps its certificate and pid file when no
// --state-dir is given: /var/lib/ringftpd for root, else under $HOME.
[[nodiscard]] std::string default_state_dir();

// Validates DIR and the state directory; throws std::runtime_error naming the
// path that is wrong.
[[nodiscard]] EmbeddedSetup make_embedded_setup(const CliOptions& options);

// The start-up text: where it listens, the account, how to connect.
[[nodiscard]] std::string connection_help(const config::Config& cfg, const EmbeddedAccount& account,
                                          const std::string& cert_fingerprint);

}  // namespace ringftpd::server
