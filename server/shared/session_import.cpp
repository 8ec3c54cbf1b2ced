#include "server/shared/session_import.hpp"

#include <string.h>  // explicit_bzero

#include <array>

#include "server/shared/session_export.hpp"

namespace ringftpd::server::shared {
namespace {
// Lookups taken per call: the table holds kLookupSlots.
constexpr std::size_t kBatch = tls::detail::kLookupSlots;
}  // namespace

SessionImport::SessionImport(std::string prefix, tls::RecordSealer& sealer,
                             tls::SharedTlsState& state)
    : prefix_(std::move(prefix)), sealer_(sealer), state_(state) {}

bool SessionImport::fetch(RedisLink& redis, const tls::PendingLookup& lookup, tls::SteadyTime now,
                          std::int64_t wall_ms, ImportRound& round) noexcept {
  try {
    const std::span<const std::uint8_t> id(lookup.id, lookup.id_len);
    const std::string key = session_key(prefix_, id);
    Reply r = redis.command({"GET", key});
    if (!r) {
      if (round.error.empty()) round.error = redis.error();
      return false;
    }
    if (r->type != REDIS_REPLY_STRING) return false;  // nil: not there (or expired)
    tls::SharedSession session;
    tls::RecordError why{};
    const std::span<const std::uint8_t> bytes(reinterpret_cast<const std::uint8_t*>(r->str),
                                              r->len);
    if (!sealer_.open_session(bytes, key, session, why)) {
      ++round.rejected;
      return false;
    }
    const std::int64_t left_ms = session.expires_unix_ms - wall_ms;
    bool stored = false;
    if (left_ms > 0 && session.der.size() <= state_.options().max_session_bytes) {
      stored = state_.put_session(id, session.der, session.origin,
                                  now + std::chrono::milliseconds(left_ms), now,
                                  /*queue_export=*/false);
    }
    explicit_bzero(session.der.data(), session.der.size());
    return stored;
  } catch (...) {  // bad_alloc: a miss
    return false;
  }
}

ImportRound SessionImport::serve(RedisLink& redis, bool redis_up, tls::SteadyTime now,
                                 std::chrono::system_clock::time_point wall) noexcept {
  ImportRound round;
  std::array<tls::PendingLookup, kBatch> pending{};
  const std::size_t n = state_.take_lookups(pending);
  const std::int64_t wall_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(wall.time_since_epoch()).count();
  for (std::size_t i = 0; i < n; ++i) {
    const bool found = redis_up && fetch(redis, pending[i], now, wall_ms, round);
    if (!redis.is_connected()) redis_up = false;  // the rest are answered at once
    state_.answer_lookup(pending[i], found);
    ++(found ? round.found : round.missing);
  }
  return round;
}

}  // namespace ringftpd::server::shared
