// Opening files confined to a session's root directory (DESIGN.md §6).
//
// Every path a client names is opened relative to the session's root fd with openat2
// and RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS:
//  - RESOLVE_IN_ROOT treats the root fd as "/" for the whole lookup: "..", absolute
//    paths and absolute symlink targets cannot climb above it. Threat: a client (or a
//    symlink another user uploaded or the admin left) naming "../../etc/shadow".
//  - RESOLVE_NO_MAGICLINKS refuses /proc-style magic links (ELOOP), which jump to
//    whatever they point at regardless of the root. Threat: a root that contains or
//    is bind-mounted over procfs.
//
// open_how_for() is what the ring code hands to io_uring_prep_openat2 on the hot path.
// open_root() and open_in_root() are synchronous syscalls: for login-time setup, the
// directory lister's own opens, and tests. They must not be called per transfer on a
// worker's event loop.
//
// openat2 (and its ring op) fails with EAGAIN when a rename or mount raced a
// RESOLVE_IN_ROOT lookup; the caller retries a bounded number of times (open_in_root
// does). Callers opening something to read should refuse non-regular files after the
// open (fstat/statx): a FIFO or device in a user's tree otherwise blocks the opener.
#pragma once

#include <linux/openat2.h>
#include <sys/types.h>

#include <cstdint>
#include <string>
#include <system_error>

#include "io/unique_fd.hpp"

namespace ringftpd::server::fs {

inline constexpr std::uint64_t kConfinedResolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;

// Opens an absolute host path (a user's configured root) as O_PATH | O_DIRECTORY |
// O_CLOEXEC. Follows symlinks in `path` itself: the admin chose it. On failure returns
// an invalid fd and sets `error`; on success clears `error`.
[[nodiscard]] io::UniqueFd open_root(const std::string& path, std::error_code& error);

// The open_how for a confined open: flags | O_CLOEXEC, resolve = kConfinedResolve, and
// `mode` only when flags hold O_CREAT or O_TMPFILE (openat2 rejects a mode otherwise).
[[nodiscard]] open_how open_how_for(int flags, mode_t mode = 0) noexcept;

// openat2(root_fd, rel, open_how_for(flags, mode)). `rel` is relative to the root (a
// ResolvedPath::relative_c_str(), or "." for the root itself); an absolute or ".."-laden
// string is still confined. Retries EAGAIN / EINTR a few times. On failure returns an
// invalid fd and sets `error` (ENOENT, ELOOP, ENOTDIR, EXDEV, ...); on success clears it.
[[nodiscard]] io::UniqueFd open_in_root(int root_fd, const char* rel, int flags, mode_t mode,
                                        std::error_code& error);

}  // namespace ringftpd::server::fs
