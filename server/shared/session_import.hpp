// server::shared::SessionImport: answers the workers' second-level lookups
// (SharedTlsState::request_lookup): fetches P:tls:session:<id> from Redis,
// opens the sealed record (session_export.hpp wrote it, on whichever host),
// and stores the session in this host's shared cache, where wolfSSL's
// synchronous lookup on the worker finds it once the worker feeds it the
// ClientHello it held back.
//
// Contract: the sharedd process, one thread; blocking RedisLink I/O (one GET
// per lookup). A record that fails to open is a miss, counted as rejected.
// When Redis is down every lookup is answered "missing" at once, so no
// worker waits for its deadline.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "server/shared/redis_link.hpp"
#include "tls/shared_record.hpp"
#include "tls/shared_tls_state.hpp"

namespace ringftpd::server::shared {

struct ImportRound {
  std::uint32_t found = 0;
  std::uint32_t missing = 0;
  std::uint32_t rejected = 0;  // records that did not open
  std::string error;           // the first Redis failure, if any
};

class SessionImport {
 public:
  SessionImport(std::string prefix, tls::RecordSealer& sealer, tls::SharedTlsState& state);

  [[nodiscard]] ImportRound serve(RedisLink& redis, bool redis_up, tls::SteadyTime now,
                                  std::chrono::system_clock::time_point wall) noexcept;

 private:
  [[nodiscard]] bool fetch(RedisLink& redis, const tls::PendingLookup& lookup, tls::SteadyTime now,
                           std::int64_t wall_ms, ImportRound& round) noexcept;

  std::string prefix_;
  tls::RecordSealer& sealer_;
  tls::SharedTlsState& state_;
};

}  // namespace ringftpd::server::shared
