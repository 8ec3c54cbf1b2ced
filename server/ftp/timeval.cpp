#include "server/ftp/timeval.hpp"

#include <array>

#include "server/ftp/text.hpp"

namespace ringftpd::server::ftp {

namespace {

constexpr std::size_t kDateTimeDigits = 14;  // YYYYMMDDHHMMSS
constexpr unsigned kMaxFractionDigits = 9;   // nanoseconds
constexpr std::int64_t kSecondsPerDay = 86'400;

constexpr bool is_leap_year(std::int64_t y) noexcept {
  return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

constexpr unsigned days_in_month(std::int64_t y, unsigned m) noexcept {
  constexpr std::array<unsigned, 12> kDays = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && is_leap_year(y) ? 29 : kDays[m - 1];
}

// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant, "chrono-compatible
// low-level date algorithms", days_from_civil).
constexpr std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) noexcept {
  y -= m <= 2 ? 1 : 0;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146'097 + static_cast<std::int64_t>(doe) - 719'468;
}

struct Civil {
  std::int64_t year;
  unsigned month;
  unsigned day;
};

// The inverse (civil_from_days).
constexpr Civil civil_from_days(std::int64_t z) noexcept {
  z += 719'468;
  const std::int64_t era = (z >= 0 ? z : z - 146'096) / 146'097;
  const auto doe = static_cast<unsigned>(z - era * 146'097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36'524 - doe / 146'096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  const unsigned d = doy - (153 * mp + 2) / 5 + 1;
  const unsigned m = mp < 10 ? mp + 3 : mp - 9;
  return {static_cast<std::int64_t>(yoe) + era * 400 + (m <= 2 ? 1 : 0), m, d};
}

static_assert(days_from_civil(1970, 1, 1) == 0);
static_assert(days_from_civil(2000, 3, 1) == 11'017);
static_assert(days_from_civil(0, 1, 1) * kSecondsPerDay == kMinTimeValSeconds);
static_assert(days_from_civil(9999, 12, 31) * kSecondsPerDay + kSecondsPerDay - 1 ==
              kMaxTimeValSeconds);
static_assert(civil_from_days(11'017).year == 2000 && civil_from_days(11'017).month == 3);

// Digits [pos, pos + n) of `s` as a number; the caller checked they are digits.
constexpr unsigned digits_at(std::string_view s, std::size_t pos, std::size_t n) noexcept {
  unsigned v = 0;
  for (std::size_t i = pos; i < pos + n; ++i) v = v * 10 + static_cast<unsigned>(s[i] - '0');
  return v;
}

void append_digits(std::string& out, std::int64_t value, int width) {
  std::array<char, 4> buf{};
  for (int i = width - 1; i >= 0; --i) {
    buf[static_cast<std::size_t>(i)] = static_cast<char>('0' + value % 10);
    value /= 10;
  }
  out.append(buf.data(), static_cast<std::size_t>(width));
}

}  // namespace

ParseResult<TimeVal> parse_timeval(std::string_view input) noexcept {
  using R = ParseResult<TimeVal>;
  if (input.size() < kDateTimeDigits || !text::all_digits(input.substr(0, kDateTimeDigits))) {
    return R::syntax_error();
  }
  const std::int64_t year = digits_at(input, 0, 4);
  const unsigned month = digits_at(input, 4, 2);
  const unsigned day = digits_at(input, 6, 2);
  const unsigned hour = digits_at(input, 8, 2);
  const unsigned minute = digits_at(input, 10, 2);
  const unsigned second = digits_at(input, 12, 2);
  if (month < 1 || month > 12 || day < 1 || day > days_in_month(year, month) || hour > 23 ||
      minute > 59 || second > 60) {
    return R::syntax_error();
  }
  TimeVal tv;
  const std::string_view fraction = input.substr(kDateTimeDigits);
  if (!fraction.empty()) {
    if (fraction.front() != '.' || !text::all_digits(fraction.substr(1))) return R::syntax_error();
    const std::string_view digits = fraction.substr(1);
    for (unsigned i = 0; i < kMaxFractionDigits; ++i) {
      tv.nanoseconds *= 10;
      if (i < digits.size()) tv.nanoseconds += static_cast<std::uint32_t>(digits[i] - '0');
    }
  }
  const std::int64_t time_of_day = std::int64_t{hour} * 3600 + minute * 60 + second;
  tv.seconds = days_from_civil(year, month, day) * kSecondsPerDay + time_of_day;
  return R::success(tv);
}

std::optional<std::string> format_timeval(const TimeVal& time, unsigned fraction_digits) {
  if (time.seconds < kMinTimeValSeconds || time.seconds > kMaxTimeValSeconds ||
      time.nanoseconds > 999'999'999) {
    return std::nullopt;
  }
  // Floor division, so that times before 1970 land on the right day.
  std::int64_t days = time.seconds / kSecondsPerDay;
  std::int64_t rest = time.seconds % kSecondsPerDay;
  if (rest < 0) {
    rest += kSecondsPerDay;
    --days;
  }
  const Civil date = civil_from_days(days);
  std::string out;
  out.reserve(kDateTimeDigits + 1 + kMaxFractionDigits);
  append_digits(out, date.year, 4);
  append_digits(out, date.month, 2);
  append_digits(out, date.day, 2);
  append_digits(out, rest / 3600, 2);
  append_digits(out, rest / 60 % 60, 2);
  append_digits(out, rest % 60, 2);
  if (fraction_digits > 0) {
    if (fraction_digits > kMaxFractionDigits) fraction_digits = kMaxFractionDigits;
    out.push_back('.');
    std::uint32_t ns = time.nanoseconds;
    std::array<char, kMaxFractionDigits> buf{};
    for (std::size_t i = kMaxFractionDigits; i-- > 0;) {
      buf[i] = static_cast<char>('0' + ns % 10);
      ns /= 10;
    }
    out.append(buf.data(), fraction_digits);
  }
  return out;
}

ParseResult<MfmtArgument> parse_mfmt_argument(std::string_view arg) noexcept {
  using R = ParseResult<MfmtArgument>;
  const std::size_t sp = arg.find(' ');
  if (sp == std::string_view::npos || sp + 1 == arg.size()) return R::syntax_error();
  const ParseResult<TimeVal> time = parse_timeval(arg.substr(0, sp));
  if (!time.ok()) return R::syntax_error();
  return R::success(MfmtArgument{time.value, arg.substr(sp + 1)});
}

}  // namespace ringftpd::server::ftp
