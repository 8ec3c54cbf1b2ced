#include "server/shared/session_export.hpp"

#include <string.h>  // explicit_bzero

#include <array>

namespace ringftpd::server::shared {

std::string session_key(const std::string& prefix, std::span<const std::uint8_t> id) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string key = prefix + ":tls:session:";
  for (std::uint8_t b : id) {
    key.push_back(kHex[b >> 4]);
    key.push_back(kHex[b & 15]);
  }
  return key;
}

SessionExport::SessionExport(std::string prefix, tls::RecordSealer& sealer,
                             tls::SharedTlsState& state)
    : prefix_(std::move(prefix)),
      sealer_(sealer),
      state_(state),
      der_(state.options().max_session_bytes) {}

ExportRound SessionExport::drain(RedisLink& redis, bool redis_up, std::uint32_t batch,
                                 tls::SteadyTime now,
                                 std::chrono::system_clock::time_point wall) noexcept {
  ExportRound round;
  for (std::uint32_t i = 0; i < batch; ++i) {
    const auto taken = state_.take_exported_session(der_);
    if (!taken) break;
    const auto ttl =
        std::chrono::duration_cast<std::chrono::milliseconds>(taken->expires - now).count();
    bool stored = false;
    if (redis_up && ttl > 0) {
      try {
        tls::SharedSession session;
        session.origin = taken->origin;
        session.expires_unix_ms =
            std::chrono::duration_cast<std::chrono::milliseconds>(wall.time_since_epoch()).count() +
            ttl;
        session.der.assign(der_.begin(), der_.begin() + static_cast<std::ptrdiff_t>(taken->size));
        const std::string key =
            session_key(prefix_, std::span<const std::uint8_t>(taken->id, taken->id_len));
        std::array<std::uint8_t, 12> nonce{};
        if (rng_.fill(nonce)) {
          auto record = sealer_.seal_session(session, key, nonce);
          if (record) {
            const std::string_view bytes(reinterpret_cast<const char*>(record->data()),
                                         record->size());
            Reply r = redis.command({"SET", key, bytes, "PX", std::to_string(ttl)});
            stored = r && r->type == REDIS_REPLY_STATUS;
            if (!stored && round.error.empty()) {
              round.error = r ? std::string(reply_text(*r)) : redis.error();
            }
            if (!r) redis_up = false;  // the link dropped: the rest of the batch is dropped
            explicit_bzero(record->data(), record->size());
          }
        }
        explicit_bzero(session.der.data(), session.der.size());
      } catch (...) {  // bad_alloc: this one is dropped
      }
    }
    explicit_bzero(der_.data(), taken->size);
    ++(stored ? round.stored : round.dropped);
  }
  return round;
}

}  // namespace ringftpd::server::shared
