#include "server/ftp/verb_table.hpp"

#include <array>

namespace ringftpd::server::ftp {

namespace {

using enum LoginPhase;
using enum ClearTextClass;

enum class Arg : bool { Optional = false, Required = true };
enum class Data : bool { No = false, Opens = true };

// Before login. `phases` says where; needs_login is false, so elsewhere answers 503.
constexpr VerbRule pre_login(Verb v, PhaseSet phases, ClearTextClass clear, Arg arg) {
  return {v, phases, false, true, clear, arg == Arg::Required, false};
}

// Only once logged in; before that, 530.
constexpr VerbRule logged_in(Verb v, Arg arg, Data data = Data::No) {
  return {v, kLoggedInOnly, true, true, Session, arg == Arg::Required, data == Data::Opens};
}

// 502 in every phase, before any policy check.
constexpr VerbRule not_implemented(Verb v) {
  return {v, kAnyPhase, false, false, Exempt};
}

// One row per Verb, in enum order (checked below). The decisions:
// - Exempt from the clear-text policies: AUTH (the way out of clear text), FEAT (RFC 4217
//   §5: clients discover AUTH TLS through it first), QUIT, NOOP (keep-alives), SYST and
//   HELP (fixed text, no state), PBSZ and PROT (their handlers answer 503 without TLS,
//   which tells the client more than a policy refusal). Everything else is Session.
// - USER is accepted until logged in (a second USER restarts the login); USER after
//   230 is 503: switching users would re-confine a live session. REIN first.
// - AUTH only before USER (503 afterwards): RFC 2228 would make us forget a half-done
//   login, and every client we serve sends AUTH first. AUTH while TLS is already on is
//   the handler's 503.
// - TYPE, MODE, STRU and STAT need a login (as in vsftpd): before it there is nothing to
//   parameterise and no status to tell. OPTS (UTF8 ON) is accepted in any phase
//   because some clients send it before USER.
// - MLST answers on the control connection (RFC 3659 §7.2), so it opens no data
//   connection even though the draft's 10.2 lists it; MLSD does.
// - CCC (RFC 2228; RFC 4217 "Clearing the control port") is implemented so that its
//   handler decides: 533 unless the configuration allows dropping TLS on the control
//   connection.
// - Not implemented (502): ACCT (no accounts), SITE (no site commands), LPRT/LPSV
//   (RFC 1639, superseded by EPRT/EPSV), ADAT/MIC/CONF/ENC (RFC 2228 mechanisms that
//   TLS does not use, RFC 4217 §4).
constexpr std::array<VerbRule, kVerbCount> kRules = {
    not_implemented(Verb::Unknown),
    pre_login(Verb::User, {Connected, NeedPass}, Login, Arg::Required),
    pre_login(Verb::Pass, {NeedPass}, Login, Arg::Optional),  // an empty password is authd's call
    not_implemented(Verb::Acct),
    pre_login(Verb::Quit, kAnyPhase, Exempt, Arg::Optional),
    pre_login(Verb::Rein, kAnyPhase, Session, Arg::Optional),
    pre_login(Verb::Noop, kAnyPhase, Exempt, Arg::Optional),
    pre_login(Verb::Syst, kAnyPhase, Exempt, Arg::Optional),
    pre_login(Verb::Feat, kAnyPhase, Exempt, Arg::Optional),
    pre_login(Verb::Opts, kAnyPhase, Session, Arg::Required),
    pre_login(Verb::Help, kAnyPhase, Exempt, Arg::Optional),
    logged_in(Verb::Stat, Arg::Optional),
    not_implemented(Verb::Site),
    logged_in(Verb::Pwd, Arg::Optional),
    logged_in(Verb::Xpwd, Arg::Optional),
    logged_in(Verb::Cwd, Arg::Required),
    logged_in(Verb::Xcwd, Arg::Required),
    logged_in(Verb::Cdup, Arg::Optional),
    logged_in(Verb::Xcup, Arg::Optional),
    logged_in(Verb::Mkd, Arg::Required),
    logged_in(Verb::Xmkd, Arg::Required),
    logged_in(Verb::Rmd, Arg::Required),
    logged_in(Verb::Xrmd, Arg::Required),
    logged_in(Verb::Dele, Arg::Required),
    logged_in(Verb::Rnfr, Arg::Required),
    logged_in(Verb::Rnto, Arg::Required),
    logged_in(Verb::Size, Arg::Required),
    logged_in(Verb::Mdtm, Arg::Required),
    logged_in(Verb::Mfmt, Arg::Required),
    logged_in(Verb::Type, Arg::Required),
    logged_in(Verb::Mode, Arg::Required),
    logged_in(Verb::Stru, Arg::Required),
    logged_in(Verb::Pasv, Arg::Optional),
    logged_in(Verb::Epsv, Arg::Optional),
    logged_in(Verb::Port, Arg::Required),
    logged_in(Verb::Eprt, Arg::Required),
    not_implemented(Verb::Lprt),
    not_implemented(Verb::Lpsv),
    logged_in(Verb::Rest, Arg::Required),
    logged_in(Verb::Retr, Arg::Required, Data::Opens),
    logged_in(Verb::Stor, Arg::Required, Data::Opens),
    logged_in(Verb::Stou, Arg::Optional, Data::Opens),
    logged_in(Verb::Appe, Arg::Required, Data::Opens),
    logged_in(Verb::List, Arg::Optional, Data::Opens),
    logged_in(Verb::Nlst, Arg::Optional, Data::Opens),
    logged_in(Verb::Mlsd, Arg::Optional, Data::Opens),
    logged_in(Verb::Mlst, Arg::Optional),
    logged_in(Verb::Abor, Arg::Optional),
    logged_in(Verb::Allo, Arg::Optional),  // 202: we need no preallocation
    pre_login(Verb::Auth, {Connected}, Exempt, Arg::Required),
    pre_login(Verb::Pbsz, kAnyPhase, Exempt, Arg::Required),
    pre_login(Verb::Prot, kAnyPhase, Exempt, Arg::Required),
    logged_in(Verb::Ccc, Arg::Optional),
    not_implemented(Verb::Adat),
    not_implemented(Verb::Mic),
    not_implemented(Verb::Conf),
    not_implemented(Verb::Enc),
};

constexpr bool rows_in_enum_order() {
  for (std::size_t i = 0; i < kRules.size(); ++i) {
    if (kRules[i].verb != static_cast<Verb>(i)) return false;
  }
  return true;
}
static_assert(rows_in_enum_order(), "kRules must list every Verb once, in enum order");

}  // namespace

const VerbRule& lookup(Verb verb) noexcept {
  const auto i = static_cast<std::size_t>(verb);
  return i < kRules.size() ? kRules[i] : kRules[0];
}

}  // namespace ringftpd::server::ftp
