#include "server/ftp/timeval.hpp"

#include <gtest/gtest.h>

#include <optional>
#include <string>

namespace ringftpd::server::ftp {
namespace {

struct ParseRow {
  const char* name;
  std::string text;
  std::optional<TimeVal> expected;  // nullopt: Syntax
};

class FtpTimeValParse : public testing::TestWithParam<ParseRow> {};

TEST_P(FtpTimeValParse, Rule) {
  const ParseRow& row = GetParam();
  const auto r = parse_timeval(row.text);
  ASSERT_EQ(r.ok(), row.expected.has_value()) << row.text;
  if (r.ok()) {
    EXPECT_EQ(r.value.seconds, row.expected->seconds) << row.text;
    EXPECT_EQ(r.value.nanoseconds, row.expected->nanoseconds) << row.text;
  }
}

INSTANTIATE_TEST_SUITE_P(
    Rules, FtpTimeValParse,
    testing::Values(
        ParseRow{"epoch", "19700101000000", TimeVal{0, 0}},
        ParseRow{"y2k", "20000101000000", TimeVal{946'684'800, 0}},
        ParseRow{"leap_day", "20240229123456", TimeVal{1'709'210'096, 0}},
        ParseRow{"before_epoch", "19691231235959", TimeVal{-1, 0}},
        ParseRow{"leap_second_is_next_minute", "19991231235960", TimeVal{946'684'800, 0}},
        ParseRow{"year_0000", "00000101000000", TimeVal{kMinTimeValSeconds, 0}},
        ParseRow{"year_9999", "99991231235959", TimeVal{kMaxTimeValSeconds, 0}},
        ParseRow{"milliseconds", "20000101000000.123", TimeVal{946'684'800, 123'000'000}},
        ParseRow{"one_fraction_digit", "20000101000000.5", TimeVal{946'684'800, 500'000'000}},
        ParseRow{"nanoseconds", "20000101000000.000000001", TimeVal{946'684'800, 1}},
        ParseRow{"fraction_truncated", "20000101000000.1234567899999",
                 TimeVal{946'684'800, 123'456'789}},
        ParseRow{"century_not_leap", "19000229000000", std::nullopt},
        ParseRow{"not_leap", "20230229000000", std::nullopt},
        ParseRow{"month_00", "20000001000000", std::nullopt},
        ParseRow{"month_13", "20001301000000", std::nullopt},
        ParseRow{"day_00", "20000100000000", std::nullopt},
        ParseRow{"day_31_in_april", "20000431000000", std::nullopt},
        ParseRow{"hour_24", "20000101240000", std::nullopt},
        ParseRow{"minute_60", "20000101006000", std::nullopt},
        ParseRow{"second_61", "20000101000061", std::nullopt},
        ParseRow{"thirteen_digits", "2000010100000", std::nullopt},
        ParseRow{"fifteen_digits", "200001010000001", std::nullopt},
        ParseRow{"empty_fraction", "20000101000000.", std::nullopt},
        ParseRow{"fraction_garbage", "20000101000000.1a", std::nullopt},
        ParseRow{"separators", "2000-01-01 00:00:00", std::nullopt},
        ParseRow{"leading_space", " 20000101000000", std::nullopt},
        ParseRow{"trailing_space", "20000101000000 ", std::nullopt},
        ParseRow{"empty", "", std::nullopt}),
    [](const auto& info) { return std::string(info.param.name); });

struct FormatRow {
  const char* name;
  TimeVal time;
  unsigned fraction_digits;
  std::optional<std::string> expected;
};

class FtpTimeValFormat : public testing::TestWithParam<FormatRow> {};

TEST_P(FtpTimeValFormat, Rule) {
  const FormatRow& row = GetParam();
  EXPECT_EQ(format_timeval(row.time, row.fraction_digits), row.expected);
}

INSTANTIATE_TEST_SUITE_P(
    Rules, FtpTimeValFormat,
    testing::Values(
        FormatRow{"epoch", {0, 0}, 0, "19700101000000"},
        FormatRow{"mdtm_form", {1'709'210'096, 999'999'999}, 0, "20240229123456"},
        FormatRow{"before_epoch", {-1, 0}, 0, "19691231235959"},
        FormatRow{"milliseconds_truncated", {946'684'800, 123'999'999}, 3, "20000101000000.123"},
        FormatRow{"nanoseconds", {946'684'800, 1}, 9, "20000101000000.000000001"},
        FormatRow{"fraction_digits_clamped", {946'684'800, 5}, 20, "20000101000000.000000005"},
        FormatRow{"min", {kMinTimeValSeconds, 0}, 0, "00000101000000"},
        FormatRow{"max", {kMaxTimeValSeconds, 0}, 0, "99991231235959"},
        FormatRow{"below_min", {kMinTimeValSeconds - 1, 0}, 0, std::nullopt},
        FormatRow{"above_max", {kMaxTimeValSeconds + 1, 0}, 0, std::nullopt},
        FormatRow{"bad_nanoseconds", {0, 1'000'000'000}, 0, std::nullopt}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(FtpTimeVal, FormatThenParseRoundTripsAcrossTheWholeRange) {
  // A prime stride visits every month, weekday and time of day many times.
  constexpr std::int64_t kStride = 86'400 * 37 + 3'613;
  int checked = 0;
  for (std::int64_t s = kMinTimeValSeconds; s <= kMaxTimeValSeconds; s += kStride) {
    const TimeVal t{s, static_cast<std::uint32_t>(s & 0x3FFF'FFFF) % 1'000'000'000};
    const auto text = format_timeval(t, 9);
    ASSERT_TRUE(text.has_value()) << s;
    const auto back = parse_timeval(*text);
    ASSERT_TRUE(back.ok()) << *text;
    ASSERT_EQ(back.value, t) << *text;
    ++checked;
  }
  EXPECT_GT(checked, 90'000);
}

}  // namespace
}  // namespace ringftpd::server::ftp
