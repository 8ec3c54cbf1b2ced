// Required session reuse (DESIGN.md §4; the draft's 10.2): a protected data
// connection must resume a TLS session that descends from its own control
// connection.
//
// How it works. Each control connection gets a random 64-bit *origin*
// (ServerContext::new_origin, Session::set_origin). What the connection issues
// is bound to its origin: each session ticket (TLS 1.2 and 1.3) carries a
// random TicketId in its authenticated key_name, recorded in the
// OriginRegistry as TicketId -> origin; each TLS 1.2 session ID is stored in
// the SessionStore with its origin. When a data connection resumes, the
// ticket or session-cache callback finds the origin of what was resumed, and
// Session::check_resumption compares it with the origin the data connection
// expects: Ok, NotResumed, ForeignOrigin or UnknownOrigin.
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
// - A Resumption holds the ticket keys, the origin registry and the session
//   store of one worker; ServerContexts share it through shared_ptr, and
//   every server Session keeps a reference, so it outlives all of them (a
//   certificate reload builds a new context over the same Resumption, and
//   old tickets still resume). Made after fork (see random.hpp); one thread.
// - Only the constructors throw (TlsError, start-up).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string_view>

#include "tls/origin_registry.hpp"
#include "tls/random.hpp"
#include "tls/session_store.hpp"
#include "tls/ticket_keys.hpp"
#include "tls/wolfssl.hpp"

namespace ringftpd::tls {

// The verdict on a data connection's handshake.
enum class ResumeCheck : std::uint8_t {
  Ok,             // resumed a session of its own control connection
  NotResumed,     // full handshake
  ForeignOrigin,  // resumed a session of another control connection
  UnknownOrigin,  // resumed a session whose origin is forgotten (expired, evicted, unbound)
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

struct ResumptionOptions {
  // Origin records of tickets: one per ticket issued (at least one per
  // control handshake, one per PASV/EPSV/PORT/EPRT under TLS 1.3). ~100 bytes each.
  std::size_t max_tickets = 1 << 17;
  // TLS 1.2 sessions resumable by ID. ~400 bytes each.
  std::size_t max_sessions = 1 << 15;
};

class Resumption {
 public:
  // In-process registry and store, fresh ticket keys.
  explicit Resumption(const ResumptionOptions& options = {});
  // Caller-provided registry and store (e.g. in shared memory); not null.
  Resumption(std::unique_ptr<OriginRegistry> origins, std::unique_ptr<SessionStore> sessions);
  Resumption(const Resumption&) = delete;
  Resumption& operator=(const Resumption&) = delete;

  // A fresh random origin for a control connection; 0 only if the DRBG has
  // failed (then nothing can match it: fail closed).
  [[nodiscard]] std::uint64_t new_origin() noexcept;

  [[nodiscard]] TicketKeys& ticket_keys() noexcept { return keys_; }
  [[nodiscard]] OriginRegistry& origins() noexcept { return *origins_; }
  [[nodiscard]] SessionStore& sessions() noexcept { return *sessions_; }
  [[nodiscard]] Random& random() noexcept { return rng_; }

 private:
  Random rng_;
  TicketKeys keys_;
  std::unique_ptr<OriginRegistry> origins_;
  std::unique_ptr<SessionStore> sessions_;
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
