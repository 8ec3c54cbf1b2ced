#include "server/fs/listing_format.hpp"

#include <fcntl.h>
#include <sys/stat.h>

#include <gtest/gtest.h>

#include <cstdint>
#include <ostream>
#include <string>

#include "config/config.hpp"
#include "server/ftp/timeval.hpp"

namespace ringftpd::server::fs {
namespace {

constexpr std::int64_t kNow = 1'795'428'000;  // 2026-11-23T10:00:00Z
constexpr std::int64_t kSixMonths = 15'778'476;

EntryStat entry(std::uint32_t mode, std::uint64_t size, std::int64_t mtime,
                std::uint64_t nlink = 1) {
  EntryStat e;
  e.mode = mode;
  e.size = size;
  e.mtime_sec = mtime;
  e.nlink = nlink;
  e.inode = 0x1A2B;
  e.dev = 0x803;
  return e;
}

// ---- LIST ----

struct ListRow {
  const char* name;
  std::string entry_name;
  EntryStat st;
  std::string link_target;
  std::string line;
};

void PrintTo(const ListRow& row, std::ostream* os) {
  *os << row.name;
}

class FsListLine : public testing::TestWithParam<ListRow> {};

TEST_P(FsListLine, FormatsLikeLsL) {
  const ListRow& row = GetParam();
  std::string out = "prefix|";
  ASSERT_TRUE(format_list_line(out, row.entry_name, row.st, kNow, row.link_target));
  EXPECT_EQ(out, "prefix|" + row.line);
}

INSTANTIATE_TEST_SUITE_P(
    FsRules, FsListLine,
    testing::Values(
        ListRow{"directory_recent", "pub", entry(S_IFDIR | 0755, 4096, kNow, 2), "",
                "drwxr-xr-x    2 ftp      ftp          4096 Nov 23 10:00 pub\r\n"},
        ListRow{"file_recent", "a.txt", entry(S_IFREG | 0644, 123, 1'779'789'600), "",
                "-rw-r--r--    1 ftp      ftp           123 May 26 10:00 a.txt\r\n"},
        ListRow{"file_old", "old.iso", entry(S_IFREG | 0444, 4'700'000'000, 946'684'799), "",
                "-r--r--r--    1 ftp      ftp      4700000000 Dec 31  1999 old.iso\r\n"},
        ListRow{"single_digit_day_padded", "f", entry(S_IFREG | 0600, 0, 1'736'065'859), "",
                "-rw-------    1 ftp      ftp             0 Jan  5  2025 f\r\n"},
        ListRow{"six_months_boundary_is_old", "f", entry(S_IFREG | 0644, 1, kNow - kSixMonths), "",
                "-rw-r--r--    1 ftp      ftp             1 May 24  2026 f\r\n"},
        ListRow{"just_inside_six_months", "f", entry(S_IFREG | 0644, 1, kNow - kSixMonths + 60), "",
                "-rw-r--r--    1 ftp      ftp             1 May 24 19:06 f\r\n"},
        ListRow{"future_is_shown_with_year", "f", entry(S_IFREG | 0644, 1, kNow + 3600), "",
                "-rw-r--r--    1 ftp      ftp             1 Nov 23  2026 f\r\n"},
        ListRow{"epoch", "f", entry(S_IFREG | 0644, 1, 0), "",
                "-rw-r--r--    1 ftp      ftp             1 Jan  1  1970 f\r\n"},
        ListRow{"before_epoch", "f", entry(S_IFREG | 0644, 1, -1), "",
                "-rw-r--r--    1 ftp      ftp             1 Dec 31  1969 f\r\n"},
        ListRow{"leap_day", "f", entry(S_IFREG | 0644, 1, 951'825'600), "",
                "-rw-r--r--    1 ftp      ftp             1 Feb 29  2000 f\r\n"},
        ListRow{"symlink_without_target", "link", entry(S_IFLNK | 0777, 11, kNow), "",
                "lrwxrwxrwx    1 ftp      ftp            11 Nov 23 10:00 link\r\n"},
        ListRow{"symlink_with_target", "link", entry(S_IFLNK | 0777, 11, kNow), "/etc/passwd",
                "lrwxrwxrwx    1 ftp      ftp            11 Nov 23 10:00 link -> /etc/passwd\r\n"},
        ListRow{"symlink_target_with_newline_dropped", "link", entry(S_IFLNK | 0777, 3, kNow),
                "a\nb", "lrwxrwxrwx    1 ftp      ftp             3 Nov 23 10:00 link\r\n"},
        ListRow{"target_ignored_for_files", "f", entry(S_IFREG | 0644, 1, kNow), "x",
                "-rw-r--r--    1 ftp      ftp             1 Nov 23 10:00 f\r\n"},
        ListRow{"setuid_setgid_sticky", "f", entry(S_IFREG | 07755, 1, kNow), "",
                "-rwsr-sr-t    1 ftp      ftp             1 Nov 23 10:00 f\r\n"},
        ListRow{"special_bits_without_x", "f", entry(S_IFREG | 07644, 1, kNow), "",
                "-rwSr-Sr-T    1 ftp      ftp             1 Nov 23 10:00 f\r\n"},
        ListRow{"sticky_dir", "tmp", entry(S_IFDIR | 01777, 4096, kNow, 12345), "",
                "drwxrwxrwt 12345 ftp      ftp          4096 Nov 23 10:00 tmp\r\n"},
        ListRow{"fifo", "p", entry(S_IFIFO | 0600, 0, kNow), "",
                "prw-------    1 ftp      ftp             0 Nov 23 10:00 p\r\n"},
        ListRow{"char_device", "c", entry(S_IFCHR | 0666, 0, kNow), "",
                "crw-rw-rw-    1 ftp      ftp             0 Nov 23 10:00 c\r\n"},
        ListRow{"block_device", "b", entry(S_IFBLK | 0660, 0, kNow), "",
                "brw-rw----    1 ftp      ftp             0 Nov 23 10:00 b\r\n"},
        ListRow{"socket", "s", entry(S_IFSOCK | 0755, 0, kNow), "",
                "srwxr-xr-x    1 ftp      ftp             0 Nov 23 10:00 s\r\n"},
        ListRow{"name_with_spaces", "my file .txt", entry(S_IFREG | 0644, 1, kNow), "",
                "-rw-r--r--    1 ftp      ftp             1 Nov 23 10:00 my file .txt\r\n"},
        ListRow{"utf8_name_passes_through", "caf\xC3\xA9", entry(S_IFREG | 0644, 1, kNow), "",
                "-rw-r--r--    1 ftp      ftp             1 Nov 23 10:00 caf\xC3\xA9\r\n"}),
    [](const testing::TestParamInfo<ListRow>& info) { return std::string(info.param.name); });

// ---- names that cannot be listed ----

class FsUnlistableName : public testing::TestWithParam<std::string> {};

TEST_P(FsUnlistableName, IsSkippedByEveryFormatter) {
  const std::string& name = GetParam();
  const EntryStat st = entry(S_IFREG | 0644, 1, kNow);
  std::string out = "kept";
  EXPECT_TRUE(is_unlistable_name(name));
  EXPECT_FALSE(format_list_line(out, name, st, kNow));
  EXPECT_FALSE(format_nlst_line(out, name));
  EXPECT_FALSE(format_mlsx_facts(out, name, st, config::kPermAll, false));
  EXPECT_FALSE(format_mlsx_facts(out, name, st, config::kPermAll, true));
  EXPECT_EQ(out, "kept");
}

INSTANTIATE_TEST_SUITE_P(FsRules, FsUnlistableName,
                         testing::Values("a\nb", "a\rb", "\r\n", "evil\r\n-rw-r--r-- forged",
                                         "trailing\n"));

// ---- NLST ----

TEST(FsNlstLine, NameAndCrlf) {
  std::string out;
  EXPECT_TRUE(format_nlst_line(out, "a b"));
  EXPECT_TRUE(format_nlst_line(out, "caf\xC3\xA9"));
  EXPECT_EQ(out, "a b\r\ncaf\xC3\xA9\r\n");
}

// ---- MLSD / MLST ----

struct MlsxRow {
  const char* name;
  EntryStat st;
  std::uint8_t perms;
  bool for_mlst;
  MlsxRole role;
  std::string entry_name;
  std::string line;
};

void PrintTo(const MlsxRow& row, std::ostream* os) {
  *os << row.name;
}

class FsMlsxFacts : public testing::TestWithParam<MlsxRow> {};

TEST_P(FsMlsxFacts, FormatsRfc3659Facts) {
  const MlsxRow& row = GetParam();
  std::string out;
  ASSERT_TRUE(format_mlsx_facts(out, row.entry_name, row.st, row.perms, row.for_mlst, row.role));
  EXPECT_EQ(out, row.line);
}

constexpr std::uint8_t kRo = config::kPermReadOnly;
constexpr std::uint8_t kAll = config::kPermAll;
constexpr auto kEntry = MlsxRole::Entry;

INSTANTIATE_TEST_SUITE_P(
    FsRules, FsMlsxFacts,
    testing::Values(
        MlsxRow{"file_read_only", entry(S_IFREG | 0644, 123, kNow), kRo, false, kEntry, "a.txt",
                "type=file;size=123;modify=20261123100000;perm=r;unique=803U1A2B; a.txt\r\n"},
        MlsxRow{"file_all", entry(S_IFREG | 0644, 0, kNow), kAll, false, kEntry, "f",
                "type=file;size=0;modify=20261123100000;perm=adfrw;unique=803U1A2B; f\r\n"},
        MlsxRow{"dir_read_only", entry(S_IFDIR | 0755, 4096, kNow), kRo, false, kEntry, "pub",
                "type=dir;modify=20261123100000;perm=el;unique=803U1A2B; pub\r\n"},
        MlsxRow{"dir_all", entry(S_IFDIR | 0755, 4096, kNow), kAll, false, kEntry, "pub",
                "type=dir;modify=20261123100000;perm=cdeflmp;unique=803U1A2B; pub\r\n"},
        MlsxRow{"cdir", entry(S_IFDIR | 0755, 4096, kNow), kRo, false, MlsxRole::CurrentDirectory,
                ".", "type=cdir;modify=20261123100000;perm=el;unique=803U1A2B; .\r\n"},
        MlsxRow{"pdir", entry(S_IFDIR | 0755, 4096, kNow), kRo, false, MlsxRole::ParentDirectory,
                "..", "type=pdir;modify=20261123100000;perm=el;unique=803U1A2B; ..\r\n"},
        MlsxRow{"symlink", entry(S_IFLNK | 0777, 11, 946'684'799), kAll, false, kEntry, "l",
                "type=OS.unix=symlink;modify=19991231235959;perm=df;unique=803U1A2B; l\r\n"},
        MlsxRow{"fifo", entry(S_IFIFO | 0600, 0, 0), kRo, false, kEntry, "p",
                "type=OS.unix=fifo;modify=19700101000000;perm=;unique=803U1A2B; p\r\n"},
        MlsxRow{"mlst_has_leading_space", entry(S_IFREG | 0644, 5, kNow), kRo, true, kEntry,
                "/pub/a b.txt",
                " type=file;size=5;modify=20261123100000;perm=r;unique=803U1A2B; /pub/a b.txt\r\n"},
        MlsxRow{"utf8_name", entry(S_IFREG | 0644, 5, kNow), 0, false, kEntry, "caf\xC3\xA9",
                "type=file;size=5;modify=20261123100000;perm=;unique=803U1A2B; caf\xC3\xA9\r\n"}),
    [](const testing::TestParamInfo<MlsxRow>& info) { return std::string(info.param.name); });

struct PermRow {
  const char* name;
  std::uint32_t mode;
  std::uint8_t perms;
  const char* letters;
};

void PrintTo(const PermRow& row, std::ostream* os) {
  *os << row.name;
}

class FsPermFacts : public testing::TestWithParam<PermRow> {};

TEST_P(FsPermFacts, LettersFollowPermissionsAndType) {
  EXPECT_EQ(mlsx_perm_letters(GetParam().mode, GetParam().perms), GetParam().letters);
}

INSTANTIATE_TEST_SUITE_P(
    FsRules, FsPermFacts,
    testing::Values(PermRow{"file_none", S_IFREG, 0, ""},
                    PermRow{"file_list_only", S_IFREG, config::kPermList, ""},
                    PermRow{"file_read", S_IFREG, config::kPermRead, "r"},
                    PermRow{"file_write", S_IFREG, config::kPermWrite, "aw"},
                    PermRow{"file_delete", S_IFREG, config::kPermDelete, "d"},
                    PermRow{"file_rename", S_IFREG, config::kPermRename, "f"},
                    PermRow{"file_mkdir_means_nothing", S_IFREG, config::kPermMkdir, ""},
                    PermRow{"file_all", S_IFREG, config::kPermAll, "adfrw"},
                    PermRow{"dir_none", S_IFDIR, 0, "e"},
                    PermRow{"dir_list", S_IFDIR, config::kPermList, "el"},
                    PermRow{"dir_read_means_nothing", S_IFDIR, config::kPermRead, "e"},
                    PermRow{"dir_write", S_IFDIR, config::kPermWrite, "ce"},
                    PermRow{"dir_delete", S_IFDIR, config::kPermDelete, "dep"},
                    PermRow{"dir_rename", S_IFDIR, config::kPermRename, "ef"},
                    PermRow{"dir_mkdir", S_IFDIR, config::kPermMkdir, "em"},
                    PermRow{"dir_all", S_IFDIR, config::kPermAll, "cdeflmp"},
                    PermRow{"symlink_all", S_IFLNK, config::kPermAll, "df"},
                    PermRow{"socket_all", S_IFSOCK, config::kPermAll, "df"}),
    [](const testing::TestParamInfo<PermRow>& info) { return std::string(info.param.name); });

// ---- modify time ----

class FsModifyTime : public testing::TestWithParam<std::int64_t> {};

TEST_P(FsModifyTime, AgreesWithFtpTimeval) {
  std::string out;
  format_modify_time(out, GetParam());
  EXPECT_EQ(out, ftp::format_timeval(ftp::TimeVal{GetParam(), 0}).value());
}

INSTANTIATE_TEST_SUITE_P(FsRules, FsModifyTime,
                         testing::Values(std::int64_t{0}, std::int64_t{-1},
                                         std::int64_t{951'825'600}, std::int64_t{kNow},
                                         std::int64_t{4'102'444'800}, ftp::kMinTimeValSeconds,
                                         ftp::kMaxTimeValSeconds, std::int64_t{-86'400 * 365}));

TEST(FsModifyTimeClamp, OutOfRangeIsClamped) {
  std::string out;
  format_modify_time(out, INT64_MAX);
  EXPECT_EQ(out, "99991231235959");
  out.clear();
  format_modify_time(out, INT64_MIN);
  EXPECT_EQ(out, "00000101000000");
}

// ---- conversions ----

TEST(FsEntryStat, FromStatAndStatxAgree) {
  struct stat st {};
  ASSERT_EQ(::stat("/", &st), 0);
  struct statx stx {};
  ASSERT_EQ(::statx(AT_FDCWD, "/", AT_SYMLINK_NOFOLLOW, STATX_BASIC_STATS, &stx), 0);
  const EntryStat a = from_stat(st);
  const EntryStat b = from_statx(stx);
  EXPECT_EQ(a, b);
  EXPECT_TRUE(S_ISDIR(a.mode));
  EXPECT_EQ(b.dev, st.st_dev);
}

}  // namespace
}  // namespace ringftpd::server::fs
