#include "server/process/privileges.hpp"

#include <grp.h>
#include <pwd.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <stdexcept>
#include <system_error>
#include <vector>

namespace ringftpd::server {
namespace {

[[noreturn]] void fail(const char* what) {
  throw std::system_error(errno, std::generic_category(), what);
}

}  // namespace

std::optional<RunAs> resolve_run_as(const std::string& user) {
  if (geteuid() != 0) return std::nullopt;
  if (user.empty()) throw std::runtime_error("started as root, but run_as names no user");
  std::vector<char> buf(16384);
  passwd pw{};
  passwd* found = nullptr;
  const int rc = getpwnam_r(user.c_str(), &pw, buf.data(), buf.size(), &found);
  if (rc != 0 || found == nullptr) {
    throw std::runtime_error("run_as user '" + user +
                             "' does not exist: create it (useradd --system " + user +
                             ") or set run_as to an existing unprivileged user");
  }
  if (pw.pw_uid == 0) {
    throw std::runtime_error("run_as user '" + user + "' is root: workers never serve as root");
  }
  return RunAs{user, pw.pw_uid, pw.pw_gid};
}

rlim_t raise_nofile_limit(rlim_t want) noexcept {
  rlimit lim{};
  if (getrlimit(RLIMIT_NOFILE, &lim) != 0) return 0;
  if (lim.rlim_cur >= want) return lim.rlim_cur;
  rlimit wanted = lim;
  wanted.rlim_cur = want;
  if (wanted.rlim_max < want) wanted.rlim_max = want;  // only root may raise it
  if (setrlimit(RLIMIT_NOFILE, &wanted) == 0) return want;
  wanted.rlim_cur = lim.rlim_max;  // as far as the hard limit goes
  wanted.rlim_max = lim.rlim_max;
  if (setrlimit(RLIMIT_NOFILE, &wanted) == 0) return wanted.rlim_cur;
  return lim.rlim_cur;
}

void drop_privileges(const RunAs& who) {
  if (setgroups(1, &who.gid) != 0) fail("setgroups");
  if (setgid(who.gid) != 0) fail("setgid");
  if (setuid(who.uid) != 0) fail("setuid");
  // Belt and braces: a successful way back means the drop did not happen.
  if (setuid(0) == 0 || geteuid() == 0 || getegid() == 0) {
    throw std::runtime_error("still able to become root after dropping privileges");
  }
}

void forbid_new_privileges() {
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) fail("prctl(PR_SET_NO_NEW_PRIVS)");
}

void exit_with_master(pid_t master) {
  if (prctl(PR_SET_PDEATHSIG, SIGTERM, 0, 0, 0) != 0) fail("prctl(PR_SET_PDEATHSIG)");
  if (getppid() != master) _exit(0);  // the master died before prctl
}

bool user_can_read_dir(const RunAs& user, const std::string& dir) {
  const pid_t pid = fork();
  if (pid < 0) return true;  // cannot tell; do not block start-up on it
  if (pid == 0) {
    const bool ok = setgroups(1, &user.gid) == 0 && setgid(user.gid) == 0 &&
                    setuid(user.uid) == 0 && access(dir.c_str(), R_OK | X_OK) == 0;
    _exit(ok ? 0 : 1);
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

}  // namespace ringftpd::server
