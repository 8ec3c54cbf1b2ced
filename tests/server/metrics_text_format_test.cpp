// server/metrics/text_format: the Prometheus text exposition format 0.0.4,
// one rule of the format per test.
#include "server/metrics/text_format.hpp"

#include <gtest/gtest.h>

#include <array>
#include <cstdint>

namespace ringftpd::server::metrics {
namespace {

TEST(MetricsTextFormat, FamilyHeaderThenSamples) {
  TextWriter w;
  w.family("ringftpd_logins_total", "Logins completed.", MetricType::Counter);
  w.sample("ringftpd_logins_total", R"(result="ok")", std::uint64_t{18446744073709551615u});
  w.sample("ringftpd_logins_total", "", std::uint64_t{0});
  EXPECT_EQ(w.text(),
            "# HELP ringftpd_logins_total Logins completed.\n"
            "# TYPE ringftpd_logins_total counter\n"
            "ringftpd_logins_total{result=\"ok\"} 18446744073709551615\n"
            "ringftpd_logins_total 0\n");
}

TEST(MetricsTextFormat, TypesAreSpelledAsTheFormatSays) {
  TextWriter w;
  w.family("a", "h", MetricType::Gauge);
  w.family("b", "h", MetricType::Histogram);
  EXPECT_NE(w.text().find("# TYPE a gauge\n"), std::string::npos);
  EXPECT_NE(w.text().find("# TYPE b histogram\n"), std::string::npos);
}

TEST(MetricsTextFormat, LabelValuesEscapeBackslashQuoteAndLineFeed) {
  EXPECT_EQ(label("path", R"(a\b"c)"
                          "\nd"),
            R"(path="a\\b\"c\nd")");
  EXPECT_EQ(label("worker", "1"), R"(worker="1")");
}

TEST(MetricsTextFormat, HelpEscapesBackslashAndLineFeedButNotQuotes) {
  TextWriter w;
  w.family("x", "a \"quoted\" \\ word\nnext", MetricType::Gauge);
  EXPECT_EQ(w.text(), "# HELP x a \"quoted\" \\\\ word\\nnext\n# TYPE x gauge\n");
}

TEST(MetricsTextFormat, JoinLabelsSkipsEmptySides) {
  EXPECT_EQ(join_labels("", ""), "");
  EXPECT_EQ(join_labels("a=\"1\"", ""), "a=\"1\"");
  EXPECT_EQ(join_labels("", "b=\"2\""), "b=\"2\"");
  EXPECT_EQ(join_labels("a=\"1\"", "b=\"2\""), "a=\"1\",b=\"2\"");
}

TEST(MetricsTextFormat, DoublesAreShortestRoundTripAndInfinitiesNamed) {
  EXPECT_EQ(format_double(0.0005), "0.0005");
  EXPECT_EQ(format_double(2.5), "2.5");
  EXPECT_EQ(format_double(10), "10");
  EXPECT_EQ(format_double(11.0307), "11.0307");
  EXPECT_EQ(format_double(0), "0");
  EXPECT_EQ(format_double(1e-9), "1e-09");  // tiny and huge: exponent form
  EXPECT_EQ(format_double(1e300), "1e+300");
  EXPECT_EQ(format_double(1.0 / 0.0), "+Inf");
  EXPECT_EQ(format_double(-1.0 / 0.0), "-Inf");
  EXPECT_EQ(format_double(0.0 / 0.0), "NaN");
}

TEST(MetricsTextFormat, HistogramBucketsAreCumulativeAndEndAtInf) {
  TextWriter w;
  const std::array<double, 2> bounds{0.001, 0.5};
  const std::array<std::uint64_t, 3> cells{2, 0, 3};  // not cumulative; the last is > 0.5
  w.histogram("h_seconds", R"(worker="1")", bounds, cells, 4.25);
  EXPECT_EQ(w.text(),
            "h_seconds_bucket{worker=\"1\",le=\"0.001\"} 2\n"
            "h_seconds_bucket{worker=\"1\",le=\"0.5\"} 2\n"
            "h_seconds_bucket{worker=\"1\",le=\"+Inf\"} 5\n"
            "h_seconds_sum{worker=\"1\"} 4.25\n"
            "h_seconds_count{worker=\"1\"} 5\n");
}

TEST(MetricsTextFormat, HistogramWithoutLabels) {
  TextWriter w;
  const std::array<double, 1> bounds{1};
  const std::array<std::uint64_t, 2> cells{0, 0};
  w.histogram("h", "", bounds, cells, 0);
  EXPECT_EQ(w.text(), "h_bucket{le=\"1\"} 0\nh_bucket{le=\"+Inf\"} 0\nh_sum 0\nh_count 0\n");
}

}  // namespace
}  // namespace ringftpd::server::metrics
