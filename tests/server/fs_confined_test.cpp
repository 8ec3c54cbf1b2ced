#include "server/fs/confined.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <ostream>
#include <stdexcept>
#include <string>
#include <system_error>

#include "server/fs/virtual_path.hpp"

namespace ringftpd::server::fs {
namespace {

namespace stdfs = std::filesystem;

// <tmp>/secret.txt        "secret"   (outside the root)
// <tmp>/root/             the session's root
//   pub/file.txt          "inside"
//   up            -> ../../          (climbs above the root if followed naively)
//   passwd_link   -> /etc/passwd
//   etc_link      -> /etc
//   secret_link   -> ../secret.txt
//   abs_inside    -> /pub/file.txt   (absolute, meant relative to the root)
//   chain         -> pub/../../../secret.txt
//   magic         -> /proc/self/root
class Tree {
 public:
  Tree() {
    std::string pattern = (stdfs::temp_directory_path() / "ringftpd-fs-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    base_ = pattern;
    root_ = base_ / "root";
    stdfs::create_directories(root_ / "pub");
    write(base_ / "secret.txt", "secret");
    write(root_ / "pub" / "file.txt", "inside");
    stdfs::create_directory_symlink("../../", root_ / "up");
    stdfs::create_symlink("/etc/passwd", root_ / "passwd_link");
    stdfs::create_directory_symlink("/etc", root_ / "etc_link");
    stdfs::create_symlink("../secret.txt", root_ / "secret_link");
    stdfs::create_symlink("/pub/file.txt", root_ / "abs_inside");
    stdfs::create_symlink("pub/../../../secret.txt", root_ / "chain");
    stdfs::create_directory_symlink("/proc/self/root", root_ / "magic");
  }
  ~Tree() {
    std::error_code ec;
    stdfs::remove_all(base_, ec);
  }
  Tree(const Tree&) = delete;
  Tree& operator=(const Tree&) = delete;

  static void write(const stdfs::path& p, const std::string& text) {
    std::ofstream(p, std::ios::binary) << text;
  }

  [[nodiscard]] const stdfs::path& base() const { return base_; }
  [[nodiscard]] const stdfs::path& root() const { return root_; }

 private:
  stdfs::path base_;
  stdfs::path root_;
};

std::string read_all(int fd) {
  std::string out;
  char buf[256];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n <= 0) break;
    out.append(buf, static_cast<std::size_t>(n));
  }
  return out;
}

ino_t inode_of(int fd) {
  struct stat st {};
  return ::fstat(fd, &st) == 0 ? st.st_ino : 0;
}

class FsConfinedTest : public testing::Test {
 protected:
  void SetUp() override {
    std::error_code ec;
    root_fd_ = open_root(tree_.root().string(), ec);
    ASSERT_TRUE(root_fd_.valid()) << ec.message();
    ASSERT_FALSE(ec);
  }

