// Directory listing lines: LIST (`ls -l` style), NLST, and the RFC 3659 MLSD / MLST
// facts. Pure formatting: no file system, no clock (the caller passes `now`), no locale,
// no time zone (always UTC), no user database (owner and group are always "ftp":
// getpwuid would block the loop, and host account names are none of a client's business).
//
// Every formatter appends to a caller-owned string and returns false, appending nothing,
// when `name` contains CR or LF: RFC 959 lists have no escaping, and such a name would
// split one entry into two (or forge entries). The caller skips and counts those.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

struct stat;
struct statx;

namespace ringftpd::server::fs {

// What a listing needs from stat/statx.
struct EntryStat {
  std::uint32_t mode = 0;  // st_mode: file type and permission bits
  std::uint64_t size = 0;
  std::int64_t mtime_sec = 0;
  std::uint32_t mtime_nsec = 0;
  std::uint64_t nlink = 0;
  std::uint64_t inode = 0;
  std::uint64_t dev = 0;  // makedev(major, minor), as st_dev holds it

  friend bool operator==(const EntryStat&, const EntryStat&) = default;
};

[[nodiscard]] EntryStat from_stat(const struct stat& st) noexcept;
// Needs at least STATX_TYPE | STATX_MODE | STATX_NLINK | STATX_INO | STATX_SIZE |
// STATX_MTIME in stx_mask (STATX_BASIC_STATS covers it); missing fields read as given.
[[nodiscard]] EntryStat from_statx(const struct statx& stx) noexcept;

// True when the name cannot be put in a listing (CR or LF inside).
[[nodiscard]] bool is_unlistable_name(std::string_view name) noexcept;

// LIST, one line in the form clients' `ls -l` parsers expect:
//   "drwxr-xr-x    2 ftp      ftp          4096 Nov 23 10:00 name\r\n"
// The date is "Mmm dd HH:MM" when mtime is within the six months before `now`
// (`ls` semantics: a future mtime counts as old), else "Mmm dd  YYYY". A symlink is
// shown as "name -> target" when `link_target` is non-empty and listable, else as name.
bool format_list_line(std::string& out, std::string_view name, const EntryStat& st,
                      std::int64_t now, std::string_view link_target = {});

// NLST: "name\r\n".
bool format_nlst_line(std::string& out, std::string_view name);

// What a MLSx entry is relative to the listed directory (RFC 3659 §7.5.1).
enum class MlsxRole : std::uint8_t {
  Entry,             // an ordinary entry: type from the mode
  CurrentDirectory,  // "." in MLSD, or the directory MLST names: type=cdir
  ParentDirectory,   // "..": type=pdir
};

// MLSD entry or MLST line (RFC 3659 §7): facts, one space, the name, CRLF.
//   "type=file;size=123;modify=20261123100000;perm=rw;unique=803U1A2B; name\r\n"
// type: file, dir, cdir, pdir, OS.unix=symlink, OS.unix=fifo / chr / blk / socket.
// size: regular files only. unique: "<dev>U<inode>" in upper-case hex.
// perm: see mlsx_perm_letters(). With `for_mlst` the line starts with one space (the
// MLST reply's continuation line, §7.2); `name` is then the full virtual path.
bool format_mlsx_facts(std::string& out, std::string_view name, const EntryStat& st,
                       std::uint8_t permissions, bool for_mlst, MlsxRole role = MlsxRole::Entry);

// The perm fact's letters (RFC 3659 §7.5.5) for an entry of mode `mode` under the
// session's config::Permission bits (list=1 read=2 write=4 delete=8 rename=16 mkdir=32):
//   file:      a (APPE), w (STOR) <- write;  r (RETR) <- read
//   directory: c (STOR/STOU into it) <- write;  e (CWD) always;  l (LIST) <- list;
//              m (MKD in it) <- mkdir;  p (DELE/RMD in it) <- delete
//   any type:  d (DELE/RMD of it) <- delete;  f (RNFR of it) <- rename
// Letters come in the order "acdeflmprw"; a symlink or special file gets d and f only.
[[nodiscard]] std::string mlsx_perm_letters(std::uint32_t mode, std::uint8_t permissions);

// RFC 3659 time-val "YYYYMMDDHHMMSS" in UTC, appended; the time is clamped to the
// years 0000..9999. For the modify fact and MDTM.
void format_modify_time(std::string& out, std::int64_t unix_seconds);

}  // namespace ringftpd::server::fs
