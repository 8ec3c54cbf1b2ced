#include "tls/session_store.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <vector>

namespace ringftpd::tls {
namespace {

using std::chrono::seconds;

const SteadyTime kT0{seconds{1000}};

std::vector<std::uint8_t> id_of(std::uint8_t n, std::size_t size = 32) {
  return std::vector<std::uint8_t>(size, n);
}

TEST(InProcessSessionStoreTest, GetCopiesWhatWasPut) {
  InProcessSessionStore store(4);
  const std::vector<std::uint8_t> der = {9, 8, 7};
  ASSERT_TRUE(store.put(id_of(1), der, 77, kT0 + seconds{10}, kT0));
  std::vector<std::uint8_t> out;
  EXPECT_EQ(store.get(id_of(1), kT0, out), 77u);
  EXPECT_EQ(out, der);
  EXPECT_FALSE(store.get(id_of(2), kT0, out));
  EXPECT_FALSE(store.get(id_of(1, 16), kT0, out));  // a prefix is another id
  EXPECT_FALSE(store.get(id_of(1), kT0 + seconds{10}, out));
}

TEST(InProcessSessionStoreTest, RemoveForgets) {
  InProcessSessionStore store(4);
  ASSERT_TRUE(store.put(id_of(1), id_of(5, 3), 1, kT0 + seconds{10}, kT0));
  store.remove(id_of(1));
  std::vector<std::uint8_t> out;
  EXPECT_FALSE(store.get(id_of(1), kT0, out));
  store.remove(id_of(1));  // twice is fine
}

TEST(InProcessSessionStoreTest, EvictsTheOldestWhenFull) {
  InProcessSessionStore store(2);
  for (std::uint8_t i = 1; i <= 3; ++i) {
    ASSERT_TRUE(store.put(id_of(i), id_of(i, 3), i, kT0 + seconds{60}, kT0));
  }
  EXPECT_EQ(store.size(), 2u);
  std::vector<std::uint8_t> out;
  EXPECT_FALSE(store.get(id_of(1), kT0, out));
  EXPECT_EQ(store.get(id_of(3), kT0, out), 3u);
}

TEST(InProcessSessionStoreTest, RefusesBadIdsAndEmptySessions) {
  InProcessSessionStore store(4);
  EXPECT_FALSE(store.put(id_of(1, 0), id_of(1, 3), 1, kT0 + seconds{60}, kT0));
  EXPECT_FALSE(store.put(id_of(1, 33), id_of(1, 3), 1, kT0 + seconds{60}, kT0));
  EXPECT_FALSE(store.put(id_of(1), {}, 1, kT0 + seconds{60}, kT0));
  EXPECT_TRUE(store.put(id_of(1, 1), id_of(1, 3), 1, kT0 + seconds{60}, kT0));
  EXPECT_TRUE(store.put(id_of(2), id_of(2, 3), 0, kT0 + seconds{60}, kT0));  // unbound
  std::vector<std::uint8_t> out;
  EXPECT_EQ(store.get(id_of(2), kT0, out), 0u);
  EXPECT_EQ(store.size(), 2u);
}

}  // namespace
}  // namespace ringftpd::tls
