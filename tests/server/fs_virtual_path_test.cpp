#include "server/fs/virtual_path.hpp"

#include <gtest/gtest.h>

#include <ostream>
#include <string>
#include <string_view>

namespace ringftpd::server::fs {

std::ostream& operator<<(std::ostream& os, PathError e) {
  switch (e) {
    case PathError::None:
      return os << "None";
    case PathError::InvalidName:
      return os << "InvalidName";
    case PathError::InvalidEncoding:
      return os << "InvalidEncoding";
    case PathError::NameTooLong:
      return os << "NameTooLong";
  }
  return os << "?";
}

namespace {

using namespace std::string_literals;

// ---- resolve(): normalization ----

struct ResolveRow {
  const char* name;
  std::string cwd;
  std::string argument;
  std::string path;      // expected virtual absolute path
  std::string relative;  // expected openat2 path
};

void PrintTo(const ResolveRow& row, std::ostream* os) {
  *os << row.name;
}

class FsResolve : public testing::TestWithParam<ResolveRow> {};

TEST_P(FsResolve, Normalizes) {
  const ResolveRow& row = GetParam();
  const ResolvedPath r = resolve(row.cwd, row.argument);
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.error, PathError::None);
  EXPECT_EQ(r.path, row.path);
  EXPECT_EQ(r.relative(), row.relative);
  EXPECT_EQ(std::string_view(r.relative_c_str()), row.relative);
}

INSTANTIATE_TEST_SUITE_P(
    FsRules, FsResolve,
    testing::Values(
        ResolveRow{"empty_is_cwd", "/pub/linux", "", "/pub/linux", "pub/linux"},
        ResolveRow{"empty_at_root", "/", "", "/", "."},
        ResolveRow{"relative_name", "/pub", "file.txt", "/pub/file.txt", "pub/file.txt"},
        ResolveRow{"relative_from_root", "/", "a/b", "/a/b", "a/b"},
        ResolveRow{"absolute_ignores_cwd", "/pub/linux", "/etc", "/etc", "etc"},
        ResolveRow{"root", "/pub", "/", "/", "."}, ResolveRow{"dot", "/pub", ".", "/pub", "pub"},
        ResolveRow{"dot_slash", "/pub", "./a/./b/.", "/pub/a/b", "pub/a/b"},
        ResolveRow{"dotdot", "/pub/linux", "..", "/pub", "pub"},
        ResolveRow{"dotdot_to_root", "/pub", "..", "/", "."},
        ResolveRow{"dotdot_in_middle", "/", "a/b/../c", "/a/c", "a/c"},
        ResolveRow{"dotdot_at_root_stays", "/", "..", "/", "."},
        ResolveRow{"escape_relative", "/pub", "../../etc/passwd", "/etc/passwd", "etc/passwd"},
        ResolveRow{"escape_absolute", "/pub", "/../..", "/", "."},
        ResolveRow{"escape_after_name", "/", "a/../../..", "/", "."},
        ResolveRow{"escape_deep", "/a/b", "../../../../../../x", "/x", "x"},
        ResolveRow{"escape_then_down", "/", "/../../../etc/../etc/shadow", "/etc/shadow",
                   "etc/shadow"},
        ResolveRow{"repeated_slashes", "/", "//a///b////c", "/a/b/c", "a/b/c"},
        ResolveRow{"only_slashes", "/pub", "////", "/", "."},
        ResolveRow{"trailing_slash", "/", "a/b/", "/a/b", "a/b"},
        ResolveRow{"trailing_slashes", "/", "a/b///", "/a/b", "a/b"},
        ResolveRow{"trailing_dotdot_slash", "/a/b", "../", "/a", "a"},
        ResolveRow{"three_dots_is_a_name", "/", "...", "/...", "..."},
        ResolveRow{"dot_prefixed_name", "/", ".hidden/..x", "/.hidden/..x", ".hidden/..x"},
        ResolveRow{"spaces_kept", "/", " a b /c ", "/ a b /c ", " a b /c "},
        ResolveRow{"backslash_is_a_name_byte", "/", "..\\..\\x", "/..\\..\\x", "..\\..\\x"},
        ResolveRow{"tilde_not_expanded", "/", "~/x", "/~/x", "~/x"},
        ResolveRow{"glob_not_expanded", "/", "*.iso", "/*.iso", "*.iso"},
        ResolveRow{"quote_in_name", "/", "a\"b", "/a\"b", "a\"b"},
        ResolveRow{"utf8_two_byte", "/", "caf\xC3\xA9", "/caf\xC3\xA9", "caf\xC3\xA9"},
        ResolveRow{"utf8_three_byte", "/", "\xE2\x82\xAC", "/\xE2\x82\xAC", "\xE2\x82\xAC"},
        ResolveRow{"utf8_four_byte", "/", "\xF0\x9F\x98\x80", "/\xF0\x9F\x98\x80",
                   "\xF0\x9F\x98\x80"},
        ResolveRow{"utf8_max_code_point", "/", "\xF4\x8F\xBF\xBF", "/\xF4\x8F\xBF\xBF",
                   "\xF4\x8F\xBF\xBF"},
        ResolveRow{"component_of_255", "/", std::string(255, 'a'), "/" + std::string(255, 'a'),
                   std::string(255, 'a')},
        ResolveRow{"unnormalized_cwd_is_normalized", "//pub/./x/../", "y", "/pub/y", "pub/y"}),
    [](const testing::TestParamInfo<ResolveRow>& info) { return std::string(info.param.name); });

// ---- resolve(): errors ----

struct ErrorRow {
  const char* name;
  std::string cwd;
  std::string argument;
  PathError error;
  int reply;
};

void PrintTo(const ErrorRow& row, std::ostream* os) {
  *os << row.name;
}

class FsResolveError : public testing::TestWithParam<ErrorRow> {};

TEST_P(FsResolveError, Rejects) {
  const ErrorRow& row = GetParam();
  const ResolvedPath r = resolve(row.cwd, row.argument);
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.error, row.error);
  EXPECT_EQ(reply_code(r.error), row.reply);
}