  Tree tree_;
  io::UniqueFd root_fd_;
};

// ---- reads through open_in_root ----

struct OpenRow {
  const char* name;
  const char* rel;
  int error;             // expected errno, 0 for success
  const char* contents;  // on success: the file's bytes, or nullptr for "is the root"
};

void PrintTo(const OpenRow& row, std::ostream* os) {
  *os << row.name;
}

class FsConfinedOpen : public FsConfinedTest, public testing::WithParamInterface<OpenRow> {};

TEST_P(FsConfinedOpen, StaysInsideTheRoot) {
  const OpenRow& row = GetParam();
  std::error_code ec;
  const int flags = row.contents != nullptr ? O_RDONLY : O_PATH | O_DIRECTORY;
  const io::UniqueFd fd = open_in_root(root_fd_.get(), row.rel, flags, 0, ec);
  if (row.error != 0) {
    EXPECT_FALSE(fd.valid());
    EXPECT_EQ(ec.value(), row.error) << ec.message();
    return;
  }
  ASSERT_TRUE(fd.valid()) << ec.message();
  EXPECT_FALSE(ec);
  if (row.contents != nullptr) {
    EXPECT_EQ(read_all(fd.get()), row.contents);
  } else {
    EXPECT_EQ(inode_of(fd.get()), inode_of(root_fd_.get()));
  }
}

INSTANTIATE_TEST_SUITE_P(
    FsRules, FsConfinedOpen,
    testing::Values(OpenRow{"plain_file", "pub/file.txt", 0, "inside"},
                    OpenRow{"root_itself", ".", 0, nullptr},
                    OpenRow{"dotdot_escape", "../../etc/passwd", ENOENT, ""},
                    OpenRow{"dotdot_to_secret", "../secret.txt", ENOENT, ""},
                    OpenRow{"absolute_host_path", "/etc/passwd", ENOENT, ""},
                    OpenRow{"dotdot_chain_is_root", "/../..", 0, nullptr},
                    OpenRow{"down_then_far_up_is_root", "pub/../../..", 0, nullptr},
                    OpenRow{"absolute_symlink_to_host_file", "passwd_link", ENOENT, ""},
                    OpenRow{"absolute_symlink_to_host_dir", "etc_link/passwd", ENOENT, ""},
                    OpenRow{"relative_symlink_above_root", "secret_link", ENOENT, ""},
                    OpenRow{"symlink_up_is_root", "up", 0, nullptr},
                    OpenRow{"symlink_up_then_down", "up/pub/file.txt", 0, "inside"},
                    OpenRow{"symlink_up_repeated", "up/up/up/secret.txt", ENOENT, ""},
                    OpenRow{"absolute_symlink_stays_in_root", "abs_inside", 0, "inside"},
                    OpenRow{"symlink_with_dotdot_chain", "chain", ENOENT, ""},
                    OpenRow{"procfs_symlink_is_resolved_in_root", "magic/etc/passwd", ENOENT, ""},
                    OpenRow{"missing", "pub/nope", ENOENT, ""}),
    [](const testing::TestParamInfo<OpenRow>& info) { return std::string(info.param.name); });

TEST_F(FsConfinedTest, ResolvedEscapeStringsNeverReachOutside) {
  for (const char* arg : {"../../etc/passwd", "/../../secret.txt", "a/../../../secret.txt",
                          "../secret.txt", "/pub/../../secret.txt"}) {
    const ResolvedPath r = resolve("/pub", arg);
    ASSERT_TRUE(r.ok) << arg;
    std::error_code ec;
    const io::UniqueFd fd = open_in_root(root_fd_.get(), r.relative_c_str(), O_RDONLY, 0, ec);
    EXPECT_FALSE(fd.valid()) << arg;
    EXPECT_EQ(ec.value(), ENOENT) << arg;
  }
}

TEST_F(FsConfinedTest, AbsoluteSymlinkResolvesToTheCopyInsideTheRoot) {
  stdfs::create_directories(tree_.root() / "etc");
  Tree::write(tree_.root() / "etc" / "passwd", "fake passwd");
  std::error_code ec;
  for (const char* rel : {"passwd_link", "etc_link/passwd", "up/etc/passwd", "/etc/passwd"}) {
    const io::UniqueFd fd = open_in_root(root_fd_.get(), rel, O_RDONLY, 0, ec);
    ASSERT_TRUE(fd.valid()) << rel << ": " << ec.message();
    EXPECT_EQ(read_all(fd.get()), "fake passwd") << rel;
  }
}

// ---- writes ----

TEST_F(FsConfinedTest, CreateInsideTheRoot) {
  std::error_code ec;
  const io::UniqueFd fd =
      open_in_root(root_fd_.get(), "pub/new.txt", O_WRONLY | O_CREAT | O_EXCL, 0640, ec);
  ASSERT_TRUE(fd.valid()) << ec.message();
  EXPECT_TRUE(stdfs::exists(tree_.root() / "pub" / "new.txt"));
}

TEST_F(FsConfinedTest, CreateThroughEscapingSymlinkLandsInsideOrFails) {
  stdfs::create_symlink("../../outside.txt", tree_.root() / "pub" / "dangling");
  stdfs::create_symlink("/tmp-ringftpd-never/x", tree_.root() / "abs_dangling");
  std::error_code ec;
  {
    const io::UniqueFd fd =
        open_in_root(root_fd_.get(), "pub/dangling", O_WRONLY | O_CREAT, 0600, ec);
    ASSERT_TRUE(fd.valid()) << ec.message();
  }
  EXPECT_TRUE(stdfs::exists(tree_.root() / "outside.txt"));
  EXPECT_FALSE(stdfs::exists(tree_.base() / "outside.txt"));

  const io::UniqueFd fd2 =
      open_in_root(root_fd_.get(), "abs_dangling", O_WRONLY | O_CREAT, 0600, ec);
  EXPECT_FALSE(fd2.valid());
  EXPECT_EQ(ec.value(), ENOENT);
  EXPECT_FALSE(stdfs::exists("/tmp-ringftpd-never"));
}

// ---- magic links ----

TEST(FsConfinedMagicLinks, AreRefused) {
  if (::access("/proc/self/root", F_OK) != 0) GTEST_SKIP() << "no procfs";
  std::error_code ec;
  const io::UniqueFd host_root = open_root("/", ec);
  ASSERT_TRUE(host_root.valid()) << ec.message();
  const std::string fd_link = "proc/self/fd/" + std::to_string(host_root.get());
  for (const std::string& rel :
       {std::string("proc/self/root/etc/passwd"), std::string("proc/self/cwd"), fd_link}) {
    const io::UniqueFd fd = open_in_root(host_root.get(), rel.c_str(), O_PATH, 0, ec);
    EXPECT_FALSE(fd.valid()) << rel;
    EXPECT_EQ(ec.value(), ELOOP) << rel;
  }
}

// ---- open_root ----

TEST_F(FsConfinedTest, OpenRootIsAnOPathDirectory) {
  const int fl = ::fcntl(root_fd_.get(), F_GETFL);
  EXPECT_NE(fl & O_PATH, 0);
  EXPECT_NE(::fcntl(root_fd_.get(), F_GETFD) & FD_CLOEXEC, 0);
}

TEST_F(FsConfinedTest, OpenRootFailures) {
  std::error_code ec;
  EXPECT_FALSE(open_root((tree_.root() / "missing").string(), ec).valid());
  EXPECT_EQ(ec.value(), ENOENT);
  EXPECT_FALSE(open_root((tree_.root() / "pub" / "file.txt").string(), ec).valid());
  EXPECT_EQ(ec.value(), ENOTDIR);
}

TEST_F(FsConfinedTest, OpenedFilesAreCloseOnExec) {
  std::error_code ec;
  const io::UniqueFd fd = open_in_root(root_fd_.get(), "pub/file.txt", O_RDONLY, 0, ec);
  ASSERT_TRUE(fd.valid());
  EXPECT_NE(::fcntl(fd.get(), F_GETFD) & FD_CLOEXEC, 0);
}

// ---- open_how_for ----

struct HowRow {
  const char* name;
  int flags;
  mode_t mode;
  std::uint64_t expected_mode;
};

void PrintTo(const HowRow& row, std::ostream* os) {
  *os << row.name;
}

class FsOpenHow : public testing::TestWithParam<HowRow> {};

TEST_P(FsOpenHow, ConfinesAndKeepsModeOnlyWhenCreating) {
  const HowRow& row = GetParam();
  const open_how how = open_how_for(row.flags, row.mode);
  EXPECT_EQ(how.flags, static_cast<std::uint64_t>(static_cast<unsigned>(row.flags | O_CLOEXEC)));
  EXPECT_EQ(how.mode, row.expected_mode);
  EXPECT_EQ(how.resolve, std::uint64_t{RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS});
}

INSTANTIATE_TEST_SUITE_P(
    FsRules, FsOpenHow,
    testing::Values(HowRow{"read", O_RDONLY, 0644, 0},
                    HowRow{"directory", O_RDONLY | O_DIRECTORY, 0755, 0},
                    HowRow{"path", O_PATH, 0, 0},
                    HowRow{"create", O_WRONLY | O_CREAT | O_TRUNC, 0640, 0640},
                    HowRow{"create_exclusive", O_WRONLY | O_CREAT | O_EXCL, 0600, 0600},
                    HowRow{"tmpfile", O_RDWR | O_TMPFILE, 0600, 0600}),
    [](const testing::TestParamInfo<HowRow>& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace ringftpd::server::fs
