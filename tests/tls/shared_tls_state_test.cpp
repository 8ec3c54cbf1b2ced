#include "tls/shared_tls_state.hpp"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <csignal>
#include <cstring>
#include <random>
#include <vector>

#include "tests/tls/tls_test_support.hpp"
#include "tls/error.hpp"
#include "tls/shared_tls_state_testing.hpp"
#include "tls/ticket_keys.hpp"

namespace ringftpd::tls {
namespace {

using std::chrono::hours;
using std::chrono::seconds;

const SteadyTime kT0{seconds{1000}};

std::vector<std::uint8_t> id_of(std::uint32_t n, std::size_t size = 32) {
  std::vector<std::uint8_t> id(size, static_cast<std::uint8_t>(n));
  if (size >= 4) std::memcpy(id.data(), &n, 4);
  return id;
}

std::vector<std::uint8_t> bytes(std::size_t size, std::uint8_t fill) {
  return std::vector<std::uint8_t>(size, fill);
}

std::shared_ptr<SharedTlsState> make_state(std::size_t sessions, std::size_t bytes_each = 2048) {
  return SharedTlsState::create(
      SharedTlsOptions{.max_sessions = sessions, .max_session_bytes = bytes_each});
}

// Reads `id`; the data, or empty if nothing was found.
std::vector<std::uint8_t> get(SharedTlsState& state, const std::vector<std::uint8_t>& id,
                              SteadyTime now = kT0, std::uint64_t* origin = nullptr) {
  std::vector<std::uint8_t> out(state.options().max_session_bytes);
  const std::optional<SessionFound> found = state.get_session(id, now, out);
  if (!found) return {};
  if (origin != nullptr) *origin = found->origin;
  out.resize(found->size);
  return out;
}

// Waits for `pid`; its exit code, or 128 + the signal that ended it.
int wait_for(pid_t pid) {
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

TEST(SharedTlsStateTest, RefusesBadOptions) {
  EXPECT_THROW((void)SharedTlsState::create({.max_sessions = 0}), TlsError);
  EXPECT_THROW((void)SharedTlsState::create({.max_session_bytes = 10}), TlsError);
  EXPECT_THROW((void)SharedTlsState::create({.session_lifetime = seconds{0}}), TlsError);
  EXPECT_THROW((void)SharedTlsState::create({.session_lifetime = hours(24 * 8)}), TlsError);
  EXPECT_THROW((void)SharedTlsState::create({.ticket_key_rotation = seconds{0}}), TlsError);
}

TEST(SharedTlsStateTest, LayoutAndStartingState) {
  const auto state = make_state(100);
  EXPECT_EQ(SharedTlsStateTesting::magic(*state), 0x534c544450544652u);  // "RFTPDTLS"
  EXPECT_EQ(SharedTlsStateTesting::probe_window(*state), 8u);
  EXPECT_EQ(state->ticket_key_capacity(), 8u + 2);  // ceil(8 h / 1 h) + 2
  const SharedTlsStats s = state->stats();
  EXPECT_EQ(s.capacity, 100u);
  EXPECT_EQ(s.entries_in_use, 0u);
  EXPECT_EQ(s.ticket_keys_live, 1u);
  EXPECT_EQ(s.rotations, 0u);
  // The ring is capped: one key a minute for 7 days would be 10082 keys.
  const auto capped = SharedTlsState::create(
      {.max_sessions = 1, .session_lifetime = hours(24 * 7), .ticket_key_rotation = seconds{60}});
  EXPECT_EQ(capped->ticket_key_capacity(), 64u);
  EXPECT_EQ(SharedTlsStateTesting::probe_window(*capped), 1u);
}

TEST(SharedTlsStateTest, GetCopiesWhatWasPut) {
  const auto state = make_state(16);
  const std::vector<std::uint8_t> der = {9, 8, 7};
  ASSERT_TRUE(state->put_session(id_of(1), der, 77, kT0 + seconds{10}, kT0));
  std::uint64_t origin = 0;
  EXPECT_EQ(get(*state, id_of(1), kT0, &origin), der);
  EXPECT_EQ(origin, 77u);
  EXPECT_TRUE(get(*state, id_of(2)).empty());
  EXPECT_TRUE(get(*state, id_of(1, 16)).empty());  // a prefix is another id
  const SharedTlsStats s = state->stats();
  EXPECT_EQ(s.stores, 1u);
  EXPECT_EQ(s.hits, 1u);
  EXPECT_EQ(s.misses, 2u);
  EXPECT_EQ(s.entries_in_use, 1u);
}

TEST(SharedTlsStateTest, AnExpiredEntryIsDroppedNotReturned) {
  const auto state = make_state(16);
  ASSERT_TRUE(state->put_session(id_of(1), bytes(100, 1), 5, kT0 + seconds{10}, kT0));
  EXPECT_FALSE(get(*state, id_of(1), kT0 + seconds{9}).empty());
  EXPECT_TRUE(get(*state, id_of(1), kT0 + seconds{10}).empty());
  EXPECT_EQ(state->stats().expired, 1u);
  EXPECT_EQ(state->stats().entries_in_use, 0u);
}

TEST(SharedTlsStateTest, PuttingAnIdAgainReplacesIt) {
  const auto state = make_state(16);
  ASSERT_TRUE(state->put_session(id_of(1), bytes(500, 1), 1, kT0 + seconds{10}, kT0));
  ASSERT_TRUE(state->put_session(id_of(1), bytes(20, 2), 2, kT0 + seconds{10}, kT0));
  std::uint64_t origin = 0;
  EXPECT_EQ(get(*state, id_of(1), kT0, &origin), bytes(20, 2));
  EXPECT_EQ(origin, 2u);
  EXPECT_EQ(state->stats().entries_in_use, 1u);
  EXPECT_EQ(state->stats().evictions, 0u);
}

TEST(SharedTlsStateTest, RemoveForgets) {
  const auto state = make_state(16);
  ASSERT_TRUE(state->put_session(id_of(1), bytes(3, 5), 1, kT0 + seconds{10}, kT0));
  EXPECT_TRUE(state->remove_session(id_of(1)));
  EXPECT_TRUE(get(*state, id_of(1)).empty());
  EXPECT_FALSE(state->remove_session(id_of(1)));  // twice is fine
  EXPECT_EQ(state->stats().entries_in_use, 0u);
}

TEST(SharedTlsStateTest, BoundsOnIdsAndSizes) {
  const auto state = make_state(16, 256);
  const SteadyTime later = kT0 + seconds{60};
  EXPECT_FALSE(state->put_session(id_of(1, 0), bytes(3, 1), 1, later, kT0));
  EXPECT_FALSE(state->put_session(id_of(1, 33), bytes(3, 1), 1, later, kT0));
  EXPECT_FALSE(state->put_session(id_of(1), {}, 1, later, kT0));
  EXPECT_FALSE(state->put_session(id_of(1), bytes(257, 1), 1, later, kT0));  // oversized
  EXPECT_TRUE(state->put_session(id_of(2), bytes(256, 2), 1, later, kT0));   // just fits
  EXPECT_TRUE(state->put_session(id_of(3, 1), bytes(1, 3), 0, later, kT0));  // 1-byte id, unbound
  EXPECT_EQ(get(*state, id_of(2)), bytes(256, 2));
  std::uint64_t origin = 99;
  EXPECT_EQ(get(*state, id_of(3, 1), kT0, &origin), bytes(1, 3));
  EXPECT_EQ(origin, 0u);
  // A buffer too small for the entry: a miss, not a corruption.
  std::vector<std::uint8_t> small(100);
  EXPECT_FALSE(state->get_session(id_of(2), kT0, small));
  EXPECT_EQ(state->stats().corrupt, 0u);
  EXPECT_EQ(state->stats().entries_in_use, 2u);
}

TEST(SharedTlsStateTest, AFullWindowDropsTheExpiredFirstThenTheOldest) {
  const auto state = make_state(4);  // the window is the whole table
  for (std::uint32_t i = 1; i <= 4; ++i) {
    ASSERT_TRUE(state->put_session(id_of(i), bytes(10, 1), i, kT0 + seconds{10 * i}, kT0));
  }
  ASSERT_TRUE(state->put_session(id_of(5), bytes(10, 1), 5, kT0 + seconds{50}, kT0));
  EXPECT_TRUE(get(*state, id_of(1)).empty());  // expired last: the oldest
  EXPECT_EQ(state->stats().evictions, 1u);
  EXPECT_EQ(state->stats().expired, 0u);
  // At kT0 + 25 s, id 2 has expired: it goes first, even if 3 is older than 6.
  ASSERT_TRUE(state->put_session(id_of(6), bytes(10, 1), 6, kT0 + seconds{5}, kT0 + seconds{25}));
  EXPECT_EQ(state->stats().expired, 1u);
  EXPECT_EQ(state->stats().evictions, 1u);
  for (std::uint32_t i : {3u, 4u, 5u}) EXPECT_FALSE(get(*state, id_of(i)).empty()) << i;
  EXPECT_EQ(state->stats().entries_in_use, 4u);
}

TEST(SharedTlsStateTest, NeverHoldsMoreThanItsCapacity) {
  const auto state = make_state(100);
  for (std::uint32_t i = 0; i < 1000; ++i) {
    ASSERT_TRUE(state->put_session(id_of(i), bytes(64 + i % 512, static_cast<std::uint8_t>(i)), i,
                                   kT0 + seconds{1000 + i}, kT0));
  }
  const SharedTlsStats s = state->stats();
  EXPECT_LE(s.entries_in_use, 100u);
  EXPECT_GE(s.entries_in_use, 90u);  // open addressing with a window fills nearly all
  EXPECT_EQ(s.stores, 1000u);
  EXPECT_EQ(s.evictions, 1000u - s.entries_in_use);
  EXPECT_EQ(get(*state, id_of(999)), bytes(64 + 999 % 512, static_cast<std::uint8_t>(999)));
}

TEST(SharedTlsStateTest, ATornEntryFailsItsChecksumAndIsDropped) {
  const auto state = make_state(16);
  ASSERT_TRUE(state->put_session(id_of(1), bytes(300, 7), 1, kT0 + seconds{10}, kT0));
  ASSERT_TRUE(SharedTlsStateTesting::corrupt_session(*state, id_of(1)));
  EXPECT_TRUE(get(*state, id_of(1)).empty());
  EXPECT_EQ(state->stats().corrupt, 1u);
  EXPECT_EQ(state->stats().entries_in_use, 0u);
  EXPECT_TRUE(get(*state, id_of(1)).empty());  // gone, not corrupt again
  EXPECT_EQ(state->stats().corrupt, 1u);
}

// The payload a hammering process stores for (id number, origin): the reader
// recomputes it from what it got back, so any mix-up of two writes shows.
std::vector<std::uint8_t> payload(std::uint32_t n, std::uint64_t origin) {
  std::mt19937_64 gen(origin ^ (std::uint64_t{n} << 40));
  std::vector<std::uint8_t> p(16 + gen() % 900);
  std::memcpy(p.data(), &n, sizeof n);
  std::memcpy(p.data() + 8, &origin, sizeof origin);
  for (std::size_t i = 16; i < p.size(); ++i) p[i] = static_cast<std::uint8_t>(gen());
  return p;
}

TEST(SharedTlsStateTest, FourProcessesHammeringSeeOnlyWholeEntries) {
  const auto state = make_state(512);  // 1024 ids: evictions all along
  constexpr int kProcesses = 4;
  constexpr int kOps = 20000;
  std::vector<pid_t> children;
  for (int p = 0; p < kProcesses; ++p) {
    const pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      std::mt19937 gen(static_cast<unsigned>(p + 1));
      std::vector<std::uint8_t> out(2048);
      int bad = 0;
      for (int op = 0; op < kOps; ++op) {
        const std::uint32_t n = gen() % 1024;
        const SteadyTime now = std::chrono::steady_clock::now();
        if (gen() % 2 == 0) {
          const std::uint64_t origin = (std::uint64_t(p + 1) << 32) | static_cast<unsigned>(op);
          (void)state->put_session(id_of(n), payload(n, origin), origin, now + hours(1), now);
        } else if (const auto found = state->get_session(id_of(n), now, out)) {
          const std::vector<std::uint8_t> want = payload(n, found->origin);
          if (found->size != want.size() ||
              std::memcmp(out.data(), want.data(), want.size()) != 0) {
            ++bad;
          }
        }
      }
      ::_exit(bad == 0 ? 0 : 1);
    }
    children.push_back(pid);
  }
  for (const pid_t pid : children) EXPECT_EQ(wait_for(pid), 0);
  const SharedTlsStats s = state->stats();
  EXPECT_GT(s.hits, 0u);
  EXPECT_GT(s.evictions, 0u);
  EXPECT_EQ(s.corrupt, 0u);
  EXPECT_EQ(s.lock_recoveries, 0u);
  EXPECT_LE(s.entries_in_use, 512u);
}

TEST(SharedTlsStateTest, AWriterKilledHoldingTheLockLeavesNoTornEntry) {
  const auto state = make_state(64);
  const SteadyTime later = kT0 + seconds{60};
  ASSERT_TRUE(state->put_session(id_of(1), bytes(400, 1), 1, later, kT0));  // being replaced
  ASSERT_TRUE(state->put_session(id_of(2), bytes(400, 2), 2, later, kT0));  // a bystander
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    SharedTlsStateTesting::die_while_writing_session(*state, id_of(1), bytes(800, 3), 3, later,
                                                     kT0);
  }
  ASSERT_EQ(wait_for(pid), 128 + SIGKILL);
  // The lock is free again, and the half-written entry is gone, not served.
  EXPECT_TRUE(get(*state, id_of(1)).empty());
  SharedTlsStats s = state->stats();
  EXPECT_EQ(s.lock_recoveries, 1u);
  EXPECT_EQ(s.corrupt, 0u);  // the repair caught it; the checksum had nothing to do
  EXPECT_EQ(s.entries_in_use, 1u);
  EXPECT_EQ(get(*state, id_of(2)), bytes(400, 2));
  ASSERT_TRUE(state->put_session(id_of(1), bytes(800, 4), 4, later, kT0));
  EXPECT_EQ(get(*state, id_of(1)), bytes(800, 4));
  EXPECT_EQ(state->stats().lock_recoveries, 1u);
}

TEST(SharedTlsStateTest, AMasterKilledMidRotationKeepsTheCurrentKey) {
  const auto state = make_state(4);
  TicketKeys keys(state);
  const std::optional<TicketKeys::KeyId> before = keys.current();
  ASSERT_TRUE(before);
  const SteadyTime due = std::chrono::steady_clock::now() + hours(1);
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) SharedTlsStateTesting::die_while_rotating(*state, due);
  ASSERT_EQ(wait_for(pid), 128 + SIGKILL);
  // The next locker repairs; the master's next timer tick, say.
  EXPECT_EQ(state->rotate_ticket_keys_if_due(due - seconds{1}), KeyRotation::NotDue);
  const SharedTlsStats s = state->stats();
  EXPECT_EQ(s.lock_recoveries, 1u);
  EXPECT_EQ(s.ticket_keys_live, 1u);
  EXPECT_EQ(s.rotations, 0u);
  EXPECT_EQ(keys.current(), before);  // the half-made key never became current
  EXPECT_EQ(state->rotate_ticket_keys_if_due(due), KeyRotation::Rotated);
  EXPECT_NE(keys.current(), before);
  EXPECT_EQ(state->stats().ticket_keys_live, 2u);
}

