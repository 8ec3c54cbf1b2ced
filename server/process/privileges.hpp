// The steps a forked child takes to give up what it does not need
// (DESIGN.md §2): more file descriptors, then no way back to root.
//
// Started as root, a worker becomes `run_as` (setgroups, setgid, setuid) and
// can never regain root; started as an ordinary user, the same code skips
// the identity change. Everything here runs in the child before its ring
// exists, and throws std::system_error / std::runtime_error on failure (the
// child then exits and the master logs why).
#pragma once

#include <sys/resource.h>
#include <sys/types.h>

#include <optional>
#include <string>

namespace ringftpd::server {

struct RunAs {
  std::string name;
  uid_t uid = 0;
  gid_t gid = 0;
};

// The account workers become: nullopt when not running as root (nothing to
// drop). Throws std::runtime_error if the user is unknown or is root itself:
// a worker never serves as root.
[[nodiscard]] std::optional<RunAs> resolve_run_as(const std::string& user);

// Raises RLIMIT_NOFILE's soft limit to `want` (and, as root, the hard limit
// too), or as far as allowed. Returns the soft limit now in force.
rlim_t raise_nofile_limit(rlim_t want) noexcept;

// setgroups({gid}), setgid, setuid, then checks that setuid(0) fails.
void drop_privileges(const RunAs& who);

// PR_SET_NO_NEW_PRIVS: no exec can ever raise privileges again.
void forbid_new_privileges();

// Gets SIGTERM when the master dies (PR_SET_PDEATHSIG),
// then exits at once if the master is already gone (the race prctl leaves).
// Call after drop_privileges (changing credentials clears the setting).
void exit_with_master(pid_t master);

// Whether `user` can read and search directory `dir` (checked in a forked
// child that becomes `user`). For start-up warnings.
[[nodiscard]] bool user_can_read_dir(const RunAs& user, const std::string& dir);

}  // namespace ringftpd::server