// A path of `n` bytes after normalization: "/" + "aaa.../aaa..." components.
std::string long_path(std::size_t n) {
  std::string p;
  while (p.size() < n) {
    p += '/';
    p += std::string(std::min<std::size_t>(200, n - p.size()), 'x');
  }
  return p;
}

INSTANTIATE_TEST_SUITE_P(
    FsRules, FsResolveError,
    testing::Values(
        ErrorRow{"nul_byte", "/", "a\0b"s, PathError::InvalidName, 501},
        ErrorRow{"nul_truncation_escape", "/", "ok\0/../../x"s, PathError::InvalidName, 501},
        ErrorRow{"lone_nul", "/", "\0"s, PathError::InvalidName, 501},
        ErrorRow{"carriage_return", "/", "a\rb", PathError::InvalidName, 501},
        ErrorRow{"line_feed", "/", "a\nb", PathError::InvalidName, 501},
        ErrorRow{"reply_injection", "/", "x\r\n257 \"/owned\"", PathError::InvalidName, 501},
        ErrorRow{"overlong_slash", "/",
                 "a\xC0\xAF"
                 "b",
                 PathError::InvalidEncoding, 553},
        ErrorRow{"overlong_dot", "/", "\xC0\xAE\xC0\xAE/x", PathError::InvalidEncoding, 553},
        ErrorRow{"overlong_three_byte", "/", "\xE0\x80\xAF", PathError::InvalidEncoding, 553},
        ErrorRow{"overlong_four_byte", "/", "\xF0\x80\x80\xAF", PathError::InvalidEncoding, 553},
        ErrorRow{"overlong_nul", "/", "\xC0\x80", PathError::InvalidEncoding, 553},
        ErrorRow{"truncated_two_byte", "/", "caf\xC3", PathError::InvalidEncoding, 553},
        ErrorRow{"truncated_three_byte", "/", "\xE2\x82", PathError::InvalidEncoding, 553},
        ErrorRow{"truncated_four_byte", "/", "\xF0\x9F\x98/x", PathError::InvalidEncoding, 553},
        ErrorRow{"high_surrogate", "/", "\xED\xA0\x80", PathError::InvalidEncoding, 553},
        ErrorRow{"low_surrogate", "/", "\xED\xBF\xBF", PathError::InvalidEncoding, 553},
        ErrorRow{"above_max_code_point", "/", "\xF4\x90\x80\x80", PathError::InvalidEncoding, 553},
        ErrorRow{"stray_continuation", "/", "\x80", PathError::InvalidEncoding, 553},
        ErrorRow{"latin1_byte", "/", "caf\xE9", PathError::InvalidEncoding, 553},
        ErrorRow{"byte_ff", "/", "\xFF", PathError::InvalidEncoding, 553},
        ErrorRow{"five_byte_lead", "/", "\xF8\x88\x80\x80\x80", PathError::InvalidEncoding, 553},
        ErrorRow{"component_of_256", "/", std::string(256, 'a'), PathError::NameTooLong, 553},
        ErrorRow{"long_component_removed_later", "/", std::string(256, 'a') + "/..",
                 PathError::NameTooLong, 553},
        ErrorRow{"path_of_4096", "/", long_path(4096), PathError::NameTooLong, 553},
        ErrorRow{"cwd_plus_argument_too_long", long_path(4000), std::string(100, 'y'),
                 PathError::NameTooLong, 553}),
    [](const testing::TestParamInfo<ErrorRow>& info) { return std::string(info.param.name); });

