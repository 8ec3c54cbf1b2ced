#include "server/ftp/reply.hpp"

#include <gtest/gtest.h>

#include <array>
#include <string>
#include <string_view>
#include <vector>

namespace ringftpd::server::ftp {
namespace {

using namespace std::string_literals;

struct FormatRow {
  const char* name;
  Reply reply;
  std::string wire;
};

class FtpReplyFormat : public testing::TestWithParam<FormatRow> {};

TEST_P(FtpReplyFormat, Wire) {
  const FormatRow& row = GetParam();
  std::string out = "kept:";  // format() appends
  format(row.reply, out);
  EXPECT_EQ(out, "kept:" + row.wire);
}

INSTANTIATE_TEST_SUITE_P(
    Rules, FtpReplyFormat,
    testing::Values(
        FormatRow{"single_line", {kReplyServiceReady, "ringftpd ready"}, "220 ringftpd ready\r\n"},
        FormatRow{"empty_text", {kReplyOk, ""}, "200 \r\n"},
        FormatRow{"trailing_newline_ignored", {kReplyOk, "done\n"}, "200 done\r\n"},
        FormatRow{"only_a_newline", {kReplyOk, "\n"}, "200 \r\n"},
        FormatRow{"multi_line",
                  {kReplySystemStatus, "first\n line\nEnd"},
                  "211-first\r\n line\r\n211 End\r\n"},
        FormatRow{"two_lines", {kReplyHelp, "a\nb"}, "214-a\r\n214 b\r\n"},
        FormatRow{"multi_line_trailing_newline", {kReplyHelp, "a\nb\n"}, "214-a\r\n214 b\r\n"},
        FormatRow{"empty_middle_line", {kReplyHelp, "a\n\nb"}, "214-a\r\n\r\n214 b\r\n"},
        FormatRow{"middle_line_like_an_end_line",
                  {kReplyHelp, "a\n226 Transfer complete\nb"},
                  "214-a\r\n 226 Transfer complete\r\n214 b\r\n"},
        FormatRow{"middle_line_starting_with_a_digit",
                  {kReplyHelp, "a\n5 files\nb"},
                  "214-a\r\n 5 files\r\n214 b\r\n"},
        FormatRow{"middle_line_starting_with_space_untouched",
                  {kReplyHelp, "a\n 226 x\nb"},
                  "214-a\r\n 226 x\r\n214 b\r\n"},
        FormatRow{"cr_becomes_space", {kReplyFileUnavailable, "x\r226 fake"}, "550 x 226 fake\r\n"},
        FormatRow{"crlf_in_text_is_one_separator", {kReplyHelp, "a\r\nb"}, "214-a \r\n214 b\r\n"},
        FormatRow{"nul_tab_del_become_spaces",
                  {kReplyOk,
                   "a\0b\tc\x7f"
                   "d"s},
                  "200 a b c d\r\n"},
        FormatRow{"utf8_passes",
                  {kReplyPathnameCreated, "\"/\xC3\xA9t\xC3\xA9\" created"},
                  "257 \"/\xC3\xA9t\xC3\xA9\" created\r\n"},
        FormatRow{"code_too_big_is_a_bug", {999, "oops"}, "451 oops\r\n"},
        FormatRow{"code_too_small_is_a_bug", {99, "oops"}, "451 oops\r\n"},
        FormatRow{"code_zero_is_a_bug", {0, "oops"}, "451 oops\r\n"},
        FormatRow{"lowest_code", {100, "x"}, "100 x\r\n"},
        FormatRow{"highest_code", {599, "x"}, "599 x\r\n"}),
    [](const auto& info) { return std::string(info.param.name); });

// Whatever the text, the wire form is well-formed: lines end in CRLF, no bare CR or
// LF, exactly one end line ("ddd " + code) and it is the last.
void expect_well_formed(const Reply& reply) {
  const std::string wire = to_wire(reply);
  SCOPED_TRACE(testing::PrintToString(wire));
  ASSERT_GE(wire.size(), 6U);
  ASSERT_EQ(wire.substr(wire.size() - 2), "\r\n");
  std::vector<std::string_view> lines;
  std::string_view rest = wire;
  while (!rest.empty()) {
    const auto crlf = rest.find("\r\n");
    ASSERT_NE(crlf, std::string_view::npos);
    const std::string_view line = rest.substr(0, crlf);
    EXPECT_EQ(line.find('\r'), std::string_view::npos);
    EXPECT_EQ(line.find('\n'), std::string_view::npos);
    lines.push_back(line);
    rest.remove_prefix(crlf + 2);
  }
  const std::string code = wire.substr(0, 3);
  const auto is_end = [&](std::string_view l) { return l.substr(0, 4) == code + " "; };
  EXPECT_TRUE(is_end(lines.back()));
  for (std::size_t i = 0; i + 1 < lines.size(); ++i) {
    EXPECT_FALSE(is_end(lines[i])) << i;
    if (i > 0 && !lines[i].empty()) {
      EXPECT_FALSE(lines[i][0] >= '0' && lines[i][0] <= '9');
    }
  }
  if (lines.size() > 1) {
    EXPECT_EQ(lines.front().substr(0, 4), code + "-");
  }
}

TEST(FtpReply, HostileTextsStayWellFormed) {
  const std::array<std::string, 9> texts = {
      "plain",
      "\r\n226 fake\r\n",
      "\n\n\n",
      "226 a\n226 b\n226 c",
      "\r\r\r",
      "x\n226-x\n226 x\nend",
      std::string("\0\n\0", 3),
      "\xFF\xFE\n\x1B[31m",
      std::string(5000, '\n'),
  };
  for (const std::string& t : texts) expect_well_formed(Reply{kReplyTransferComplete, t});
}

TEST(FtpReply, UntrustedNamesCannotAddLines) {
  std::string text = "Renamed to ";
  append_single_line(text, "evil\r\n226 Transfer complete\n");
  EXPECT_EQ(to_wire(Reply{kReplyFileActionOk, text}),
            "250 Renamed to evil  226 Transfer complete \r\n");
}

TEST(FtpReply, QuotePathname) {
  EXPECT_EQ(quote_pathname("/pub"), "\"/pub\"");
  EXPECT_EQ(quote_pathname(""), "\"\"");
  EXPECT_EQ(quote_pathname("/say \"hi\""), "\"/say \"\"hi\"\"\"");  // RFC 959 Appendix II
  EXPECT_EQ(quote_pathname("/a\nb\rc"), "\"/a b c\"");
}

TEST(FtpReply, Feat) {
  constexpr std::array<std::string_view, 4> kFeatures = {"AUTH TLS", "PBSZ", "PROT", "REST STREAM"};
  const Reply r = feat_reply(kFeatures);
  EXPECT_EQ(r.code, kReplySystemStatus);
  EXPECT_EQ(to_wire(r),
            "211-Features:\r\n AUTH TLS\r\n PBSZ\r\n PROT\r\n REST STREAM\r\n211 End\r\n");
  EXPECT_EQ(to_wire(feat_reply({})), "211 No features\r\n");
  constexpr std::array<std::string_view, 1> kHostile = {"X\n211 End"};
  EXPECT_EQ(to_wire(feat_reply(kHostile)), "211-Features:\r\n X 211 End\r\n211 End\r\n");
}

TEST(FtpReplyCodes, AreTheRfcNumbers) {
  static_assert(kReplyServiceReady == 220 && kReplyClosing == 221);
  static_assert(kReplyLoggedInBySecurityData == 232);
  static_assert(kReplySecurityDataExchangeComplete == 234);
  static_assert(kReplySecurityMechanismOk == 334);
  static_assert(kReplyServiceNotAvailable == 421 && kReplyCannotOpenDataConnection == 425);
  static_assert(kReplyTransferAborted == 426 && kReplyResourceUnavailable == 431);
  static_assert(kReplyFileBusy == 450 && kReplyLocalError == 451);
  static_assert(kReplyInsufficientStorage == 452);
  static_assert(kReplySyntaxError == 500 && kReplyArgumentSyntaxError == 501);
  static_assert(kReplyNotImplemented == 502 && kReplyBadSequence == 503);
  static_assert(kReplyParameterNotImplemented == 504);
  static_assert(kReplyProtSettingRefused == 521 && kReplyDataTlsFailed == 522);
  static_assert(kReplyNotLoggedIn == 530 && kReplyNeedAccountForStoring == 532);
  static_assert(kReplyProtectionLevelDenied == 533 && kReplyPolicyDenied == 534);
  static_assert(kReplySecurityCheckFailed == 535 && kReplyProtLevelNotSupported == 536);
  static_assert(kReplyFileUnavailable == 550 && kReplyPageTypeUnknown == 551);
  static_assert(kReplyStorageExceeded == 552 && kReplyFileNameNotAllowed == 553);
  SUCCEED();
}

}  // namespace
}  // namespace ringftpd::server::ftp
