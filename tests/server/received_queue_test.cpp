#include "server/received_queue.hpp"

#include <gtest/gtest.h>

#include <vector>

namespace ringftpd::server {
namespace {

std::vector<std::uint16_t> consume(ReceivedQueue& q, std::uint64_t n) {
  std::vector<std::uint16_t> freed;
  q.consume(n, [&](std::uint16_t id) { freed.push_back(id); });
  return freed;
}

TEST(ReceivedQueue, KeepsArrivalOrderAndCountsBytes) {
  ReceivedQueue q;
  EXPECT_TRUE(q.empty());
  ASSERT_TRUE(q.push(5, 100));
  ASSERT_TRUE(q.push(2, 50));
  ASSERT_TRUE(q.push(9, 7));
  EXPECT_EQ(q.size(), 3u);
  EXPECT_EQ(q.bytes(), 157u);
  EXPECT_EQ(q.at(0).id, 5);
  EXPECT_EQ(q.at(1).id, 2);
  EXPECT_EQ(q.at(2).id, 9);
}

TEST(ReceivedQueue, AShortWriteFreesOnlyWhatIsFullyUsed) {
  ReceivedQueue q;
  ASSERT_TRUE(q.push(1, 100));
  ASSERT_TRUE(q.push(2, 100));
  EXPECT_TRUE(consume(q, 60).empty());
  EXPECT_EQ(q.at(0).offset, 60u);
  EXPECT_EQ(q.at(0).unconsumed(), 40u);
  EXPECT_EQ(q.bytes(), 140u);
  EXPECT_EQ(consume(q, 90), (std::vector<std::uint16_t>{1}));
  EXPECT_EQ(q.at(0).id, 2);
  EXPECT_EQ(q.at(0).unconsumed(), 50u);
  EXPECT_EQ(consume(q, 50), (std::vector<std::uint16_t>{2}));
  EXPECT_TRUE(q.empty());
  EXPECT_EQ(q.bytes(), 0u);
}

TEST(ReceivedQueue, OneWriteCanFreeSeveralBuffers) {
  ReceivedQueue q;
  for (std::uint16_t id = 0; id < 4; ++id) ASSERT_TRUE(q.push(id, 10));
  EXPECT_EQ(consume(q, 35), (std::vector<std::uint16_t>{0, 1, 2}));
  EXPECT_EQ(q.size(), 1u);
  EXPECT_EQ(q.at(0).unconsumed(), 5u);
}

TEST(ReceivedQueue, RefusesMoreThanItsCapacityAndEmptyBuffers) {
  ReceivedQueue q;
  EXPECT_FALSE(q.push(1, 0));
  for (std::size_t i = 0; i < ReceivedQueue::kCapacity; ++i) {
    ASSERT_TRUE(q.push(static_cast<std::uint16_t>(i), 1));
  }
  EXPECT_FALSE(q.push(999, 1));
  EXPECT_EQ(q.size(), ReceivedQueue::kCapacity);
}

TEST(ReceivedQueue, WrapsAroundItsStorage) {
  ReceivedQueue q;
  std::uint16_t next = 0;
  std::uint16_t expected = 0;
  for (int round = 0; round < 5 * static_cast<int>(ReceivedQueue::kCapacity); ++round) {
    while (q.size() < 3) ASSERT_TRUE(q.push(next++, 8));
    const auto freed = consume(q, 8);
    ASSERT_EQ(freed.size(), 1u);
    EXPECT_EQ(freed[0], expected++);
  }
}

TEST(ReceivedQueue, ClearForgetsEverything) {
  ReceivedQueue q;
  ASSERT_TRUE(q.push(1, 10));
  q.clear();
  EXPECT_TRUE(q.empty());
  EXPECT_EQ(q.bytes(), 0u);
  EXPECT_TRUE(consume(q, 0).empty());
}

}  // namespace
}  // namespace ringftpd::server
