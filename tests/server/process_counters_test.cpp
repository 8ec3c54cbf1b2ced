// server/process/counters and status_report: gauges, the master's own
// figures, and the lines --status prints for them.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>

#include "server/process/counters.hpp"
#include "server/process/status_report.hpp"

namespace ringftpd::server {
namespace {

constexpr std::size_t at(Counter c) {
  return static_cast<std::size_t>(c);
}

TEST(Counters, GaugesLeaveWithTheirWorkerCountsStay) {
  CounterRegion region;
  WorkerCounters* block = region.acquire(0, 1);
  ASSERT_NE(block, nullptr);
  region.assign(block, 4242);
  block->set(Counter::SessionCapacity, 7991);
  block->add(Counter::SessionsActive, 3);
  block->add(Counter::SessionsRefusedCapacity, 5);
  block->add(Counter::LogLinesDropped, 2);
  EXPECT_EQ(region.totals()[at(Counter::SessionCapacity)], 7991u);
  region.release(block);
  const CounterValues after = region.totals();
  EXPECT_EQ(after[at(Counter::SessionCapacity)], 0u);
  EXPECT_EQ(after[at(Counter::SessionsActive)], 0u);
  EXPECT_EQ(after[at(Counter::SessionsRefusedCapacity)], 5u);
  EXPECT_EQ(after[at(Counter::LogLinesDropped)], 2u);
  region.add_to_totals(Counter::LogLinesDropped, 7);  // the master's own
  EXPECT_EQ(region.totals()[at(Counter::LogLinesDropped)], 9u);
  EXPECT_TRUE(is_gauge(Counter::SessionCapacity));
  EXPECT_FALSE(is_gauge(Counter::LogLinesDropped));
}

TEST(Counters, ServingIsPerBlockAndForgottenWhenTheBlockIsReused) {
  CounterRegion region;
  WorkerCounters* first = region.acquire(0, 1);
  WorkerCounters* second = region.acquire(1, 1);
  ASSERT_NE(first, nullptr);
  ASSERT_NE(second, nullptr);
  EXPECT_FALSE(first->is_serving());
  first->mark_serving();
  EXPECT_TRUE(first->is_serving());
  EXPECT_FALSE(second->is_serving());
  region.release(first);
  // The block goes to the next worker forked: it has not served yet.
  WorkerCounters* again = region.acquire(0, 2);
  ASSERT_EQ(again, first);
  EXPECT_FALSE(again->is_serving());
}

TEST(Counters, EveryCounterHasAName) {
  for (std::size_t k = 0; k < kCounterCount; ++k) {
    EXPECT_NE(counter_name(static_cast<Counter>(k)), "?") << k;
  }
}

TEST(StatusReport, ShowsTheNewCountersAndTheAddressTable) {
  CounterValues totals{};
  totals[at(Counter::LogLinesDropped)] = 11;
  totals[at(Counter::SessionsRefusedPerAddress)] = 190;
  totals[at(Counter::SessionsRefusedCapacity)] = 5;
  totals[at(Counter::SessionCapacity)] = 14;
  AddressTableStats addresses;
  addresses.slots = 8192;
  addresses.pairs_in_use = 3;
  addresses.sessions = 10;
  addresses.table_full = 1;
  const std::string text = format_status(1, 2, {}, totals, tls::SharedTlsStats{}, addresses);
  for (const char* want : {"log_lines_dropped 11\n", "sessions_refused_per_address 190\n",
                           "sessions_refused_capacity 5\n", "session_capacity 14\n",
                           "sessions_refused_address_table_full 0\n", "address_table_slots 8192\n",
                           "address_table_pairs_in_use 3\n", "address_table_sessions 10\n",
                           "address_table_full 1\n", "address_table_lock_recoveries 0\n"}) {
    EXPECT_NE(text.find(want), std::string::npos) << want << "\n" << text;
  }
}

TEST(Counters, HistogramCellsIncludeTheirUpperBound) {
  EXPECT_EQ(histogram_cell(0), 0u);
  EXPECT_EQ(histogram_cell(500), 0u);  // le="0.0005" includes 0.0005
  EXPECT_EQ(histogram_cell(501), 1u);
  EXPECT_EQ(histogram_cell(10'000'000), kHistogramBoundsUs.size() - 1);
  EXPECT_EQ(histogram_cell(10'000'001), kHistogramBoundsUs.size());  // +Inf
}

TEST(Counters, AReusedBlockStartsWithEmptyHistograms) {
  using namespace std::chrono_literals;
  CounterRegion region;
  WorkerCounters* block = region.acquire(0, 1);
  ASSERT_NE(block, nullptr);
  region.assign(block, 4242);
  block->observe(Histogram::DataSetupSeconds, 3ms);
  block->observe(Histogram::DataSetupSeconds, -1ms);  // a clock step: counted as 0
  region.release(block);
  WorkerCounters* again = region.acquire(0, 2);
  ASSERT_EQ(again, block);
  region.assign(again, 4243);
  region.for_each_live([](const WorkerCounterView& v) {
    for (const HistogramValues& h : v.histograms) {
      for (std::uint64_t c : h.cells) EXPECT_EQ(c, 0u);
      EXPECT_EQ(h.sum_us, 0u);
    }
  });
  const HistogramValues total =
      region.histogram_totals()[static_cast<std::size_t>(Histogram::DataSetupSeconds)];
  EXPECT_EQ(total.cells[0], 1u);
  EXPECT_EQ(total.cells[histogram_cell(3000)], 1u);
  EXPECT_EQ(total.sum_us, 3000u);
}

TEST(Counters, AReaderCanMakeItsViewReadOnly) {
  CounterRegion region;
  WorkerCounters* block = region.acquire(0, 1);
  ASSERT_NE(block, nullptr);
  region.assign(block, 4242);
  block->add(Counter::LoginsOk, 2);
  // In a child, so the writes that must fault do not end this process.
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    // The default action, so the fault ends the child by SIGSEGV even under
    // AddressSanitizer (whose handler would report it and abort).
    std::signal(SIGSEGV, SIG_DFL);
    if (!region.make_read_only()) _exit(2);
    if (region.totals()[at(Counter::LoginsOk)] != 2) _exit(3);  // reading still works
    block->add(Counter::LoginsOk);                              // must fault
    _exit(0);
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFSIGNALED(status)) << "exit status " << WEXITSTATUS(status);
  EXPECT_EQ(WTERMSIG(status), SIGSEGV);
  EXPECT_EQ(region.totals()[at(Counter::LoginsOk)], 2u);  // the parent's view still writes
  block->add(Counter::LoginsOk);
  EXPECT_EQ(region.totals()[at(Counter::LoginsOk)], 3u);
}

}  // namespace
}  // namespace ringftpd::server
