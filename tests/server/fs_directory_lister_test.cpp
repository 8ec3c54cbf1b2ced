#include "server/fs/directory_lister.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "config/config.hpp"
#include "server/fs/confined.hpp"

namespace ringftpd::server::fs {
namespace {

namespace stdfs = std::filesystem;

class TempDir {
 public:
  TempDir() {
    std::string pattern = (stdfs::temp_directory_path() / "ringftpd-lister-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    dir_ = pattern;
  }
  ~TempDir() {
    std::error_code ec;
    stdfs::remove_all(dir_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  [[nodiscard]] const stdfs::path& path() const { return dir_; }

  void touch(const std::string& name, std::string_view text = {}) const {
    if (text.empty()) {  // the 10 000-file tests: no stream per file
      const int fd = ::open((dir_ / name).c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
      if (fd < 0) throw std::runtime_error("create " + name);
      ::close(fd);
      return;
    }
    std::ofstream(dir_ / name, std::ios::binary) << text;
  }

  // The directory opened as the lister needs it, through the confined open.
  [[nodiscard]] io::UniqueFd open_dir() const {
    std::error_code ec;
    io::UniqueFd root = open_root(dir_.string(), ec);
    if (!root) throw std::runtime_error("open_root: " + ec.message());
    io::UniqueFd dir = open_in_root(root.get(), ".", O_RDONLY | O_DIRECTORY, 0, ec);
    if (!dir) throw std::runtime_error("open_in_root: " + ec.message());
    return dir;
  }

 private:
  stdfs::path dir_;
};

std::vector<std::string> split_lines(std::string_view text) {
  std::vector<std::string> lines;
  for (std::size_t pos = 0; pos < text.size();) {
    const std::size_t end = text.find("\r\n", pos);
    if (end == std::string_view::npos) {
      ADD_FAILURE() << "unterminated line: " << text.substr(pos);
      break;
    }
    lines.emplace_back(text.substr(pos, end - pos));
    pos = end + 2;
  }
  return lines;
}

// The name field of a LIST line (after the 8th space-separated field) or MLSD line.
std::string name_of(const std::string& line, ListFormat format) {
  if (format == ListFormat::Nlst) return line;
  if (format == ListFormat::Mlsd) return line.substr(line.find("; ") + 2);
  std::size_t pos = 0;
  for (int field = 0; field < 8; ++field) {
    pos = line.find_first_not_of(' ', pos);
    pos = line.find(' ', pos);
  }
  return line.substr(pos + 1);
}

// Lists everything in batches of `batch`, checking the bound on every call.
std::vector<std::string> list_all(DirectoryLister& lister, std::size_t batch, ListFormat format,
                                  std::size_t* calls = nullptr) {
  std::vector<std::string> names;
  std::size_t n = 0;
  bool more = true;
  while (more) {
    std::string out;
    more = lister.fill(out, batch, format);
    const std::vector<std::string> lines = split_lines(out);
    EXPECT_LE(lines.size(), batch);
    for (const std::string& line : lines) names.push_back(name_of(line, format));
    if (++n > 1'000'000) {
      ADD_FAILURE() << "lister never finished";
      break;
    }
  }
  if (calls != nullptr) *calls = n;
  return names;
}

constexpr int kManyFiles = 10'000;

// One directory of kManyFiles files, shared by the three formats (creating it is the
// slow part).
class FsListerFormats : public testing::TestWithParam<ListFormat> {
 protected:
  static void SetUpTestSuite() {
    many_ = std::make_unique<TempDir>();
    for (int i = 0; i < kManyFiles; ++i) many_->touch("file-" + std::to_string(i));
  }
  static void TearDownTestSuite() { many_.reset(); }
  static inline std::unique_ptr<TempDir> many_;
};

TEST_P(FsListerFormats, TenThousandFilesInBatchesOfHundred) {
  const ListFormat format = GetParam();
  const TempDir& dir = *many_;
  constexpr int kFiles = kManyFiles;

  DirectoryLister lister(dir.open_dir(), ListerOptions{config::kPermReadOnly, 0, false});
  std::size_t calls = 0;
  const std::vector<std::string> names = list_all(lister, 100, format, &calls);

  std::map<std::string, int> seen;
  for (const std::string& n : names) ++seen[n];
  const bool mlsd = format == ListFormat::Mlsd;
  EXPECT_EQ(names.size(), static_cast<std::size_t>(kFiles + (mlsd ? 1 : 0)));
  for (int i = 0; i < kFiles; ++i) {
    EXPECT_EQ(seen["file-" + std::to_string(i)], 1) << i;
  }
  EXPECT_EQ(seen.count(".."), 0u);
  EXPECT_EQ(seen.count("."), mlsd ? 1u : 0u);
  EXPECT_GE(calls, static_cast<std::size_t>(kFiles / 100));
  EXPECT_FALSE(lister.error());
  EXPECT_EQ(lister.counts().listed, names.size());
  EXPECT_EQ(lister.counts().skipped_bad_name, 0u);
  EXPECT_EQ(lister.counts().skipped_vanished, 0u);

  // Finished stays finished.
  std::string out;
  EXPECT_FALSE(lister.fill(out, 100, format));
  EXPECT_TRUE(out.empty());
}

INSTANTIATE_TEST_SUITE_P(FsRules, FsListerFormats,
                         testing::Values(ListFormat::List, ListFormat::Nlst, ListFormat::Mlsd),
                         [](const testing::TestParamInfo<ListFormat>& info) {
                           switch (info.param) {
                             case ListFormat::List:
                               return std::string("List");
                             case ListFormat::Nlst:
                               return std::string("Nlst");
                             case ListFormat::Mlsd:
                               return std::string("Mlsd");
                           }
                           return std::string("Unknown");
                         });

TEST(FsLister, BatchOfOneNeverExceedsOneLine) {
  TempDir dir;
  for (int i = 0; i < 50; ++i) dir.touch("f" + std::to_string(i));
  DirectoryLister lister(dir.open_dir(), ListerOptions{});
  const std::vector<std::string> names = list_all(lister, 1, ListFormat::Nlst);
  EXPECT_EQ(std::set<std::string>(names.begin(), names.end()).size(), 50u);
  EXPECT_EQ(names.size(), 50u);
}

TEST(FsLister, ZeroBudgetDoesNothing) {
  TempDir dir;
  dir.touch("a");
  DirectoryLister lister(dir.open_dir(), ListerOptions{});
  std::string out;
  EXPECT_TRUE(lister.fill(out, 0, ListFormat::List));
  EXPECT_TRUE(out.empty());
}

TEST(FsLister, EmptyDirectory) {
  TempDir dir;
  DirectoryLister lister(dir.open_dir(), ListerOptions{});
  EXPECT_TRUE(list_all(lister, 10, ListFormat::List).empty());
  EXPECT_FALSE(lister.error());
}

TEST(FsLister, MlsdShowsCdirAndTypes) {
  TempDir dir;
  dir.touch("file", "12345");
  stdfs::create_directory(dir.path() / "sub");
  stdfs::create_symlink("/etc/passwd", dir.path() / "link");
  DirectoryLister lister(dir.open_dir(), ListerOptions{config::kPermAll, 0, false});
  std::string out;
  while (lister.fill(out, 100, ListFormat::Mlsd)) {
  }
  std::map<std::string, std::string> facts;
  for (const std::string& line : split_lines(out)) {
    facts[name_of(line, ListFormat::Mlsd)] = line.substr(0, line.find("; "));
  }
  ASSERT_EQ(facts.size(), 4u) << out;
  EXPECT_EQ(facts["."].rfind("type=cdir;modify=", 0), 0u) << facts["."];
  EXPECT_EQ(facts["file"].rfind("type=file;size=5;modify=", 0), 0u) << facts["file"];
  EXPECT_NE(facts["file"].find(";perm=adfrw;"), std::string::npos) << facts["file"];
  EXPECT_EQ(facts["sub"].rfind("type=dir;modify=", 0), 0u) << facts["sub"];
  EXPECT_NE(facts["sub"].find(";perm=cdeflmp;"), std::string::npos) << facts["sub"];
  EXPECT_EQ(facts["link"].rfind("type=OS.unix=symlink;modify=", 0), 0u) << facts["link"];
}

TEST(FsLister, ListShowsSymlinksAndTargetsOnlyWhenAsked) {
  TempDir dir;
  stdfs::create_symlink("target/file", dir.path() / "link");
  for (const bool targets : {false, true}) {
    DirectoryLister lister(dir.open_dir(), ListerOptions{0, 0, targets});
    std::string out;
    while (lister.fill(out, 10, ListFormat::List)) {
    }
    const std::vector<std::string> lines = split_lines(out);
    ASSERT_EQ(lines.size(), 1u) << out;
    EXPECT_EQ(lines[0][0], 'l');
    EXPECT_EQ(name_of(lines[0], ListFormat::List), targets ? "link -> target/file" : "link");
  }
}

TEST(FsLister, NamesWithCrOrLfAreSkippedAndCounted) {
  TempDir dir;
  dir.touch("good");
  dir.touch("bad\nname");
  dir.touch("bad\rname");
  dir.touch("caf\xC3\xA9");
  for (const ListFormat format : {ListFormat::List, ListFormat::Nlst, ListFormat::Mlsd}) {
    DirectoryLister lister(dir.open_dir(), ListerOptions{});
    const std::vector<std::string> names = list_all(lister, 100, format);
    std::set<std::string> set(names.begin(), names.end());
    set.erase(".");
    EXPECT_EQ(set, (std::set<std::string>{"good", "caf\xC3\xA9"}));
    EXPECT_EQ(lister.counts().skipped_bad_name, 2u);
  }
}

TEST(FsLister, EntriesThatVanishAreSkipped) {
  TempDir dir;
  constexpr int kFiles = 20;
  for (int i = 0; i < kFiles; ++i) dir.touch("v" + std::to_string(i));
  DirectoryLister lister(dir.open_dir(), ListerOptions{});
  // The first call reads every entry into the lister's buffer but formats only one.
  std::string out;
  ASSERT_TRUE(lister.fill(out, 1, ListFormat::List));
  const std::size_t before = split_lines(out).size();
  for (int i = 0; i < kFiles; ++i) stdfs::remove(dir.path() / ("v" + std::to_string(i)));
  const std::vector<std::string> rest = list_all(lister, 7, ListFormat::List);
  EXPECT_TRUE(rest.empty());
  EXPECT_EQ(lister.counts().listed, before);
  EXPECT_EQ(lister.counts().skipped_vanished, kFiles - before);
  EXPECT_FALSE(lister.error());
}

TEST(FsLister, UnreadableFdReportsAnError) {
  DirectoryLister lister(io::UniqueFd{}, ListerOptions{});
  std::string out;
  EXPECT_FALSE(lister.fill(out, 10, ListFormat::List));
  EXPECT_TRUE(out.empty());
  EXPECT_EQ(lister.error().value(), EBADF);
}

TEST(FsLister, OPathFdIsRejectedNotMisread) {
  TempDir dir;
  dir.touch("a");
  std::error_code ec;
  DirectoryLister lister(open_root(dir.path().string(), ec), ListerOptions{});
  std::string out;
  EXPECT_FALSE(lister.fill(out, 10, ListFormat::Nlst));
  EXPECT_TRUE(out.empty());
  EXPECT_EQ(lister.error().value(), EBADF);
}

TEST(FsLister, IsMovableMidListing) {
  TempDir dir;
  for (int i = 0; i < 30; ++i) dir.touch("m" + std::to_string(i));
  DirectoryLister first(dir.open_dir(), ListerOptions{});
  std::string out;
  ASSERT_TRUE(first.fill(out, 10, ListFormat::Nlst));
  DirectoryLister second = std::move(first);
  while (second.fill(out, 10, ListFormat::Nlst)) {
  }
  const std::vector<std::string> lines = split_lines(out);
  EXPECT_EQ(std::set<std::string>(lines.begin(), lines.end()).size(), 30u);
  EXPECT_EQ(lines.size(), 30u);
}

}  // namespace
}  // namespace ringftpd::server::fs
