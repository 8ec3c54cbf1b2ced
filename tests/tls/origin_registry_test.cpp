#include "tls/origin_registry.hpp"

#include <gtest/gtest.h>

#include <chrono>

namespace ringftpd::tls {
namespace {

using std::chrono::seconds;

const SteadyTime kT0{seconds{1000}};

TicketId id_of(std::uint8_t n) {
  TicketId id{};
  id.fill(n);
  return id;
}

TEST(InProcessOriginRegistryTest, FindsWhatWasPutUntilItExpires) {
  InProcessOriginRegistry r(8);
  ASSERT_TRUE(r.put(id_of(1), 42, kT0 + seconds{10}, kT0));
  EXPECT_EQ(r.find(id_of(1), kT0), 42u);
  EXPECT_EQ(r.find(id_of(1), kT0 + seconds{9}), 42u);
  EXPECT_FALSE(r.find(id_of(2), kT0));
  EXPECT_FALSE(r.find(id_of(1), kT0 + seconds{10}));
  EXPECT_EQ(r.size(), 0u);  // the expired record is gone
}

TEST(InProcessOriginRegistryTest, EvictsTheOldestWhenFull) {
  InProcessOriginRegistry r(3);
  for (std::uint8_t i = 1; i <= 4; ++i) ASSERT_TRUE(r.put(id_of(i), i, kT0 + seconds{60}, kT0));
  EXPECT_EQ(r.size(), 3u);
  EXPECT_FALSE(r.find(id_of(1), kT0));
  EXPECT_EQ(r.find(id_of(2), kT0), 2u);
  EXPECT_EQ(r.find(id_of(4), kT0), 4u);
}

TEST(InProcessOriginRegistryTest, PuttingOneIdAgainReplacesItAndStaysBounded) {
  InProcessOriginRegistry r(2);
  ASSERT_TRUE(r.put(id_of(1), 1, kT0 + seconds{60}, kT0));
  for (int i = 0; i < 100; ++i) ASSERT_TRUE(r.put(id_of(2), 7, kT0 + seconds{60}, kT0));
  EXPECT_EQ(r.find(id_of(2), kT0), 7u);
  EXPECT_LE(r.size(), 2u);
}

TEST(InProcessOriginRegistryTest, ExpiredRecordsMakeRoomFirst) {
  InProcessOriginRegistry r(2);
  ASSERT_TRUE(r.put(id_of(1), 1, kT0 + seconds{5}, kT0));
  ASSERT_TRUE(r.put(id_of(2), 2, kT0 + seconds{60}, kT0));
  ASSERT_TRUE(r.put(id_of(3), 3, kT0 + seconds{70}, kT0 + seconds{6}));  // 1 has expired
  EXPECT_EQ(r.find(id_of(2), kT0 + seconds{6}), 2u);
  EXPECT_EQ(r.find(id_of(3), kT0 + seconds{6}), 3u);
}

TEST(InProcessOriginRegistryTest, OriginZeroIsNotRecorded) {
  InProcessOriginRegistry r(2);
  EXPECT_FALSE(r.put(id_of(1), 0, kT0 + seconds{5}, kT0));
  EXPECT_FALSE(r.find(id_of(1), kT0));
}

}  // namespace
}  // namespace ringftpd::tls