TEST(FsResolveLimits, PathOf4095IsAccepted) {
  const std::string p = long_path(4095);
  ASSERT_EQ(p.size(), 4095u);
  const ResolvedPath r = resolve("/", p);
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.path, p);
}

TEST(FsResolveLimits, ReplyCodeOfNoneIsZero) {
  EXPECT_EQ(reply_code(PathError::None), 0);
}

// ---- helpers ----

struct SplitRow {
  const char* path;
  const char* base;
  const char* parent;
  const char* relative;
};

class FsPathParts : public testing::TestWithParam<SplitRow> {};

TEST_P(FsPathParts, SplitsNormalizedPaths) {
  const SplitRow& row = GetParam();
  EXPECT_EQ(basename(row.path), row.base);
  EXPECT_EQ(parent(row.path), row.parent);
  EXPECT_EQ(relative_of(row.path), row.relative);
}

INSTANTIATE_TEST_SUITE_P(
    FsRules, FsPathParts,
    testing::Values(SplitRow{"/", "/", "/", "."}, SplitRow{"/a", "a", "/", "a"},
                    SplitRow{"/a/b", "b", "/a", "a/b"},
                    SplitRow{"/pub/linux/x.iso", "x.iso", "/pub/linux", "pub/linux/x.iso"}));

TEST(FsJoin, AppendsOneComponent) {
  EXPECT_EQ(join("/", "a"), "/a");
  EXPECT_EQ(join("/pub", "a b"), "/pub/a b");
  EXPECT_EQ(join("/pub/linux", "x.iso"), "/pub/linux/x.iso");
}

TEST(FsJoin, AgreesWithResolveForPlainNames) {
  for (const char* dir : {"/", "/a", "/a/b"}) {
    EXPECT_EQ(join(dir, "n"), resolve(dir, "n").path) << dir;
  }
}

struct QuoteRow {
  std::string path;
  std::string quoted;
};

void PrintTo(const QuoteRow& row, std::ostream* os) {
  *os << row.path;
}

class FsQuote257 : public testing::TestWithParam<QuoteRow> {};

TEST_P(FsQuote257, DoublesQuotes) {
  EXPECT_EQ(quote_for_257(GetParam().path), GetParam().quoted);
}

INSTANTIATE_TEST_SUITE_P(FsRules, FsQuote257,
                         testing::Values(QuoteRow{"/", "\"/\""}, QuoteRow{"/pub", "\"/pub\""},
                                         QuoteRow{"/a\"b", "\"/a\"\"b\""},
                                         QuoteRow{"/\"\"", "\"/\"\"\"\"\""},
                                         QuoteRow{"/caf\xC3\xA9", "\"/caf\xC3\xA9\""}));

TEST(FsUtf8, AcceptsEveryBoundary) {
  EXPECT_TRUE(is_valid_utf8(""));
  EXPECT_TRUE(is_valid_utf8("\x7F"));
  EXPECT_TRUE(is_valid_utf8("\xC2\x80"));          // U+0080
  EXPECT_TRUE(is_valid_utf8("\xDF\xBF"));          // U+07FF
  EXPECT_TRUE(is_valid_utf8("\xE0\xA0\x80"));      // U+0800
  EXPECT_TRUE(is_valid_utf8("\xED\x9F\xBF"));      // U+D7FF
  EXPECT_TRUE(is_valid_utf8("\xEE\x80\x80"));      // U+E000
  EXPECT_TRUE(is_valid_utf8("\xEF\xBF\xBF"));      // U+FFFF
  EXPECT_TRUE(is_valid_utf8("\xF0\x90\x80\x80"));  // U+10000
  EXPECT_TRUE(is_valid_utf8("\xF4\x8F\xBF\xBF"));  // U+10FFFF
}

TEST(FsUtf8, RejectsBadContinuations) {
  EXPECT_FALSE(is_valid_utf8("\xC2\x41"));
  EXPECT_FALSE(is_valid_utf8("\xE1\x80\x41"));
  EXPECT_FALSE(is_valid_utf8("\xF1\x80\x80\xC0"));
  EXPECT_FALSE(is_valid_utf8("\xC1\xBF"));  // overlong U+007F
}

}  // namespace
}  // namespace ringftpd::server::fs
