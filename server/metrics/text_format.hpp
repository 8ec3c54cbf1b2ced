// The Prometheus text exposition format, version 0.0.4
// (https://prometheus.io/docs/instrumenting/exposition_formats/): a family
// header (# HELP, # TYPE) followed by its samples, one per line.
//
// A writer of our own rather than prometheus-cpp's registry: our figures live
// in shared memory written by other processes, and a registry wants to own
// its metric objects; here a scrape reads the shared blocks once and prints.
//
// Names and label names are ours (constants), so they are not checked here;
// label *values* and help text are escaped as the format requires.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace ringftpd::server::metrics {

enum class MetricType { Counter, Gauge, Histogram };

// `name="value"` with value escaped (\\, \", \n).
[[nodiscard]] std::string label(std::string_view name, std::string_view value);
// "a,b": labels joined, either side may be empty.
[[nodiscard]] std::string join_labels(std::string_view a, std::string_view b);

class TextWriter {
 public:
  // The "# HELP" and "# TYPE" lines; call once per family, before its samples.
  void family(std::string_view name, std::string_view help, MetricType type);
  // name{labels} value; labels may be empty (no braces then).
  void sample(std::string_view name, std::string_view labels, std::uint64_t value);
  void sample(std::string_view name, std::string_view labels, double value);
  // name_bucket{labels,le="..."} for each bound and +Inf (cumulative), then
  // name_sum and name_count. cells: per-bucket counts, not cumulative, one
  // more than bounds (the last is above every bound).
  void histogram(std::string_view name, std::string_view labels, std::span<const double> bounds,
                 std::span<const std::uint64_t> cells, double sum);

  [[nodiscard]] const std::string& text() const noexcept { return out_; }
  [[nodiscard]] std::string take() noexcept { return std::move(out_); }

 private:
  void series(std::string_view name, std::string_view suffix, std::string_view labels);
  std::string out_;
};

// Shortest text that reads back as the same double; "+Inf", "-Inf", "NaN".
[[nodiscard]] std::string format_double(double v);

}  // namespace ringftpd::server::metrics
