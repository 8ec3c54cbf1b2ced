// server/metrics/exposition: every counter reaches a family, totals and
// per-worker series carry the right labels and values, histograms in seconds.
#include "server/metrics/exposition.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <string>

namespace ringftpd::server::metrics {
namespace {

using namespace std::chrono_literals;

constexpr std::size_t at(Counter c) {
  return static_cast<std::size_t>(c);
}

bool has_line(const std::string& text, const std::string& line) {
  return text.find("\n" + line + "\n") != std::string::npos;
}

TEST(MetricsExposition, EveryCounterButTheSumOfRefusalsIsExported) {
  for (std::size_t k = 0; k < kCounterCount; ++k) {
    const auto c = static_cast<Counter>(k);
    EXPECT_EQ(is_exported(c), c != Counter::SessionsRefused) << counter_name(c);
  }
}

TEST(MetricsExposition, TotalsAndWorkersWithTheirLabels) {
  Figures f;
  f.totals[at(Counter::LoginsOk)] = 7;
  f.totals[at(Counter::LoginsFailed)] = 1;
  f.totals[at(Counter::DataTlsResumed)] = 5;
  f.totals[at(Counter::SessionsRefusedMaxSessions)] = 3;
  f.totals[at(Counter::BytesSent)] = 1234567890123;
  WorkerFigures w1{1, 2, {}, {}};
  w1.values[at(Counter::LoginsOk)] = 4;
  WorkerFigures w2{2, 2, {}, {}};
  w2.values[at(Counter::LoginsOk)] = 3;
  f.workers = {w1, w2};
  f.cache.hits = 9;
  f.cache.misses = 2;
  f.addresses.slots = 8192;
  const std::string text = render(f);
  EXPECT_TRUE(has_line(text, "ringftpd_workers 2")) << text;
  EXPECT_TRUE(has_line(text, R"(ringftpd_logins_total{result="ok"} 7)"));
  EXPECT_TRUE(has_line(text, R"(ringftpd_logins_total{result="failed"} 1)"));
  EXPECT_TRUE(has_line(text, R"(ringftpd_tls_handshakes_total{channel="data",kind="resumed"} 5)"));
  EXPECT_TRUE(has_line(text, R"(ringftpd_sessions_refused_total{reason="max_sessions"} 3)"));
  EXPECT_TRUE(has_line(text, "ringftpd_data_sent_bytes_total 1234567890123"));
  EXPECT_TRUE(
      has_line(text, R"(ringftpd_worker_logins_total{worker="1",generation="2",result="ok"} 4)"));
  EXPECT_TRUE(
      has_line(text, R"(ringftpd_worker_logins_total{worker="2",generation="2",result="ok"} 3)"));
  EXPECT_TRUE(has_line(text, R"(ringftpd_tls_session_cache_lookups_total{result="hit"} 9)"));
  EXPECT_TRUE(has_line(text, R"(ringftpd_tls_session_cache_lookups_total{result="miss"} 2)"));
  EXPECT_TRUE(has_line(text, "ringftpd_address_table_slots 8192"));
  // One header per family, even with several workers.
  const std::string header = "# TYPE ringftpd_worker_logins_total counter\n";
  const auto first = text.find(header);
  ASSERT_NE(first, std::string::npos);
  EXPECT_EQ(text.find(header, first + 1), std::string::npos);
  EXPECT_EQ(text.back(), '\n');
}

TEST(MetricsExposition, NoWorkerNoWorkerFamilies) {
  const std::string text = render(Figures{});
  EXPECT_TRUE(has_line(text, "ringftpd_workers 0"));
  EXPECT_EQ(text.find("ringftpd_worker_"), std::string::npos);
  EXPECT_TRUE(has_line(text, "ringftpd_sessions_total 0"));
}

TEST(MetricsExposition, HistogramsFromTheSharedBlocksInSeconds) {
  CounterRegion region;
  WorkerCounters* block = region.acquire(0, 1);
  ASSERT_NE(block, nullptr);
  region.assign(block, 4242);
  block->observe(Histogram::LoginSeconds, 700us);   // in le="0.001"
  block->observe(Histogram::LoginSeconds, 30ms);    // in le="0.05"
  block->observe(Histogram::LoginSeconds, 11s);     // above every bound
  block->observe(Histogram::DataSetupSeconds, 0s);  // in the first bucket
  Figures f;
  region.for_each_live([&f](const WorkerCounterView& v) {
    f.workers.push_back({v.slot + 1, v.generation, v.values, v.histograms});
  });
  f.totals = region.totals();
  f.histogram_totals = region.histogram_totals();
  const std::string text = render(f);
  EXPECT_TRUE(has_line(text, R"(ringftpd_login_duration_seconds_bucket{le="0.0005"} 0)")) << text;
  EXPECT_TRUE(has_line(text, R"(ringftpd_login_duration_seconds_bucket{le="0.001"} 1)"));
  EXPECT_TRUE(has_line(text, R"(ringftpd_login_duration_seconds_bucket{le="0.025"} 1)"));
  EXPECT_TRUE(has_line(text, R"(ringftpd_login_duration_seconds_bucket{le="0.05"} 2)"));
  EXPECT_TRUE(has_line(text, R"(ringftpd_login_duration_seconds_bucket{le="10"} 2)"));
  EXPECT_TRUE(has_line(text, R"(ringftpd_login_duration_seconds_bucket{le="+Inf"} 3)"));
  EXPECT_TRUE(has_line(text, "ringftpd_login_duration_seconds_sum 11.0307"));
  EXPECT_TRUE(has_line(text, "ringftpd_login_duration_seconds_count 3"));
  EXPECT_TRUE(has_line(
      text, R"(ringftpd_worker_login_duration_seconds_count{worker="1",generation="1"} 3)"));
  EXPECT_TRUE(has_line(text, R"(ringftpd_data_connection_setup_seconds_bucket{le="0.0005"} 1)"));
  // A worker that exits leaves its observations in the totals.
  region.release(block);
  const std::string after = render(Figures{{}, region.totals(), region.histogram_totals(), {}, {}});
  EXPECT_TRUE(has_line(after, "ringftpd_login_duration_seconds_count 3")) << after;
  EXPECT_EQ(after.find("ringftpd_worker_"), std::string::npos);
}

}  // namespace
}  // namespace ringftpd::server::metrics
