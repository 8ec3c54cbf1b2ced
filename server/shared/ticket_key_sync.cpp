#include "server/shared/ticket_key_sync.hpp"

#include <string.h>  // explicit_bzero

#include <algorithm>
#include <array>
#include <cstdio>

namespace ringftpd::server::shared {
namespace {

// Renews the lease only for its holder (compare and PEXPIRE, atomically).
constexpr std::string_view kRenewScript =
    "if redis.call('GET', KEYS[1]) == ARGV[1] then "
    "return redis.call('PEXPIRE', KEYS[1], ARGV[2]) else return 0 end";

// A hash with more fields than this is not ours alone: read no further.
constexpr std::size_t kMaxRecords = 256;
// Rejected fields named in one round's log line.
constexpr std::size_t kMaxNamedRejects = 4;

std::string_view why_text(tls::RecordError e) {
  switch (e) {
    case tls::RecordError::Malformed:
      return "malformed";
    case tls::RecordError::Version:
      return "unknown version";
    case tls::RecordError::Mac:
      return "MAC mismatch";
    case tls::RecordError::Crypto:
      return "crypto failure";
  }
  return "?";
}

}  // namespace

std::string ticket_key_field(std::uint32_t id) {
  char buf[9];
  std::snprintf(buf, sizeof buf, "%08x", id);
  return buf;
}

TicketKeySync::TicketKeySync(TicketKeySyncOptions options, tls::RecordSealer& sealer,
                             tls::SharedTlsState& state)
    : options_(std::move(options)),
      sealer_(sealer),
      state_(state),
      keys_key_(options_.prefix + ":tls:ticket-keys"),
      lease_key_(options_.prefix + ":tls:ticket-lease") {}

bool TicketKeySync::take_lease(RedisLink& redis, SyncRound& round) noexcept {
  const std::string px = std::to_string(options_.lease.count());
  Reply r = redis.command({"SET", lease_key_, options_.holder, "NX", "PX", px});
  if (!r) return false;
  if (r->type == REDIS_REPLY_STATUS && reply_text(*r) == "OK") {
    round.lease_won = true;
    leader_ = true;
    return true;
  }
  if (r->type == REDIS_REPLY_ERROR) {
    round.error = "SET " + lease_key_ + ": " + std::string(reply_text(*r));
    return false;
  }
  r = redis.command({"EVAL", kRenewScript, "1", lease_key_, options_.holder, px});
  if (!r) return false;
  if (r->type == REDIS_REPLY_ERROR) {
    round.error = "EVAL (lease renewal): " + std::string(reply_text(*r));
    return false;
  }
  leader_ = r->type == REDIS_REPLY_INTEGER && r->integer == 1;
  return true;
}

bool TicketKeySync::read_keys(RedisLink& redis, std::vector<tls::SharedTicketKey>& out,
                              SyncRound& round) noexcept {
  Reply r = redis.command({"HGETALL", keys_key_});
  if (!r) return false;
  if (r->type != REDIS_REPLY_ARRAY) {
    round.error = "HGETALL " + keys_key_ + ": " +
                  (r->type == REDIS_REPLY_ERROR ? std::string(reply_text(*r)) : "not an array");
    return false;
  }
  const std::size_t pairs = std::min(r->elements / 2, kMaxRecords);
  try {
    out.reserve(pairs);
    for (std::size_t i = 0; i < pairs; ++i) {
      const redisReply* field = r->element[2 * i];
      const redisReply* value = r->element[2 * i + 1];
      const std::string_view name = reply_text(*field);
      tls::SharedTicketKey key;
      tls::RecordError why = tls::RecordError::Malformed;
      const std::span<const std::uint8_t> bytes(reinterpret_cast<const std::uint8_t*>(value->str),
                                                value->type == REDIS_REPLY_STRING ? value->len : 0);
      const std::string bound = keys_key_ + "/" + std::string(name);
      bool ok = value->type == REDIS_REPLY_STRING && sealer_.open_key(bytes, bound, key, why);
      // The field must name the record's own id: no record answers for another.
      if (ok && ticket_key_field(key.id) != name) {
        ok = false;
        why = tls::RecordError::Malformed;
      }
      if (ok) {
        out.push_back(key);
        ++round.valid;
      } else {
        ++round.rejected;
        if (round.rejected_fields.size() < kMaxNamedRejects) {
          std::string shown(name.substr(0, 32));
          for (char& c : shown) {
            if (c < 0x21 || c > 0x7e) c = '?';  // never raw bytes into the log
          }
          round.rejected_fields.push_back(shown + " (" + std::string(why_text(why)) + ")");
        }
      }
      explicit_bzero(&key, sizeof key);
    }
    if (r->elements / 2 > kMaxRecords) {
      round.rejected += static_cast<std::uint32_t>(r->elements / 2 - kMaxRecords);
    }
  } catch (...) {  // bad_alloc
    round.error = "out of memory";
    return false;
  }
  return true;
}

bool TicketKeySync::lead_round(RedisLink& redis, std::int64_t wall_ms,
                               std::vector<tls::SharedTicketKey>& keys, SyncRound& round) noexcept {
  std::sort(keys.begin(), keys.end(), [](const auto& a, const auto& b) {
    return a.not_before_unix_ms < b.not_before_unix_ms;
  });
  const std::int64_t rotation = options_.rotation.count();
  const std::int64_t lead = std::min<std::int64_t>(options_.lead.count(), rotation / 2);
  // Prune: a key whose successor began a lifetime ago opens no live ticket.
  for (std::size_t i = 0; i + 1 < keys.size(); ++i) {
    if (keys[i + 1].not_before_unix_ms + options_.lifetime.count() >= wall_ms) continue;
    Reply r = redis.command({"HDEL", keys_key_, ticket_key_field(keys[i].id)});
    if (!r) return false;
    if (r->type == REDIS_REPLY_INTEGER && r->integer == 1) ++round.pruned;
  }
  const bool due = keys.empty() || wall_ms + lead >= keys.back().not_before_unix_ms + rotation;
  if (!due) return true;
  tls::SharedTicketKey fresh;
  std::array<std::uint8_t, 12> nonce{};
  std::uint8_t id_bytes[4];
  bool drawn = rng_.fill(fresh.aes_key) && rng_.fill(fresh.mask_key) && rng_.fill(nonce);
  for (int tries = 0; drawn && fresh.id == 0 && tries < 8; ++tries) {
    drawn = rng_.fill(id_bytes);
    const std::uint32_t id = (std::uint32_t{id_bytes[0]} << 24) |
                             (std::uint32_t{id_bytes[1]} << 16) |
                             (std::uint32_t{id_bytes[2]} << 8) | id_bytes[3];
    const bool taken = std::any_of(keys.begin(), keys.end(), [id](auto& k) { return k.id == id; });
    if (id != 0 && !taken) fresh.id = id;
  }
  bool ok = true;
  if (drawn && fresh.id != 0) {
    fresh.not_before_unix_ms = wall_ms + lead;
    const std::string field = ticket_key_field(fresh.id);
    auto record = sealer_.seal_key(fresh, keys_key_ + "/" + field, nonce);
    if (record) {
      const std::string_view bytes(reinterpret_cast<const char*>(record->data()), record->size());
      Reply r = redis.command({"HSETNX", keys_key_, field, bytes});
      ok = r != nullptr;
      if (r && r->type == REDIS_REPLY_INTEGER && r->integer == 1) {
        keys.push_back(fresh);
        ++round.published;
      } else if (r && r->type == REDIS_REPLY_ERROR) {
        round.error = "HSETNX " + keys_key_ + ": " + std::string(reply_text(*r));
        ok = false;
      }
      explicit_bzero(record->data(), record->size());
    }
  }
  explicit_bzero(&fresh, sizeof fresh);
  return ok;
}

SyncRound TicketKeySync::run(RedisLink& redis, tls::SteadyTime now,
                             std::chrono::system_clock::time_point wall) noexcept {
  SyncRound round;
  const std::int64_t wall_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(wall.time_since_epoch()).count();
  std::vector<tls::SharedTicketKey> keys;
  const bool ok = take_lease(redis, round) && read_keys(redis, keys, round) &&
                  (!leader_ || lead_round(redis, wall_ms, keys, round));
  round.leader = leader_;
  if (!ok) {
    if (round.error.empty()) round.error = redis.error();
    leader_ = false;  // it will have to take the lease again
  } else {
    round.ok = true;
    const auto added = state_.adopt_ticket_keys(keys, now, wall, now + options_.hold);
    if (added) {
      round.picked = *added;
    } else {
      round.adopt_failed = true;
    }
  }
  if (!keys.empty()) explicit_bzero(keys.data(), keys.size() * sizeof keys.front());
  return round;
}

}  // namespace ringftpd::server::shared
