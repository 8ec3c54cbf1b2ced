// The log lines a ban tool keys on: failed logins and connections refused at
// accept, each naming the client's address.
//
// Their shape is an interface (docs/operations.md, "Log lines for ban tools";
// dist/fail2ban/filter.d/ringftpd.conf matches them), so they are made here
// and nowhere else:
//
//   <time> warn [<peer>] login failed (<reason>): user <name>
//   <time> warn [<peer>] refused (<class>): <detail>
//
// <peer> is "203.0.113.7:51234" or "[2001:db8::7]:51234", written by the
// server before any client-chosen text. The user name, which the client
// chooses, comes last, so nothing it contains can stand where a filter looks
// for the address or the reason (and Log turns CR/LF into spaces).
//
// Logged at warn, so a log at level "warn" still feeds the ban tool. In the
// JSON log (json_log.hpp) they are the events "login_failed" (user, reason)
// and "refused" (reason, detail), with "client" the peer.
#pragma once

#include <string_view>

#include "io/socket.hpp"
#include "server/log.hpp"

namespace ringftpd::server {

// Why a login failed. Every value is the client's doing: a login that was
// never checked (the auth service down or restarting) is logged otherwise,
// since banning a client for our own outage would be wrong.
enum class LoginFailure {
  BadCredentials,    // wrong password, unknown user, or no such certificate user
  AddressThrottled,  // too many failures from this address: it waits, then is refused
  TooLong,           // a user name or password longer than the auth protocol carries
};

// Why a connection was refused at accept.
enum class Refusal {
  PerAddressLimit,  // limits.max_sessions_per_address: one address holds too many
  Capacity,         // the server is full (max_sessions, descriptor budget, address table)
};

[[nodiscard]] std::string_view login_failure_name(LoginFailure why) noexcept;
[[nodiscard]] std::string_view refusal_name(Refusal why) noexcept;

// User names longer than this are cut (with "...") in the line.
inline constexpr std::size_t kMaxLoggedUserBytes = 64;

void log_login_failed(Log& log, const io::SocketAddress& peer, LoginFailure why,
                      std::string_view user) noexcept;
void log_refused(Log& log, const io::SocketAddress& peer, Refusal why,
                 std::string_view detail) noexcept;

}  // namespace ringftpd::server