TEST(SharedTlsStateTest, KeysRotateWhenDueAndDropAfterTheLifetime) {
  const auto state = SharedTlsState::create(
      {.max_sessions = 1, .session_lifetime = seconds{600}, .ticket_key_rotation = seconds{60}});
  ASSERT_EQ(state->ticket_key_capacity(), 12u);
  const SteadyTime t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(state->rotate_ticket_keys_if_due(t0), KeyRotation::NotDue);
  SteadyTime t = t0;
  for (int i = 1; i <= 10; ++i) {
    t += seconds{60};
    ASSERT_EQ(state->rotate_ticket_keys_if_due(t), KeyRotation::Rotated) << i;
    EXPECT_EQ(state->rotate_ticket_keys_if_due(t), KeyRotation::NotDue);
  }
  // Retired at t0 + 60 s .. t0 + 600 s, none past its lifetime yet: 11 live.
  EXPECT_EQ(state->stats().ticket_keys_live, 11u);
  EXPECT_EQ(state->stats().rotations, 10u);
  // At t0 + 660 s the first retired key (retired at t0 + 60 s) is dropped.
  t += seconds{60};
  ASSERT_EQ(state->rotate_ticket_keys_if_due(t), KeyRotation::Rotated);
  EXPECT_EQ(state->stats().ticket_keys_live, 11u);  // one in, one out
  // Long idle: everything retired has expired; only the new current key stays.
  ASSERT_EQ(state->rotate_ticket_keys_if_due(t + hours(1)), KeyRotation::Rotated);
  EXPECT_EQ(state->stats().ticket_keys_live, 2u);  // the new one, the one it retired
  EXPECT_EQ(state->rotate_ticket_keys_if_due(t + hours(1) + seconds{30}), KeyRotation::NotDue);
  EXPECT_EQ(state->stats().ticket_keys_live, 2u);
}

