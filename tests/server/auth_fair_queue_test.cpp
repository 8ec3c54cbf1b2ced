#include "server/auth/fair_queue.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace ringftpd::server::auth {
namespace {

std::vector<std::string> drain(FairQueue<std::string>& q) {
  std::vector<std::string> out;
  while (!q.empty()) {
    out.push_back(q.front());
    q.pop();
  }
  return out;
}

TEST(AuthFairQueue, ServesClientsRoundRobinEachInOrder) {
  FairQueue<std::string> q;
  EXPECT_TRUE(q.empty());
  for (const char* s : {"a1", "a2", "a3", "a4"}) q.emplace(1) = s;
  q.emplace(2) = "b1";
  q.emplace(3) = "c1";
  q.emplace(3) = "c2";
  EXPECT_EQ(q.size(), 7u);
  EXPECT_EQ(drain(q), (std::vector<std::string>{"a1", "b1", "c1", "a2", "c2", "a3", "a4"}));
  EXPECT_EQ(q.size(), 0u);
}

TEST(AuthFairQueue, DropRemovesOneClientAndSeesEachItem) {
  FairQueue<std::string> q;
  q.emplace(1) = "a1";
  q.emplace(2) = "b1";
  q.emplace(1) = "a2";
  std::vector<std::string> seen;
  q.drop(1, [&](std::string& s) { seen.push_back(s); });
  q.drop(9, [&](std::string& s) { seen.push_back(s); });  // unknown: nothing
  EXPECT_EQ(seen, (std::vector<std::string>{"a1", "a2"}));
  EXPECT_EQ(drain(q), std::vector<std::string>{"b1"});
  q.emplace(1) = "a3";  // a dropped client may come back
  EXPECT_EQ(drain(q), std::vector<std::string>{"a3"});
}

}  // namespace
}  // namespace ringftpd::server::auth
