// Landlock for a worker: file access by path only beneath the configured
// roots (DESIGN.md §6, the sandbox beneath openat2).
//
// Runs in a forked worker, after every file it needs by path outside the
// roots is open, and restricts the calling process for good (Landlock is
// inherited and cannot be lifted). The process must be single-threaded:
// Landlock restricts the calling thread only. Threat: a bug in path handling
// (or an operation the ring carries out for a confused session) that names a
// file outside every user's root; openat2(RESOLVE_IN_ROOT) is the first wall,
// this is the second. io_uring operations run with the submitter's
// credentials, so they are restricted too.
//
// Needs no library: the kernel interface is three system calls
// (<linux/landlock.h>).
#pragma once

#include <cstddef>
#include <span>
#include <string>
#include <vector>

namespace ringftpd::server {

// A directory tree a worker may reach: read (files and listings), or read
// and write (create, write, truncate, remove, rename, make directories).
// Never: execute, symlinks, devices, FIFOs, sockets, device ioctls.
struct SandboxRoot {
  std::string path;
  bool writable = false;
  friend bool operator==(const SandboxRoot&, const SandboxRoot&) = default;
};

struct LandlockOutcome {
  int abi = 0;                       // 0: this kernel has no Landlock; nothing was restricted
  std::size_t trees = 0;             // directory trees allowed
  std::size_t files = 0;             // single files allowed
  std::vector<std::string> skipped;  // "path: reason" for paths that could not be opened
};

// The Landlock ABI version of the running kernel; 0 if it has none (not
// built in, or disabled at boot).
[[nodiscard]] int landlock_abi() noexcept;

// Restricts the calling process: beneath each of `trees` as it allows, plus
// read access to each of `readable_files` (for instance /dev/urandom), and
// nothing else by path. A path that cannot be opened now is skipped (and
// listed) rather than failing the worker: it stays unreachable. Returns
// abi = 0 without doing anything when the kernel lacks Landlock. Throws
// std::system_error if the kernel has Landlock and refuses.
[[nodiscard]] LandlockOutcome restrict_file_access(std::span<const SandboxRoot> trees,
                                                   std::span<const std::string> readable_files);

}  // namespace ringftpd::server
