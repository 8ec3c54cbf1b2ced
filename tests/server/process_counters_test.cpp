// server/process/counters and status_report: gauges, the master's own
// figures, and the lines --status prints for them.
#include <gtest/gtest.h>

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

}  // namespace
}  // namespace ringftpd::server
