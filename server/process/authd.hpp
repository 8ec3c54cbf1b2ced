// authd: the process that alone holds the user database (DESIGN.md §2).
//
// Forked by the master; serves the workers' auth requests with
// auth::AuthService (its own threads: one socket loop, a small pool that
// verifies crypt(3) hashes), and counts failed logins per client address
// across all workers, since every worker talks to this one process.
//
// Its sockets: one SOCK_SEQPACKET socketpair end per worker, inherited at fork
// (the master keeps a copy of each, so a restarted authd serves the same
// sockets and workers never reconnect), plus an admin socket on which the
// master passes the ends of workers forked later (SCM_RIGHTS).
//
// Signals: SIGHUP re-reads the config file's [users] and the users file (a
// broken one is logged and the old table kept); SIGTERM exits; SIGINT is
// ignored (the master decides when authd stops). It exits when the master
// goes away (the admin socket closes, or PR_SET_PDEATHSIG).
#pragma once

#include <sys/types.h>

#include <vector>

#include "config/config.hpp"
#include "io/unique_fd.hpp"
#include "server/embedded_default.hpp"
#include "server/log.hpp"

namespace ringftpd::server {

struct AuthdSetup {
  config::Snapshot config;
  const EmbeddedAccount* account = nullptr;  // embedded default: the only user, no reload
  std::vector<io::UniqueFd> clients;         // service ends of the live workers' sockets
  io::UniqueFd admin;                        // from the master
  pid_t master = 0;
};

// The body of the authd child. Returns its exit status; never throws.
[[nodiscard]] int run_authd(AuthdSetup setup, Log& log) noexcept;

// Master side of the admin socket: hands a worker's service end to authd.
// false if authd is not there to take it (it gets it when it restarts).
bool send_client_to_authd(int admin_fd, int service_end) noexcept;

}  // namespace ringftpd::server
