// server/process/address_table: sessions per client address across workers.
#include "server/process/address_table.hpp"

#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <new>
#include <vector>

#include <gtest/gtest.h>

namespace ringftpd::server {
namespace {

AddressKey v4(std::uint8_t a, std::uint8_t b, std::uint8_t c, std::uint8_t d) {
  const auto addr = io::SocketAddress::parse(std::to_string(a) + "." + std::to_string(b) + "." +
                                                 std::to_string(c) + "." + std::to_string(d),
                                             21);
  return address_key(*addr);
}

TEST(AddressKey, Ipv4AndItsMappedIpv6FormAreOneKey) {
  const auto mapped = io::SocketAddress::parse("::ffff:10.1.2.3", 21);
  ASSERT_TRUE(mapped);
  EXPECT_EQ(address_key(*mapped), v4(10, 1, 2, 3));
  const auto six = io::SocketAddress::parse("2001:db8::1", 21);
  ASSERT_TRUE(six);
  EXPECT_NE(address_key(*six), v4(10, 1, 2, 3));
  EXPECT_NE(v4(10, 1, 2, 3), v4(10, 1, 2, 4));
}

TEST(AddressTable, LimitIsSummedOverOwners) {
  AddressTable t(1024);
  const AddressKey a = v4(192, 0, 2, 1);
  EXPECT_EQ(t.admit(a, 3, 100), Admission::Admitted);
  EXPECT_EQ(t.admit(a, 3, 200), Admission::Admitted);
  EXPECT_EQ(t.admit(a, 3, 100), Admission::Admitted);
  EXPECT_EQ(t.admit(a, 3, 200), Admission::OverLimit);
  EXPECT_EQ(t.admit(a, 3, 300), Admission::OverLimit);
  EXPECT_EQ(t.sessions_of(a), 3u);
  // Another address is not affected.
  EXPECT_EQ(t.admit(v4(192, 0, 2, 2), 3, 200), Admission::Admitted);
  EXPECT_EQ(t.stats().sessions, 4u);
  EXPECT_EQ(t.stats().pairs_in_use, 3u);
  // A release makes room again; a release of what an owner never held is ignored.
  EXPECT_FALSE(t.release(a, 300));
  EXPECT_TRUE(t.release(a, 200));
  EXPECT_EQ(t.sessions_of(a), 2u);
  EXPECT_EQ(t.admit(a, 3, 300), Admission::Admitted);
  EXPECT_EQ(t.admit(a, 3, 300), Admission::OverLimit);
}

TEST(AddressTable, PurgeGivesADeadOwnersSessionsBack) {
  AddressTable t(1024);
  const AddressKey a = v4(198, 51, 100, 7);
  for (int i = 0; i < 4; ++i) ASSERT_EQ(t.admit(a, 6, 41), Admission::Admitted);
  for (int i = 0; i < 2; ++i) ASSERT_EQ(t.admit(a, 6, 42), Admission::Admitted);
  ASSERT_EQ(t.admit(v4(198, 51, 100, 8), 6, 41), Admission::Admitted);
  EXPECT_EQ(t.admit(a, 6, 42), Admission::OverLimit);
  EXPECT_EQ(t.purge(41), 5u);
  EXPECT_EQ(t.sessions_of(a), 2u);
  EXPECT_EQ(t.sessions_of(v4(198, 51, 100, 8)), 0u);
  for (int i = 0; i < 4; ++i) EXPECT_EQ(t.admit(a, 6, 43), Admission::Admitted);
  EXPECT_EQ(t.admit(a, 6, 43), Admission::OverLimit);
  EXPECT_EQ(t.purge(41), 0u);
  EXPECT_EQ(t.stats().sessions, 6u);
}

TEST(AddressTable, FullWindowsRefuseAndFreedSlotsAreReused) {
  AddressTable t(AddressTable::kMinSlots);
  ASSERT_EQ(t.slots(), AddressTable::kMinSlots);
  // More distinct addresses than slots: every slot fills, then admissions
  // fail closed, never uncounted.
  std::vector<AddressKey> admitted;
  int refused = 0;
  for (int i = 0; i < 200; ++i) {
    const AddressKey k =
        v4(10, 0, static_cast<std::uint8_t>(i / 256), static_cast<std::uint8_t>(i));
    const Admission r = t.admit(k, 1, 7);
    if (r == Admission::Admitted) {
      admitted.push_back(k);
    } else {
      ASSERT_EQ(r, Admission::TableFull);
      ++refused;
    }
  }
  // Windows are kMaxProbe slots: the first kMaxProbe addresses always fit.
  EXPECT_LE(admitted.size(), AddressTable::kMinSlots);
  EXPECT_GE(admitted.size(), AddressTable::kMaxProbe);
  EXPECT_EQ(refused + static_cast<int>(admitted.size()), 200);
  EXPECT_EQ(t.stats().table_full, static_cast<std::uint64_t>(refused));
  EXPECT_EQ(t.stats().pairs_in_use, admitted.size());
  for (const AddressKey& k : admitted) ASSERT_TRUE(t.release(k, 7));
  EXPECT_EQ(t.stats().sessions, 0u);
  EXPECT_EQ(t.stats().pairs_in_use, 0u);
  EXPECT_EQ(t.admit(v4(10, 9, 9, 9), 1, 7), Admission::Admitted);
}

TEST(AddressTable, SizedFromMaxSessions) {
  EXPECT_EQ(AddressTable::slots_for(4000), 8000u);
  AddressTable t(AddressTable::slots_for(4000));
  EXPECT_EQ(t.slots(), 8192u);
  EXPECT_EQ(t.stats().slots, 8192u);
}

// Two processes race for the same address: together they are admitted
// exactly `limit` times, and every release is seen by the other.
TEST(AddressTable, TwoProcessesNeverExceedTheLimitTogether) {
  AddressTable t(1024);
  const AddressKey a = v4(203, 0, 113, 9);
  constexpr std::uint32_t kLimit = 50;
  constexpr int kRounds = 2000;
  // Per child: how many it holds at the end of the race.
  auto* held = static_cast<std::atomic<int>*>(
      mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0));
  ASSERT_NE(held, MAP_FAILED);
  new (held) std::atomic<int>[3] {};  // [0], [1]: holdings; [2]: start flag
  pid_t kids[2];
  for (int k = 0; k < 2; ++k) {
    kids[k] = fork();
    ASSERT_GE(kids[k], 0);
    if (kids[k] == 0) {
      const pid_t me = getpid();
      while (held[2].load() == 0) {
      }
      int mine = 0;
      // Churn: admit, sometimes release, checking the shared sum each time.
      for (int i = 0; i < kRounds; ++i) {
        if (t.admit(a, kLimit, me) == Admission::Admitted) ++mine;
        if (t.sessions_of(a) > kLimit) _exit(3);
        if (i % 3 == 0 && mine > 0 && t.release(a, me)) --mine;
      }
      held[k].store(mine);
      _exit(0);
    }
  }
  held[2].store(1);
  for (pid_t kid : kids) {
    int status = 0;
    ASSERT_EQ(waitpid(kid, &status, 0), kid);
    ASSERT_TRUE(WIFEXITED(status));
    EXPECT_EQ(WEXITSTATUS(status), 0) << "the sum went over the limit";
  }
  // Both kept admitting after every release, so the table ends full.
  EXPECT_EQ(held[0].load() + held[1].load(), static_cast<int>(kLimit));
  EXPECT_EQ(t.sessions_of(a), kLimit);
  // Both are gone: the master purges them and the address is free again.
  EXPECT_EQ(t.purge(kids[0]) + t.purge(kids[1]), kLimit);
  EXPECT_EQ(t.sessions_of(a), 0u);
  EXPECT_EQ(t.admit(a, kLimit, 1), Admission::Admitted);
  munmap(held, 4096);
}

// A process killed while holding the table's lock does not wedge the others.
TEST(AddressTable, LockOfAKilledProcessIsTakenOver) {
  AddressTable t(1024);
  const AddressKey a = v4(203, 0, 113, 10);
  // Each child hammers the table until it is killed, often inside the lock.
  for (int round = 0; round < 5; ++round) {
    const pid_t kid = fork();
    ASSERT_GE(kid, 0);
    if (kid == 0) {
      for (;;) {
        if (t.admit(a, 1'000'000, getpid()) == Admission::Admitted) (void)t.release(a, getpid());
      }
    }
    usleep(20'000);
    kill(kid, SIGKILL);
    int status = 0;
    ASSERT_EQ(waitpid(kid, &status, 0), kid);
    t.purge(kid);
  }
  EXPECT_EQ(t.admit(a, 1, getpid()), Admission::Admitted);
  EXPECT_EQ(t.sessions_of(a), 1u);
}

}  // namespace
}  // namespace ringftpd::server
