// What ftpsload prints: the progress line (once a second), the final report
// in the manner of h2load / wrk, and the same figures as one JSON object.
// Pure formatting: figures in, text out. 1 MB = 10^6 bytes.
#pragma once

#include <string>

#include "tools/ftpsload/cli.hpp"
#include "tools/ftpsload/stats.hpp"

namespace ringftpd::ftpsload {

struct RunFacts {
  double elapsed_s = 0;      // first connect .. end of work (or the deadline)
  double all_up_s = -1;      // idle: when no session was left in set-up; -1: never
  bool interrupted = false;  // stopped by a signal
  unsigned threads = 1;
};

// One progress line without a line end: `now` and `before` are samples taken
// `interval_s` apart, `t` seconds into the run.
[[nodiscard]] std::string progress_line(const Options& o, const LiveSample& now,
                                        const LiveSample& before, double t, double interval_s);

[[nodiscard]] std::string text_report(const Options& o, const Totals& t, const RunFacts& f);
[[nodiscard]] std::string json_report(const Options& o, const Totals& t, const RunFacts& f);

// "850us", "12.34ms", "1.234s" for a duration in nanoseconds.
[[nodiscard]] std::string format_duration_ns(double ns);
// JSON string literal, quotes included.
[[nodiscard]] std::string json_string(std::string_view s);

}  // namespace ringftpd::ftpsload
