// Which verbs are legal when: one constexpr table, one row per Verb (STYLE.md: "one
// table {verb, phases, handler}"; the handlers are the session's, this is the data).
//
// The session checks a parsed Command in this order, and the first failure answers:
//   1. verb == Unknown                           -> 500 (syntax error, command unrecognised)
//   2. !rule.implemented                         -> 502 (not implemented)
//   3. clear control connection and the policy of the draft's 10.1 refuses rule.clear_text
//      (Login: "TLS before USER/PASS", with its per-user exceptions; Session: "TLS for
//      everything but a few commands")       -> 530 for Login, 534 for Session (policy)
//   4. login_phase not in rule.phases            -> 530 if rule.needs_login, else 503
//   5. rule.needs_argument && argument.empty()   -> 501
// then runs the handler. Verbs without an argument ignore one if sent (robustness).
// The PROT check of the draft's 10.2 (521) happens in the handlers of the verbs with
// opens_data_connection, before any 1xx, never on PASV/PORT.
#pragma once

#include <cstdint>
#include <initializer_list>

#include "server/ftp/command.hpp"

namespace ringftpd::server::ftp {

// Where a control session stands in logging in; the session maps its own, richer
// state onto this (a TLS handshake in progress reads no commands at all).
enum class LoginPhase : std::uint8_t {
  Connected,  // greeting sent; no USER accepted yet (also after REIN)
  NeedPass,   // USER accepted, 331 sent; waiting for PASS
  LoggedIn,   // 230 sent
};

// A set of LoginPhase values.
class PhaseSet {
 public:
  constexpr PhaseSet() noexcept = default;
  constexpr PhaseSet(std::initializer_list<LoginPhase> phases) noexcept {
    for (LoginPhase p : phases) bits_ |= bit(p);
  }
  [[nodiscard]] constexpr bool contains(LoginPhase p) const noexcept {
    return (bits_ & bit(p)) != 0;
  }
  friend constexpr bool operator==(PhaseSet, PhaseSet) noexcept = default;

 private:
  static constexpr std::uint8_t bit(LoginPhase p) noexcept {
    return static_cast<std::uint8_t>(1U << static_cast<unsigned>(p));
  }
  std::uint8_t bits_ = 0;
};

inline constexpr PhaseSet kAnyPhase{LoginPhase::Connected, LoginPhase::NeedPass,
                                    LoginPhase::LoggedIn};
inline constexpr PhaseSet kLoggedInOnly{LoginPhase::LoggedIn};

// How the control-connection policies of the draft's 10.1 apply to a verb that arrives
// before TLS is negotiated (AUTH TLS) or after the control connection reverted to clear.
enum class ClearTextClass : std::uint8_t {
  Exempt,   // allowed in clear under every policy (AUTH itself, FEAT, QUIT, ...)
  Login,    // USER, PASS, ACCT: refused in clear when TLS is required before login
  Session,  // everything else: refused in clear when TLS is required for all commands
};

struct VerbRule {
  Verb verb = Verb::Unknown;
  PhaseSet phases;           // login phases in which the verb is accepted
  bool needs_login = false;  // outside `phases`: 530 (true) or 503 bad sequence (false)
  bool implemented = false;  // false: 502 whatever the phase
  ClearTextClass clear_text = ClearTextClass::Session;
  bool needs_argument = false;         // empty argument: 501
  bool opens_data_connection = false;  // the draft's 10.2 list: PROT is checked here (521)
};

// The rule for `verb`; Unknown has a rule too (not implemented, any phase).
[[nodiscard]] const VerbRule& lookup(Verb verb) noexcept;

}  // namespace ringftpd::server::ftp
