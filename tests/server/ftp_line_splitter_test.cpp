#include "server/ftp/line_splitter.hpp"

#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

namespace ringftpd::server::ftp {
namespace {

using namespace std::string_literals;

constexpr std::string_view kTooLong = "<TooLong>";

// Drives a splitter the way the session does (feed what fits, drain, repeat), handing it
// `chunk` bytes at a time (0 = everything at once). TooLong shows up as kTooLong.
std::vector<std::string> split(LineSplitter& s, std::string_view input, std::size_t chunk) {
  std::vector<std::string> out;
  while (!input.empty()) {
    std::string_view piece = chunk == 0 ? input : input.substr(0, chunk);
    input.remove_prefix(piece.size());
    while (!piece.empty()) {
      const std::size_t used = s.feed(piece);
      piece.remove_prefix(used);
      EXPECT_LE(s.buffered_bytes(), s.max_line_bytes());
      for (auto r = s.next(); r.kind != LineSplitter::Kind::NeedMore; r = s.next()) {
        out.emplace_back(r.kind == LineSplitter::Kind::TooLong ? kTooLong : r.line);
      }
    }
  }
  return out;
}

struct Row {
  const char* name;
  std::string input;
  std::size_t max_line_bytes;
  std::vector<std::string> lines;
  std::size_t buffered_after = 0;
};

class FtpLineSplitterRules : public testing::TestWithParam<Row> {};

// Each row must give the same lines however the bytes are chunked.
TEST_P(FtpLineSplitterRules, SameLinesForEveryChunking) {
  const Row& row = GetParam();
  for (std::size_t chunk :
       {std::size_t{0}, std::size_t{1}, std::size_t{2}, std::size_t{3}, std::size_t{7}}) {
    SCOPED_TRACE("chunk=" + std::to_string(chunk));
    LineSplitter s(row.max_line_bytes);
    EXPECT_EQ(split(s, row.input, chunk), row.lines);
    EXPECT_EQ(s.buffered_bytes(), row.buffered_after);
  }
}

constexpr std::size_t kDefault = LineSplitter::kDefaultMaxLineBytes;

INSTANTIATE_TEST_SUITE_P(
    Rules, FtpLineSplitterRules,
    testing::Values(
        Row{"crlf", "USER alice\r\nPASS secret\r\n", kDefault, {"USER alice", "PASS secret"}},
        Row{"bare_lf", "NOOP\nQUIT\n", kDefault, {"NOOP", "QUIT"}},
        Row{"mixed_terminators", "NOOP\r\nSYST\nQUIT\r\n", kDefault, {"NOOP", "SYST", "QUIT"}},
        Row{"empty_line", "\r\n\n", kDefault, {"", ""}},
        Row{"incomplete_tail_stays_buffered", "NOOP\r\nQUI", kDefault, {"NOOP"}, 3},
        Row{"cr_without_lf_is_not_a_terminator", "NOOP\r", kDefault, {}, 5},
        Row{"lone_cr_inside_is_kept", "A\rB\r\n", kDefault, {"A\rB"}},
        Row{"only_one_cr_is_stripped", "A\r\r\n", kDefault, {"A\r"}},
        Row{"nul_is_kept", "A\0B\r\n"s, kDefault, {"A\0B"s}},
        Row{"utf8_passes", "STOR \xC3\xA9t\xC3\xA9\r\n", kDefault, {"STOR \xC3\xA9t\xC3\xA9"}},
        Row{"fits_exactly_with_crlf", "123456\r\nX\n", 8, {"123456", "X"}},
        Row{"fits_exactly_with_lf", "1234567\nX\n", 8, {"1234567", "X"}},
        Row{"too_long_by_the_lf", "1234567\r\nNOOP\r\n", 8, {std::string(kTooLong), "NOOP"}},
        Row{"too_long_then_recovers",
            "USER " + std::string(100, 'x') + "\r\nNOOP\r\n",
            16,
            {std::string(kTooLong), "NOOP"}},
        Row{"too_long_reported_once",
            std::string(1000, 'a') + "\nOK\n",
            4,
            {std::string(kTooLong), "OK"}},
        Row{"two_too_long_lines",
            "aaaaaaaa\nbbbbbbbb\nOK\n",
            4,
            {std::string(kTooLong), std::string(kTooLong), "OK"}},
        Row{"too_long_without_lf_yet", std::string(50, 'a'), 8, {std::string(kTooLong)}},
        Row{"iac_ip_iac_dm_before_abor",
            "\xFF\xF4\xFF\xF2"
            "ABOR\r\n",
            kDefault,
            {"ABOR"}},
        Row{"iac_ip_iac_with_dm_taken_out_of_band",
            "\xFF\xF4\xFF"
            "ABOR\r\n",
            kDefault,
            {"ABOR"}},
        Row{"iac_iac_is_literal_ff",
            "STOR a\xFF\xFF"
            "b\r\n",
            kDefault,
            {"STOR a\xFF"
             "b"}},
        Row{"iac_nop_inside_a_line", "NO\xFF\xF1OP\r\n", kDefault, {"NOOP"}},
        Row{"iac_will_takes_an_option", "\xFF\xFB\x01NOOP\r\n", kDefault, {"NOOP"}},
        Row{"iac_do_option_lf_is_not_a_terminator", "\xFF\xFD\nNOOP\r\n", kDefault, {"NOOP"}},
        Row{"iac_bytes_do_not_count_toward_the_limit",
            "\xFF\xF1\xFF\xF1\xFF\xF1\xFF\xF1NOOP\r\n",
            6,
            {"NOOP"}},
        Row{"iac_iac_counts_as_one_byte", "\xFF\xFF\xFF\xFF\xFF\xFF\r\n", 5, {"\xFF\xFF\xFF"}},
        Row{"dangling_iac_waits", "NOOP\r\n\xFF", kDefault, {"NOOP"}, 0}),
    [](const testing::TestParamInfo<Row>& info) { return std::string(info.param.name); });

TEST(FtpLineSplitter, FeedStopsWhenFullAndResumes) {
  LineSplitter s(8);
  const std::string_view input = "NOOP\r\nSYST\r\n";
  EXPECT_EQ(s.feed(input), 8U);  // "NOOP\r\nSY"
  EXPECT_EQ(s.buffered_bytes(), 8U);
  EXPECT_EQ(s.feed(input.substr(8)), 0U);  // full: drain first
  auto r = s.next();
  ASSERT_EQ(r.kind, LineSplitter::Kind::Line);
  EXPECT_EQ(r.line, "NOOP");
  EXPECT_EQ(s.next().kind, LineSplitter::Kind::NeedMore);
  EXPECT_EQ(s.feed(input.substr(8)), 4U);
  r = s.next();
  ASSERT_EQ(r.kind, LineSplitter::Kind::Line);
  EXPECT_EQ(r.line, "SYST");
}

TEST(FtpLineSplitter, BufferNeverExceedsTheLimit) {
  LineSplitter s(64);
  const std::string flood(100'000, 'x');
  EXPECT_EQ(split(s, flood, 4096), std::vector<std::string>{std::string(kTooLong)});
  EXPECT_EQ(s.buffered_bytes(), 0U);  // all discarded, waiting for the LF
  EXPECT_EQ(split(s, "\nNOOP\n", 0), std::vector<std::string>{"NOOP"});
}

TEST(FtpLineSplitter, PipelinedLinesAreReturnedInOrder) {
  LineSplitter s;
  std::string input;
  std::vector<std::string> expected;
  for (int i = 0; i < 500; ++i) {
    expected.push_back("NOOP " + std::to_string(i));
    input += expected.back() + "\r\n";
  }
  EXPECT_EQ(split(s, input, 0), expected);
}

TEST(FtpLineSplitter, DefaultLimitIs4096IncludingTheTerminator) {
  LineSplitter s;
  EXPECT_EQ(s.max_line_bytes(), 4096U);
  const std::string fits = std::string(4094, 'a') + "\r\n";
  const std::string over = std::string(4095, 'a') + "\r\n";
  EXPECT_EQ(split(s, fits + over + "OK\r\n", 0),
            (std::vector<std::string>{std::string(4094, 'a'), std::string(kTooLong), "OK"}));
}

TEST(FtpLineSplitter, TinyLimitsAreRaisedToTheMinimum) {
  EXPECT_EQ(LineSplitter(0).max_line_bytes(), LineSplitter::kMinMaxLineBytes);
  LineSplitter s(0);
  EXPECT_EQ(split(s, "\r\n\nx\nyz\n", 0),
            (std::vector<std::string>{"", "", "x", std::string(kTooLong)}));
}

TEST(FtpLineSplitter, DiscardBufferedDropsWhatWasPipelinedBehindAuthTls) {
  LineSplitter s;
  const std::string_view pipelined = "AUTH TLS\r\nUSER evil\r\nPASS x\r\n";
  ASSERT_EQ(s.feed(pipelined), pipelined.size());
  auto r = s.next();
  ASSERT_EQ(r.kind, LineSplitter::Kind::Line);
  EXPECT_EQ(r.line, "AUTH TLS");
  s.discard_buffered();
  EXPECT_EQ(s.buffered_bytes(), 0U);
  EXPECT_EQ(s.next().kind, LineSplitter::Kind::NeedMore);
  EXPECT_EQ(split(s, "USER good\r\n", 0), std::vector<std::string>{"USER good"});
}

TEST(FtpLineSplitter, DiscardBufferedForgetsAHalfReadTelnetSequence) {
  LineSplitter s;
  ASSERT_EQ(s.feed(std::string_view("\xFF")), 1U);  // IAC, its command not yet seen
  s.discard_buffered();
  // Without the reset, 0xF4 would complete "IAC IP" and vanish.
  EXPECT_EQ(split(s, "\xF4X\n", 0), std::vector<std::string>{"\xF4X"});
}

TEST(FtpLineSplitter, DiscardBufferedEndsATooLongDiscard) {
  LineSplitter s(4);
  EXPECT_EQ(split(s, "aaaaaa", 0), std::vector<std::string>{std::string(kTooLong)});
  s.discard_buffered();
  // Without the reset, "OK\n" would be taken for the tail of the long line.
  EXPECT_EQ(split(s, "OK\n", 0), std::vector<std::string>{"OK"});
}

TEST(FtpLineSplitter, EmptyFeedIsHarmless) {
  LineSplitter s;
  EXPECT_EQ(s.feed({}), 0U);
  EXPECT_EQ(s.next().kind, LineSplitter::Kind::NeedMore);
}

}  // namespace
}  // namespace ringftpd::server::ftp
