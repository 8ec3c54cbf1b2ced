// server/process/user_limits: per-user sessions and buckets, per-listener
// buckets, shared by every worker.
#include "server/process/user_limits.hpp"

#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

namespace ringftpd::server {
namespace {

TEST(UserKey, DistinctNamesDistinctKeys) {
  EXPECT_EQ(user_key("alice"), user_key("alice"));
  EXPECT_NE(user_key("alice"), user_key("alicf"));
  EXPECT_NE(user_key("alice"), user_key("Alice"));
  EXPECT_NE(user_key(""), user_key("a"));
}

TEST(UserLimits, MaxSessionsIsSummedOverWorkersAndReleased) {
  UserLimits l(100);
  const UserKey alice = user_key("alice");
  const UserKey bob = user_key("bob");
  EXPECT_EQ(l.admit(alice, 2, 100), UserAdmission::Admitted);
  EXPECT_EQ(l.admit(alice, 2, 200), UserAdmission::Admitted);
  EXPECT_EQ(l.admit(alice, 2, 100), UserAdmission::OverLimit);
  EXPECT_EQ(l.admit(bob, 2, 100), UserAdmission::Admitted);  // another user is not affected
  EXPECT_EQ(l.sessions_of(alice), 2u);
  EXPECT_TRUE(l.release(alice, 200));
  EXPECT_FALSE(l.release(alice, 200));  // it held only one
  EXPECT_EQ(l.admit(alice, 2, 300), UserAdmission::Admitted);
  EXPECT_EQ(l.sessions_of(alice), 2u);
}

TEST(UserLimits, ZeroMeansUnlimitedButCounted) {
  UserLimits l(100);
  const UserKey carol = user_key("carol");
  for (int i = 0; i < 50; ++i) EXPECT_EQ(l.admit(carol, 0, 100), UserAdmission::Admitted);
  EXPECT_EQ(l.sessions_of(carol), 50u);
  // A reload that sets a limit sees the sessions already open.
  EXPECT_EQ(l.admit(carol, 10, 100), UserAdmission::OverLimit);
}

TEST(UserLimits, PurgeGivesADeadWorkersLoginsBack) {
  UserLimits l(100);
  const UserKey alice = user_key("alice");
  const UserKey bob = user_key("bob");
  EXPECT_EQ(l.admit(alice, 2, 100), UserAdmission::Admitted);
  EXPECT_EQ(l.admit(alice, 2, 100), UserAdmission::Admitted);
  EXPECT_EQ(l.admit(bob, 5, 100), UserAdmission::Admitted);
  EXPECT_EQ(l.admit(bob, 5, 200), UserAdmission::Admitted);
  EXPECT_EQ(l.admit(alice, 2, 200), UserAdmission::OverLimit);
  EXPECT_EQ(l.purge(100), 3u);
  EXPECT_EQ(l.sessions_of(alice), 0u);
  EXPECT_EQ(l.sessions_of(bob), 1u);  // worker 200's login stays
  EXPECT_EQ(l.admit(alice, 2, 200), UserAdmission::Admitted);
  EXPECT_EQ(l.purge(100), 0u);
}

TEST(UserLimits, SeatReleasesOnceWhenItEnds) {
  UserLimits l(100);
  const UserKey alice = user_key("alice");
  ASSERT_EQ(l.admit(alice, 1, 100), UserAdmission::Admitted);
  {
    UserSeat seat(l, alice, 100);
    EXPECT_TRUE(seat.is_held());
    UserSeat moved = std::move(seat);
    EXPECT_FALSE(seat.is_held());  // NOLINT(bugprone-use-after-move): the point
    EXPECT_EQ(l.admit(alice, 1, 100), UserAdmission::OverLimit);
  }
  EXPECT_EQ(l.sessions_of(alice), 0u);
  ASSERT_EQ(l.admit(alice, 1, 100), UserAdmission::Admitted);
  UserSeat seat(l, alice, 100);
  seat.reset();  // REIN
  seat.reset();
  EXPECT_EQ(l.sessions_of(alice), 0u);
}

TEST(UserLimits, OneBucketPerUserWhoeverAsks) {
  UserLimits l(100);
  SharedBucket* a1 = l.user_bucket(user_key("alice"), 1000);
  SharedBucket* a2 = l.user_bucket(user_key("alice"), 2000);
  SharedBucket* b = l.user_bucket(user_key("bob"), 1000);
  ASSERT_NE(a1, nullptr);
  EXPECT_EQ(a1, a2);
  EXPECT_NE(a1, b);
  EXPECT_EQ(a1->rate(), 2000u);  // the latest (a reload) wins
}

TEST(UserLimits, BucketsAreSharedWithAForkedWorker) {
  UserLimits l(100);
  SharedBucket* mine = l.user_bucket(user_key("alice"), 1'000'000);
  ASSERT_NE(mine, nullptr);
  const auto now = SharedBucket::Clock::now();
  ASSERT_EQ(mine->available(now), 100'000u);
  const pid_t kid = fork();
  ASSERT_GE(kid, 0);
  if (kid == 0) {
    SharedBucket* theirs = l.user_bucket(user_key("alice"), 1'000'000);
    if (theirs != mine) _exit(2);  // the mapping is at the same address after fork
    theirs->spend(100'000);
    if (l.admit(user_key("alice"), 1, getpid()) != UserAdmission::Admitted) _exit(3);
    _exit(0);  // dies holding the login
  }
  int status = 0;
  ASSERT_EQ(waitpid(kid, &status, 0), kid);
  ASSERT_TRUE(WIFEXITED(status));
  ASSERT_EQ(WEXITSTATUS(status), 0);
  EXPECT_LT(mine->available(now), 100'000u);  // the child's spend is seen here
  EXPECT_EQ(l.admit(user_key("alice"), 1, getpid()), UserAdmission::OverLimit);
  EXPECT_EQ(l.purge(kid), 1u);
  EXPECT_EQ(l.admit(user_key("alice"), 1, getpid()), UserAdmission::Admitted);
}

TEST(UserLimits, ListenerBucketsByIndex) {
  UserLimits l(100);
  SharedBucket* first = l.listener_bucket(0, 5000);
  ASSERT_NE(first, nullptr);
  EXPECT_EQ(first->rate(), 5000u);
  EXPECT_NE(l.listener_bucket(1, 5000), first);
  EXPECT_EQ(l.listener_bucket(0, 7000), first);
  EXPECT_EQ(first->rate(), 7000u);
  EXPECT_EQ(l.listener_bucket(config::kMaxListeners, 5000), nullptr);
}

TEST(UserLimits, AFullWindowRefusesABucketNeverHandsOutAnother) {
  UserLimits l(1);  // the minimum: kMinBucketSlots
  EXPECT_EQ(l.bucket_slots(), UserLimits::kMinBucketSlots);
  // Far more users than slots: every one either gets its own bucket or none.
  int refused = 0;
  for (int i = 0; i < 3000; ++i) {
    const UserKey k = user_key("user" + std::to_string(i));
    SharedBucket* b = l.user_bucket(k, 1000 + i);
    if (b == nullptr) {
      ++refused;
      continue;
    }
    EXPECT_EQ(b->rate(), static_cast<std::uint64_t>(1000 + i));
    EXPECT_EQ(l.user_bucket(k, 1000 + i), b);
  }
  EXPECT_GE(refused, 3000 - static_cast<int>(UserLimits::kMinBucketSlots));
}

}  // namespace
}  // namespace ringftpd::server
