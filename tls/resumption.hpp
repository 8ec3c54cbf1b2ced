// Required session reuse (DESIGN.md §4; the draft's 10.2): a protected data
// connection must resume a TLS session that descends from its own control
// connection.
//
// How it works. Each control connection gets a random 64-bit *origin*
// (ServerContext::new_origin, Session::set_origin). What the connection issues
// is bound to its origin, and the binding travels with it, so that any
// worker can check it:
// - A session ticket (TLS 1.2 and 1.3) carries the origin itself, masked:
//     key_name = ticket key id (4 bytes, big-endian) | 12 random bytes
//     iv       = 16 random bytes (the first 12 are the GCM nonce)
//     mac[0..16)  = the AES-256-GCM tag
//     mac[16..24) = origin XOR mask, mask = the first 8 bytes of
//                   HMAC-SHA256(the key's mask key, key_name || iv)
//     mac[24..32) = zero
//   with AAD = key_name || iv || mac[16..24): the origin is confidential
//   (a client cannot tell which of its sessions share an origin) and
//   authenticated by the tag (a client cannot move a ticket to another
//   origin).
// - A TLS 1.2 session ID is stored in the shared session cache next to its
//   serialized session, with its origin.
// When a data connection resumes, the ticket or session-cache callback
// recovers the origin of what was resumed, and Session::check_resumption
// compares it with the origin the data connection expects: Ok, NotResumed,
// ForeignOrigin or UnknownOrigin.
//
// What "descends from" means. A TLS 1.2 resumption reuses the master secret,
// so a ticket re-issued on a resumed connection keeps the resumed session's
// origin. A TLS 1.3 resumption derives a new secret, so tickets issued on a
// resumed control connection get that connection's own origin. A control
// connection that itself resumed (a client's second control connection,
// FileZilla-style) also vouches for the session it resumed: its data
// connections accept that origin too (ExpectedOrigin::inherited), since only
// the holder of that session's secret could have resumed it.
//
// A connection without an origin (0: set_origin not called, or a data
// connection's own full handshake) still issues resumable tickets and session
// IDs, but what descends from it is "of unknown origin": never accepted on a
// data connection (fail closed).
//
// Contract:
// - A Resumption is one worker's handle on the shared TLS state
//   (shared_tls_state.hpp: ticket keys, session cache), with the worker's own
//   DRBG and key schedule cache. ServerContexts share it through shared_ptr,
//   and every server Session keeps a reference, so it outlives all of them (a
//   certificate reload builds a new context over the same Resumption, and
//   old tickets still resume). Made after fork (see random.hpp); one thread.
//   Any number of workers' Resumptions over one SharedTlsState resume each
//   other's sessions.
// - Only the constructors throw (TlsError, std::bad_alloc; start-up).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "tls/random.hpp"
#include "tls/shared_tls_state.hpp"
#include "tls/ticket_keys.hpp"
#include "tls/wolfssl.hpp"

namespace ringftpd::tls {

// The verdict on a data connection's handshake.
enum class ResumeCheck : std::uint8_t {
  Ok,             // resumed a session of its own control connection
  NotResumed,     // full handshake
  ForeignOrigin,  // resumed a session of another control connection
  UnknownOrigin,  // resumed a session bound to no origin (issued by a connection without one)
};

// A short phrase for logs, e.g. "full handshake".
[[nodiscard]] std::string_view describe(ResumeCheck check) noexcept;

// The origins a data connection accepts: its control connection's own, and
// the one that control connection inherited by resuming (0: none).
struct ExpectedOrigin {
  constexpr ExpectedOrigin() noexcept = default;
  // Implicit: a plain origin is the common case.
  constexpr ExpectedOrigin(std::uint64_t own_origin) noexcept : own(own_origin) {}  // NOLINT
  constexpr ExpectedOrigin(std::uint64_t own_origin, std::uint64_t inherited_origin) noexcept
      : own(own_origin), inherited(inherited_origin) {}

  [[nodiscard]] constexpr bool matches(std::uint64_t origin) const noexcept {
    return origin != 0 && (origin == own || origin == inherited);
  }

  std::uint64_t own = 0;
  std::uint64_t inherited = 0;
};

class Resumption {
 public:
  // A private SharedTlsState of kPrivateSessions entries, default lifetimes
  // (one process: tests, tools, a server not yet forking).
  Resumption();
  // A worker's handle on the master's shared state; not null.
  explicit Resumption(std::shared_ptr<SharedTlsState> state);
  Resumption(const Resumption&) = delete;
  Resumption& operator=(const Resumption&) = delete;
  ~Resumption();

  static constexpr std::size_t kPrivateSessions = 4096;

  // A fresh random origin for a control connection; 0 only if the DRBG has
  // failed (then nothing can match it: fail closed).
  [[nodiscard]] std::uint64_t new_origin() noexcept;

  [[nodiscard]] SharedTlsState& shared_state() noexcept { return *state_; }
  [[nodiscard]] TicketKeys& ticket_keys() noexcept { return keys_; }
  [[nodiscard]] Random& random() noexcept { return rng_; }
  // max_session_bytes of scratch for one serialized session at a time (the
  // callbacks allocate nothing); whoever fills it wipes it.
  [[nodiscard]] std::span<std::uint8_t> session_buffer() noexcept { return session_buffer_; }

 private:
  std::shared_ptr<SharedTlsState> state_;
  Random rng_;
  TicketKeys keys_;
  std::vector<std::uint8_t> session_buffer_;
};

namespace detail {

// What a server Session tells the callbacks, through wolfSSL ex_data on its
// WOLFSSL (Session re-attaches it when it moves).
struct OriginTag {
  std::shared_ptr<Resumption> resumption;  // null: not a server session of ours
  std::chrono::seconds lifetime{0};        // of what this connection issues
  std::uint64_t origin = 0;                // control: binds what it issues
  ExpectedOrigin expected;                 // data: what it may resume
  std::uint64_t resumed_origin = 0;        // set by the callbacks; 0: unknown
  bool is_data = false;                    // data connections send no TLS 1.3 tickets
};

// Points `ssl`'s ex_data at `tag` (or clears it); false if wolfSSL refused.
[[nodiscard]] bool attach_tag(WOLFSSL* ssl, OriginTag* tag) noexcept;

// Installs the ticket callback and the external session cache on a server
// context, and sets the session lifetime. Throws TlsError (start-up).
void install_resumption(WOLFSSL_CTX* ctx, std::chrono::seconds lifetime);

}  // namespace detail

}  // namespace ringftpd::tls
