// DirectoryLister: produces a LIST / NLST / MLSD listing of one directory in bounded
// batches, so a directory of 100 000 entries never stalls a worker's event loop: the
// session calls fill() for a batch, sends it, and calls again when the send completes,
// letting every other session on the loop run in between.
//
// Work per fill() call is bounded by max_entries: each directory entry read (listed or
// skipped) counts as one, and costs at most one fstatat (plus one readlinkat for a
// symlink in LIST when link targets are on); the 32 KiB getdents64 buffer is refilled
// at most max_entries + 1 times. These are synchronous syscalls on the calling thread;
// a small max_entries (say 64..256) keeps each call short even on a slow disk.
//
// Ownership: the lister owns the directory fd, which must be opened for reading with
// O_DIRECTORY (O_PATH fds cannot be read): open_in_root(root, rel, O_RDONLY |
// O_DIRECTORY, 0) or the ring's openat2. Entries are stat'ed relative to that fd with
// AT_SYMLINK_NOFOLLOW, one name component at a time, so nothing is resolved outside it.
// Single-threaded; movable, not copyable.
//
// Skipped, silently for the client and counted for the log:
//  - names with CR or LF (a listing has no escaping; see listing_format.hpp);
//  - entries that vanish (or become unreadable) between getdents64 and fstatat.
// "." and ".." are never listed for LIST and NLST; MLSD lists "." as type=cdir.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <system_error>

#include "io/unique_fd.hpp"

namespace ringftpd::server::fs {

enum class ListFormat : std::uint8_t { List, Nlst, Mlsd };

struct ListerOptions {
  std::uint8_t permissions = 0;    // config::Permission bits, for MLSD's perm fact
  std::int64_t now = 0;            // Unix seconds, fixed for the whole listing (LIST dates)
  bool show_link_targets = false;  // LIST: "name -> target" (one readlinkat per symlink)
};

struct ListerCounts {
  std::uint64_t listed = 0;
  std::uint64_t skipped_bad_name = 0;  // CR or LF in the name
  std::uint64_t skipped_vanished = 0;  // fstatat failed (ENOENT, EACCES, ...)
};

class DirectoryLister {
 public:
  static constexpr std::size_t kBufferBytes = 32 * 1024;

  DirectoryLister(io::UniqueFd dir, ListerOptions options);
  DirectoryLister(DirectoryLister&&) noexcept = default;
  DirectoryLister& operator=(DirectoryLister&&) noexcept = default;
  DirectoryLister(const DirectoryLister&) = delete;
  DirectoryLister& operator=(const DirectoryLister&) = delete;
  ~DirectoryLister() = default;

  // Appends at most max_entries lines to `out`. Returns true while there may be more
  // to list (a call may then append nothing and return false: the directory's end is
  // only known after one more read); false when the listing is complete or failed
  // (see error()). After false, further calls append nothing and return false.
  [[nodiscard]] bool fill(std::string& out, std::size_t max_entries, ListFormat format);

  // The getdents64 failure that ended the listing early; empty otherwise. A partial
  // listing after an error should be answered with 451, not 226.
  [[nodiscard]] std::error_code error() const noexcept { return error_; }
  [[nodiscard]] const ListerCounts& counts() const noexcept { return counts_; }
  // Hands the directory fd back (to be closed through the ring); the lister
  // lists nothing more afterwards.
  [[nodiscard]] io::UniqueFd release_dir() noexcept { return std::move(dir_); }

 private:
  // Reads the next batch of entries into buffer_; false at the end or on error.
  bool refill();
  // Formats one entry whose NUL-terminated name lies within `room` bytes at `name`.
  void emit(std::string& out, const char* name, std::size_t room, ListFormat format);

  io::UniqueFd dir_;
  ListerOptions options_;
  std::unique_ptr<char[]> buffer_;  // kBufferBytes, aligned for linux_dirent64
  std::size_t pos_ = 0;
  std::size_t len_ = 0;
  bool done_ = false;
  std::error_code error_;
  ListerCounts counts_;
};

}  // namespace ringftpd::server::fs