TEST(SharedTlsStateTest, AFullRingDropsTheOldestRetiredKeyEarly) {
  // The master rotates every 60 s but the lifetime asks for more keys than the cap.
  const auto state = SharedTlsState::create(
      {.max_sessions = 1, .session_lifetime = hours(24 * 7), .ticket_key_rotation = seconds{60}});
  SteadyTime t = std::chrono::steady_clock::now();
  for (int i = 0; i < 100; ++i) {
    t += seconds{60};
    ASSERT_EQ(state->rotate_ticket_keys_if_due(t), KeyRotation::Rotated);
  }
  EXPECT_EQ(state->stats().ticket_keys_live, 64u);
}

}  // namespace
}  // namespace ringftpd::tls

namespace ringftpd::tls {
namespace {

// metricsd's view: the statistics stay readable, the keys and sessions do
// not (a read faults), and other processes' views are untouched.
TEST(SharedTlsStateTest, AStatisticsOnlyViewCannotReadKeysOrSessions) {
  auto state = make_state(16);
  const auto id = id_of(1);
  ASSERT_TRUE(state->put_session(id, bytes(100, 7), 77, kT0 + seconds{10}, kT0));
  const std::uint64_t stores = state->stats().stores;
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    // The default action, so the fault ends the child by SIGSEGV even under
    // AddressSanitizer (whose handler would report it and abort).
    std::signal(SIGSEGV, SIG_DFL);
    if (!state->restrict_to_statistics()) ::_exit(2);
    if (state->stats().stores != stores) ::_exit(3);  // reading the header still works
    (void)get(*state, id);                            // must fault
    ::_exit(0);
  }
  EXPECT_EQ(wait_for(pid), 128 + SIGSEGV);
  EXPECT_EQ(get(*state, id), bytes(100, 7)) << "the parent's view is untouched";
}

}  // namespace
}  // namespace ringftpd::tls

