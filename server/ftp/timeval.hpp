// RFC 3659 §2.3 time values ("YYYYMMDDHHMMSS[.sss]", always UTC, proleptic Gregorian)
// for MDTM, MFMT and the MLST "modify" fact. Pure arithmetic: no clock, no time zone,
// no libc time functions.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "server/ftp/parse_result.hpp"

namespace ringftpd::server::ftp {

// A point in time as a struct timespec would hold it (seconds since the Unix epoch,
// UTC), so the session can hand it to utimensat or compare it with statx times.
struct TimeVal {
  std::int64_t seconds = 0;
  std::uint32_t nanoseconds = 0;  // 0..999'999'999

  friend bool operator==(const TimeVal&, const TimeVal&) = default;
};

// The range a 4-digit year can express: 0000-01-01T00:00:00 to 9999-12-31T23:59:59.
inline constexpr std::int64_t kMinTimeValSeconds = -62'167'219'200;
inline constexpr std::int64_t kMaxTimeValSeconds = 253'402'300'799;

// time-val = 14DIGIT [ "." 1*DIGIT ]. Month 01-12, day valid for the month (leap years
// included), hour 00-23, minute 00-59, second 00-60 (60 only makes sense for a leap
// second; POSIX time has none, so it counts as the next minute's 00, and
// "99991231235960" parses to kMaxTimeValSeconds + 1). Fraction digits
// beyond nine (nanoseconds) are accepted and truncated. Errors: Syntax (501).
[[nodiscard]] ParseResult<TimeVal> parse_timeval(std::string_view text) noexcept;

// "YYYYMMDDHHMMSS", plus "." and the first `fraction_digits` digits of the fraction when
// fraction_digits > 0 (truncated, not rounded; clamped to 9). nullopt when the time is
// outside [kMinTimeValSeconds, kMaxTimeValSeconds] or nanoseconds is out of range.
[[nodiscard]] std::optional<std::string> format_timeval(const TimeVal& time,
                                                        unsigned fraction_digits = 0);

struct MfmtArgument {
  TimeVal time;
  std::string_view path;  // points into the parsed argument
};

// MFMT <time-val> SP <pathname> (draft-somers-ftp-mfxx). Exactly one SP after the time;
// the pathname is the rest, byte for byte, and must not be empty. Errors: Syntax (501).
[[nodiscard]] ParseResult<MfmtArgument> parse_mfmt_argument(std::string_view arg) noexcept;

}  // namespace ringftpd::server::ftp
