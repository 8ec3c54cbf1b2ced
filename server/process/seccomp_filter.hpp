// The seccomp allowlist of a serving worker (DESIGN.md §6).
//
// Installed last, once the worker serves: after the ring is made and
// restricted, the listeners inherited, privileges dropped and Landlock on.
// From then on any system call that is not listed kills the whole worker
// (SECCOMP_RET_KILL_PROCESS: the master sees it die of SIGSYS and starts a
// replacement). Threat: code execution inside a worker (a memory-safety bug
// reached by hostile bytes) that goes on to exec a shell, ptrace a sibling,
// open a new ring without restrictions, create unix or netlink sockets,
// signal other processes or map executable memory.
//
// io_uring operations bypass seccomp: what the ring may do is limited by the
// ring's own restrictions (io::RingRestrictions), and io_uring_setup is not
// allowed, so the restricted ring stays the only one.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace ringftpd::server {

// The system calls the filter allows (some only with certain arguments; see
// seccomp_filter.cpp), by name.
[[nodiscard]] std::vector<std::string> worker_syscall_names();

// Loads the filter into the calling process for good; it needs
// PR_SET_NO_NEW_PRIVS. Returns how many system calls it allows. Throws
// std::system_error if libseccomp or the kernel refuses.
std::size_t install_worker_seccomp_filter();

}  // namespace ringftpd::server
