// Two tls::Sessions wired back to back through memory: for tests, benchmarks
// and a load generator's self-check. No sockets, no clock.
#pragma once

#include <cstddef>

#include "tls/session.hpp"

namespace ringftpd::tls {

// Moves all of `from`'s pending ciphertext into `to`; returns the byte count.
std::size_t pump(Session& from, Session& to) noexcept;

// Drives both handshakes, pumping bytes both ways, until both are Done (true),
// either fails, or `max_rounds` pass without completion (false). Bytes sent
// after the handshake (TLS 1.3 tickets) are delivered too.
[[nodiscard]] bool handshake_in_memory(Session& client, Session& server,
                                       int max_rounds = 16) noexcept;

}  // namespace ringftpd::tls