// [shared]: the export queue and the second-level lookup table.
namespace ringftpd::tls {
namespace {

std::shared_ptr<SharedTlsState> make_shared_state(std::size_t export_slots = 4) {
  return SharedTlsState::create({.max_sessions = 64, .export_slots = export_slots});
}

TEST(SharedTlsStateTest, StoredSessionsAreQueuedForExportBoundedly) {
  const auto state = make_shared_state(2);
  const SteadyTime t = kT0;
  for (std::uint32_t i = 1; i <= 3; ++i) {
    ASSERT_TRUE(state->put_session(id_of(i), bytes(100, static_cast<std::uint8_t>(i)), 7 + i,
                                   t + seconds{60}, t));
  }
  // Sessions fetched from Redis are not sent back there.
  ASSERT_TRUE(state->put_session(id_of(9), bytes(50, 9), 1, t + seconds{60}, t, false));
  EXPECT_EQ(state->stats().exports_dropped, 1u);  // the third: the queue holds two
  std::vector<std::uint8_t> der(state->options().max_session_bytes);
  for (std::uint32_t i = 1; i <= 2; ++i) {
    const auto taken = state->take_exported_session(der);
    ASSERT_TRUE(taken.has_value()) << i;
    EXPECT_EQ(std::vector<std::uint8_t>(taken->id, taken->id + taken->id_len), id_of(i));
    EXPECT_EQ(taken->origin, 7u + i);
    EXPECT_EQ(taken->size, 100u);
    EXPECT_EQ(der[0], i);
    EXPECT_EQ(taken->expires, t + seconds{60});
  }
  EXPECT_FALSE(state->take_exported_session(der).has_value());
  // Without [shared] nothing is queued, nothing counted.
  const auto plain = make_state(8);
  ASSERT_TRUE(plain->put_session(id_of(1), bytes(10, 1), 1, kT0 + seconds{60}, kT0));
  EXPECT_FALSE(plain->take_exported_session(der).has_value());
  EXPECT_EQ(plain->stats().exports_dropped, 0u);
}

TEST(SharedTlsStateTest, ALookupIsTakenAnsweredAndPolled) {
  const auto state = make_shared_state();
  const SteadyTime t = kT0;
  EXPECT_FALSE(state->contains_session(id_of(5), t));
  const std::uint32_t signal = state->lookup_signal();
  const auto ticket = state->request_lookup(id_of(5), t);
  ASSERT_TRUE(ticket.has_value());
  EXPECT_NE(state->lookup_signal(), signal);  // sharedd is woken
  EXPECT_EQ(state->poll_lookup(*ticket), LookupState::Pending);
  std::array<PendingLookup, 8> pending{};
  ASSERT_EQ(state->take_lookups(pending), 1u);
  EXPECT_EQ(state->take_lookups(pending), 0u);  // taken once
  EXPECT_EQ(std::vector<std::uint8_t>(pending[0].id, pending[0].id + pending[0].id_len), id_of(5));
  EXPECT_EQ(state->poll_lookup(*ticket), LookupState::Pending);
  ASSERT_TRUE(state->put_session(id_of(5), bytes(80, 5), 3, t + seconds{60}, t, false));
  state->answer_lookup(pending[0], true);
  EXPECT_TRUE(state->contains_session(id_of(5), t));
  EXPECT_EQ(state->poll_lookup(*ticket), LookupState::Found);
  EXPECT_EQ(state->poll_lookup(*ticket), LookupState::Missing);  // the slot is free again
}

TEST(SharedTlsStateTest, ALateAnswerDoesNotReachANewRequest) {
  const auto state = make_shared_state();
  const SteadyTime t = kT0;
  const auto first = state->request_lookup(id_of(1), t);
  ASSERT_TRUE(first.has_value());
  std::array<PendingLookup, 8> pending{};
  ASSERT_EQ(state->take_lookups(pending), 1u);
  state->cancel_lookup(*first);  // the worker's deadline passed
  const auto second = state->request_lookup(id_of(2), t);
  ASSERT_TRUE(second.has_value());
  EXPECT_EQ(second->index, first->index);
  state->answer_lookup(pending[0], true);  // sharedd answers the first, late
  EXPECT_EQ(state->poll_lookup(*second), LookupState::Pending);
}

TEST(SharedTlsStateTest, TheLookupTableIsBoundedAndForgottenSlotsComeBack) {
  const auto state = make_shared_state();
  const SteadyTime t = kT0;
  for (std::uint32_t i = 0; i < detail::kLookupSlots; ++i) {
    ASSERT_TRUE(state->request_lookup(id_of(i + 1), t).has_value()) << i;
  }
  EXPECT_FALSE(state->request_lookup(id_of(999), t).has_value());
  // A worker that died waiting holds its slot for two seconds at most.
  EXPECT_TRUE(state->request_lookup(id_of(999), t + seconds{3}).has_value());
  // Without [shared] there is no table.
  EXPECT_FALSE(make_state(8)->request_lookup(id_of(1), t).has_value());
}

}  // namespace
}  // namespace ringftpd::tls
