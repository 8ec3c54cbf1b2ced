// server::shared::TicketKeySync: the session ticket keys of a cluster of
// hosts, kept in Redis and followed by every host, so that each host opens
// every host's tickets (and the origin binding inside them holds anywhere).
//
// Keys in Redis (P = shared.key_prefix):
//   P:tls:ticket-keys   a hash: field = the key id in 8 hex digits, value =
//                       a sealed record (tls/shared_record.hpp): id,
//                       not_before (Unix ms), the AES and mask keys
//                       encrypted, a version and an HMAC-SHA256.
//   P:tls:ticket-lease  a string with a PX expiry: who rotates (the holder
//                       is "hostname/pid/random").
//
// One round (run(), once a second from sharedd):
//   1. The lease: SET NX PX takes it when free; the holder renews it with a
//      compare-and-PEXPIRE script. Whoever holds it is the leader.
//   2. Every record is read and opened; one that does not parse, has
//      another version, fails its MAC, or sits under a field that is not its
//      id is ignored, counted and logged (by field, never by content).
//   3. The leader publishes a new key when the newest one is due for
//      rotation ([tls] ticket_key_rotation_seconds), with a not_before `lead`
//      in the future, so that every host holds it before anyone seals with it;
//      and deletes keys whose successor began more than a session lifetime ago.
//   4. Every host adopts the valid keys into its shared memory ring
//      (SharedTlsState::adopt_ticket_keys), which the workers read; its own
//      rotation is held off while rounds keep succeeding.
// If Redis cannot be reached, the round fails and nothing changes: the ring
// keeps its keys, and once the hold lapses the master rotates locally again.
// Tickets then open only on the host that sealed them, until Redis is back.
//
// Two leaders at once (a lease that expired under a stalled holder) publish
// two keys; both are adopted everywhere, the newest seals. Harmless.
//
// Contract: the sharedd process, one thread. Blocking I/O through RedisLink
// (bounded by its timeout). noexcept after construction.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "server/shared/redis_link.hpp"
#include "tls/random.hpp"
#include "tls/shared_record.hpp"
#include "tls/shared_tls_state.hpp"

namespace ringftpd::server::shared {

struct TicketKeySyncOptions {
  std::string prefix = "ringftpd";
  std::string holder;  // this helper's lease value: unique per process
  std::chrono::milliseconds rotation{std::chrono::hours(1)};
  std::chrono::milliseconds lifetime{std::chrono::hours(8)};
  std::chrono::milliseconds lease{5000};  // > 2 rounds: a live leader keeps it
  std::chrono::milliseconds lead{3000};   // a new key's not_before - now (capped at rotation / 2)
  std::chrono::milliseconds hold{5000};   // local rotation waits this long after a round
};

// What one round did, for counters and the log.
struct SyncRound {
  bool ok = false;                           // Redis answered every command
  std::string error;                         // when !ok
  bool leader = false;                       // holds the lease after this round
  bool lease_won = false;                    // took the lease this round (it was free)
  std::uint32_t valid = 0;                   // records that opened
  std::uint32_t rejected = 0;                // records ignored
  std::vector<std::string> rejected_fields;  // their fields and why (at most a few)
  std::uint32_t published = 0;               // keys this host added (leader)
  std::uint32_t pruned = 0;                  // keys this host deleted (leader)
  std::uint32_t picked = 0;                  // keys new to this host's ring
  bool adopt_failed = false;                 // the shared memory lock failed
};

class TicketKeySync {
 public:
  // Throws TlsError if the DRBG cannot be seeded.
  TicketKeySync(TicketKeySyncOptions options, tls::RecordSealer& sealer,
                tls::SharedTlsState& state);

  [[nodiscard]] SyncRound run(RedisLink& redis, tls::SteadyTime now,
                              std::chrono::system_clock::time_point wall) noexcept;

  [[nodiscard]] const std::string& keys_key() const noexcept { return keys_key_; }
  [[nodiscard]] const std::string& lease_key() const noexcept { return lease_key_; }

 private:
  [[nodiscard]] bool take_lease(RedisLink& redis, SyncRound& round) noexcept;
  [[nodiscard]] bool read_keys(RedisLink& redis, std::vector<tls::SharedTicketKey>& out,
                               SyncRound& round) noexcept;
  [[nodiscard]] bool lead_round(RedisLink& redis, std::int64_t wall_ms,
                                std::vector<tls::SharedTicketKey>& keys, SyncRound& round) noexcept;

  TicketKeySyncOptions options_;
  tls::RecordSealer& sealer_;
  tls::SharedTlsState& state_;
  tls::Random rng_;
  std::string keys_key_;
  std::string lease_key_;
  bool leader_ = false;
};

// The hash field of key `id`: 8 lower-case hex digits.
[[nodiscard]] std::string ticket_key_field(std::uint32_t id);

}  // namespace ringftpd::server::shared
