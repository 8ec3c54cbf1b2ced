#include "server/fs/listing_format.hpp"

#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <cstddef>

#include "config/config.hpp"

namespace ringftpd::server::fs {
namespace {

// The range a 4-digit year can express (as server/ftp/timeval.hpp).
constexpr std::int64_t kMinSeconds = -62'167'219'200;  // 0000-01-01T00:00:00Z
constexpr std::int64_t kMaxSeconds = 253'402'300'799;  // 9999-12-31T23:59:59Z
constexpr std::int64_t kSecondsPerDay = 86'400;
// GNU ls: half of an average Gregorian year.
constexpr std::int64_t kSixMonths = 31'556'952 / 2;

constexpr std::array<std::string_view, 12> kMonths = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                      "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

struct Civil {
  int year;
  int month;  // 1..12
  int day;    // 1..31
  int hour;
  int minute;
  int second;
};

// Proleptic Gregorian calendar from Unix seconds (H. Hinnant's civil_from_days).
Civil to_civil(std::int64_t t) noexcept {
  t = std::clamp(t, kMinSeconds, kMaxSeconds);
  std::int64_t days = t / kSecondsPerDay;
  std::int64_t secs = t % kSecondsPerDay;
  if (secs < 0) {
    secs += kSecondsPerDay;
    --days;
  }
  const std::int64_t z = days + 719'468;
  const std::int64_t era = (z >= 0 ? z : z - 146'096) / 146'097;
  const std::int64_t doe = z - era * 146'097;
  const std::int64_t yoe = (doe - doe / 1460 + doe / 36'524 - doe / 146'096) / 365;
  const std::int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const std::int64_t mp = (5 * doy + 2) / 153;
  const std::int64_t day = doy - (153 * mp + 2) / 5 + 1;
  const std::int64_t month = mp < 10 ? mp + 3 : mp - 9;
  const std::int64_t year = yoe + era * 400 + (month <= 2 ? 1 : 0);
  return Civil{
      static_cast<int>(year),        static_cast<int>(month),          static_cast<int>(day),
      static_cast<int>(secs / 3600), static_cast<int>(secs / 60 % 60), static_cast<int>(secs % 60)};
}

// Appends `value` right-aligned in `width` characters, padded with `pad`.
void append_number(std::string& out, std::uint64_t value, std::size_t width = 0, char pad = ' ') {
  std::array<char, 24> buf{};
  const auto [end, ec] = std::to_chars(buf.data(), buf.data() + buf.size(), value);
  (void)ec;  // 24 bytes hold any uint64_t
  const auto len = static_cast<std::size_t>(end - buf.data());
  if (len < width) out.append(width - len, pad);
  out.append(buf.data(), len);
}

void append_hex_upper(std::string& out, std::uint64_t value) {
  std::array<char, 16> buf{};
  const auto [end, ec] = std::to_chars(buf.data(), buf.data() + buf.size(), value, 16);
  (void)ec;
  for (const char* p = buf.data(); p != end; ++p) {
    out.push_back(*p >= 'a' && *p <= 'f' ? static_cast<char>(*p - 'a' + 'A') : *p);
  }
}

char type_char(std::uint32_t mode) noexcept {
  switch (mode & S_IFMT) {
    case S_IFREG:
      return '-';
    case S_IFDIR:
      return 'd';
    case S_IFLNK:
      return 'l';
    case S_IFCHR:
      return 'c';
    case S_IFBLK:
      return 'b';
    case S_IFIFO:
      return 'p';
    case S_IFSOCK:
      return 's';
    default:
      return '?';
  }
}

void append_mode_string(std::string& out, std::uint32_t mode) {
  const auto bit = [mode](std::uint32_t b, char c) { return (mode & b) != 0 ? c : '-'; };
  const auto exec = [mode](std::uint32_t x, std::uint32_t special, char set, char unset) {
    if ((mode & special) != 0) return (mode & x) != 0 ? set : unset;
    return (mode & x) != 0 ? 'x' : '-';
  };
  out.push_back(type_char(mode));
  out.push_back(bit(S_IRUSR, 'r'));
  out.push_back(bit(S_IWUSR, 'w'));
  out.push_back(exec(S_IXUSR, S_ISUID, 's', 'S'));
  out.push_back(bit(S_IRGRP, 'r'));
  out.push_back(bit(S_IWGRP, 'w'));
  out.push_back(exec(S_IXGRP, S_ISGID, 's', 'S'));
  out.push_back(bit(S_IROTH, 'r'));
  out.push_back(bit(S_IWOTH, 'w'));
  out.push_back(exec(S_IXOTH, S_ISVTX, 't', 'T'));
}

void append_two_digits(std::string& out, int v) {
  out.push_back(static_cast<char>('0' + v / 10));
  out.push_back(static_cast<char>('0' + v % 10));
}

// "Mmm dd HH:MM" or "Mmm dd  YYYY": always 12 characters for years 0..9999.
void append_list_date(std::string& out, std::int64_t mtime, std::int64_t now) {
  const Civil c = to_civil(mtime);
  out.append(kMonths[static_cast<std::size_t>(c.month - 1)]);
  out.push_back(' ');
  append_number(out, static_cast<std::uint64_t>(c.day), 2);
  out.push_back(' ');
  const bool recent = mtime > now - kSixMonths && mtime <= now;
  if (recent) {
    append_two_digits(out, c.hour);
    out.push_back(':');
    append_two_digits(out, c.minute);
  } else {
    append_number(out, static_cast<std::uint64_t>(c.year), 5);
  }
}

std::string_view mlsx_type(std::uint32_t mode, MlsxRole role) noexcept {
  if (role == MlsxRole::CurrentDirectory) return "cdir";
  if (role == MlsxRole::ParentDirectory) return "pdir";
  switch (mode & S_IFMT) {
    case S_IFREG:
      return "file";
    case S_IFDIR:
      return "dir";
    case S_IFLNK:
      return "OS.unix=symlink";
    case S_IFCHR:
      return "OS.unix=chr";
    case S_IFBLK:
      return "OS.unix=blk";
    case S_IFIFO:
      return "OS.unix=fifo";
    case S_IFSOCK:
      return "OS.unix=socket";
    default:
      return "OS.unix=unknown";
  }
}

}  // namespace

EntryStat from_stat(const struct stat& st) noexcept {
  EntryStat e;
  e.mode = st.st_mode;
  e.size = static_cast<std::uint64_t>(st.st_size);
  e.mtime_sec = st.st_mtim.tv_sec;
  e.mtime_nsec = static_cast<std::uint32_t>(st.st_mtim.tv_nsec);
  e.nlink = st.st_nlink;
  e.inode = st.st_ino;
  e.dev = st.st_dev;
  return e;
}

EntryStat from_statx(const struct statx& stx) noexcept {
  EntryStat e;
  e.mode = stx.stx_mode;
  e.size = stx.stx_size;
  e.mtime_sec = stx.stx_mtime.tv_sec;
  e.mtime_nsec = stx.stx_mtime.tv_nsec;
  e.nlink = stx.stx_nlink;
  e.inode = stx.stx_ino;
  e.dev = makedev(stx.stx_dev_major, stx.stx_dev_minor);
  return e;
}

bool is_unlistable_name(std::string_view name) noexcept {
  return name.find_first_of("\r\n") != std::string_view::npos;
}

bool format_list_line(std::string& out, std::string_view name, const EntryStat& st,
                      std::int64_t now, std::string_view link_target) {
  if (is_unlistable_name(name)) return false;
  append_mode_string(out, st.mode);
  out.push_back(' ');
  append_number(out, st.nlink, 4);
  out.append(" ftp      ftp      ");
  append_number(out, st.size, 8);
  out.push_back(' ');
  append_list_date(out, st.mtime_sec, now);
  out.push_back(' ');
  out.append(name);
  if (S_ISLNK(st.mode) && !link_target.empty() && !is_unlistable_name(link_target)) {
    out.append(" -> ");
    out.append(link_target);
  }
  out.append("\r\n");
  return true;
}

bool format_nlst_line(std::string& out, std::string_view name) {
  if (is_unlistable_name(name)) return false;
  out.append(name);
  out.append("\r\n");
  return true;
}

std::string mlsx_perm_letters(std::uint32_t mode, std::uint8_t permissions) {
  const auto has = [permissions](std::uint8_t bit) { return (permissions & bit) != 0; };
  const bool file = S_ISREG(mode);
  const bool dir = S_ISDIR(mode);
  std::string p;
  if (file && has(config::kPermWrite)) p.push_back('a');
  if (dir && has(config::kPermWrite)) p.push_back('c');
  if (has(config::kPermDelete)) p.push_back('d');
  if (dir) p.push_back('e');
  if (has(config::kPermRename)) p.push_back('f');
  if (dir && has(config::kPermList)) p.push_back('l');
  if (dir && has(config::kPermMkdir)) p.push_back('m');
  if (dir && has(config::kPermDelete)) p.push_back('p');
  if (file && has(config::kPermRead)) p.push_back('r');
  if (file && has(config::kPermWrite)) p.push_back('w');
  return p;
}

void format_modify_time(std::string& out, std::int64_t unix_seconds) {
  const Civil c = to_civil(unix_seconds);
  append_number(out, static_cast<std::uint64_t>(c.year), 4, '0');
  append_two_digits(out, c.month);
  append_two_digits(out, c.day);
  append_two_digits(out, c.hour);
  append_two_digits(out, c.minute);
  append_two_digits(out, c.second);
}

bool format_mlsx_facts(std::string& out, std::string_view name, const EntryStat& st,
                       std::uint8_t permissions, bool for_mlst, MlsxRole role) {
  if (is_unlistable_name(name)) return false;
  if (for_mlst) out.push_back(' ');
  out.append("type=");
  out.append(mlsx_type(st.mode, role));
  if (S_ISREG(st.mode)) {
    out.append(";size=");
    append_number(out, st.size);
  }
  out.append(";modify=");
  format_modify_time(out, st.mtime_sec);
  out.append(";perm=");
  out.append(mlsx_perm_letters(st.mode, permissions));
  out.append(";unique=");
  append_hex_upper(out, st.dev);
  out.push_back('U');
  append_hex_upper(out, st.inode);
  out.append("; ");
  out.append(name);
  out.append("\r\n");
  return true;
}

}  // namespace ringftpd::server::fs
