// server::shared::SessionExport: copies the TLS 1.2 sessions this host's
// workers stored (SharedTlsState's export queue) to Redis, as the second
// level of the session cache ([shared] session_ids, docs/scale-out.md).
//
//   P:tls:session:<session id in hex>  a sealed record (tls/shared_record.hpp):
//                                      origin, expiry, the session's DER
//                                      encrypted; PX = the session's remaining
//                                      lifetime, so Redis forgets it on time.
//
// The other direction, lookups, is SessionImport (session_import.hpp).
//
// Contract: the sharedd process, one thread; blocking RedisLink I/O, at most
// `batch` sessions per drain(). When Redis is down, queued sessions are
// dropped (counted) rather than kept: the queue is bounded and a stale copy
// is of no use.
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

struct ExportRound {
  std::uint32_t stored = 0;
  std::uint32_t dropped = 0;
  std::string error;  // the first failure, if any
};

class SessionExport {
 public:
  // Throws TlsError if the DRBG cannot be seeded.
  SessionExport(std::string prefix, tls::RecordSealer& sealer, tls::SharedTlsState& state);

  // Takes up to `batch` queued sessions; stores them when `redis_up` (the
  // last ticket round reached Redis), drops them otherwise.
  [[nodiscard]] ExportRound drain(RedisLink& redis, bool redis_up, std::uint32_t batch,
                                  tls::SteadyTime now,
                                  std::chrono::system_clock::time_point wall) noexcept;

 private:
  std::string prefix_;
  tls::RecordSealer& sealer_;
  tls::SharedTlsState& state_;
  tls::Random rng_;
  std::vector<std::uint8_t> der_;  // max_session_bytes, wiped after each use
};

// "P:tls:session:0a1b..." for a session id.
[[nodiscard]] std::string session_key(const std::string& prefix, std::span<const std::uint8_t> id);

}  // namespace ringftpd::server::shared
