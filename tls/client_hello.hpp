// tls::peek_session_id: reads, without consuming, the session ID a TLS 1.2
// ClientHello offers for resumption, before wolfSSL sees the bytes. The
// control connection uses it to ask the second-level session cache (Redis,
// through sharedd) for a session this host has not seen, while the
// connection waits off the loop, because wolfSSL's own lookup
// (get-session callback) is synchronous.
//
// Pure and bounded: it looks at the first TLS record only, never allocates,
// and refuses anything it does not fully understand (NotApplicable: the
// handshake goes on as usual, without a second-level lookup).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "tls/shared_tls_layout.hpp"

namespace ringftpd::tls {

struct HelloPeek {
  enum class Kind : std::uint8_t {
    NeedMore,       // the first record is not complete yet
    NotApplicable,  // not a ClientHello, no session ID, a ticket or TLS 1.3 offered, ...
    SessionId,      // a TLS 1.2 resumption by session ID: `id`
  };
  Kind kind = Kind::NotApplicable;
  std::uint8_t id_len = 0;
  std::uint8_t id[detail::kMaxSessionIdBytes] = {};
};

[[nodiscard]] HelloPeek peek_session_id(std::span<const std::byte> bytes) noexcept;

}  // namespace ringftpd::tls
