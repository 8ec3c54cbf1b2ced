#include "server/ftp/interpreter.hpp"

#include <cctype>
#include <cerrno>
#include <cstring>

#include "server/fs/virtual_path.hpp"

namespace ringftpd::server::ftp {
namespace {

using effect::FsOp;
using effect::TransferKind;

Step reply(int code, std::string text) {
  return Step{{Reply{code, std::move(text)}}, {}};
}
Step error(int code, std::string text) {
  Step s = reply(code, std::move(text));
  s.counts_as_error = true;
  return s;
}

bool allowed(const SessionState& s, std::uint8_t perm) {
  return (s.permissions & perm) != 0;
}

// LIST/NLST arguments may start with ls options ("-la"), which clients send
// out of habit; they are not part of the path.
std::string_view strip_list_options(std::string_view arg) {
  while (!arg.empty() && arg[0] == '-') {
    const auto sp = arg.find(' ');
    arg = sp == std::string_view::npos ? std::string_view{} : arg.substr(sp + 1);
    while (!arg.empty() && arg[0] == ' ') arg.remove_prefix(1);
  }
  return arg;
}

// A path argument resolved against the session's cwd, or the error Step.
struct Resolved {
  bool ok = false;
  std::string vpath;  // "/a/b"
  std::string rel;    // "a/b", or "." for the root
  Step failure;
};
Resolved resolve(const SessionState& s, std::string_view argument) {
  const fs::ResolvedPath r = fs::resolve(s.cwd, argument);
  if (r.ok) return {true, r.path, std::string(r.relative()), {}};
  const char* why = r.error == fs::PathError::InvalidName       ? "Invalid character in file name."
                    : r.error == fs::PathError::InvalidEncoding ? "File name is not valid UTF-8."
                                                                : "File name too long.";
  return {false, {}, {}, error(fs::reply_code(r.error), why)};
}

Step fs_step(const SessionState& s, FsOp op, std::string_view argument, std::uint8_t perm) {
  if (!allowed(s, perm)) return error(kReplyFileUnavailable, "Permission denied.");
  Resolved r = resolve(s, argument);
  if (!r.ok) return std::move(r.failure);
  return Step{{}, {effect::Fs{op, std::move(r.vpath), std::move(r.rel), {}, {}}}};
}

// Draft §10.2: is the current PROT acceptable for this transfer command?
bool protection_acceptable(const SessionState& s, const Policy& p, Verb verb) {
  const bool priv = s.prot == ProtLevel::Private;
  switch (p.data_protection) {
    case config::DataProtection::ClearOnly:
      return !priv;
    case config::DataProtection::ClientChoice:
      return true;
    case config::DataProtection::Required:
      return priv;
    case config::DataProtection::PerCommand:
      if (priv) return true;
      for (Verb v : p.clear_allowed_for) {
        if (v == verb) return true;
      }
      return false;
  }
  return false;
}

Step transfer_step(SessionState& s, const Policy& p, const Command& cmd, TransferKind kind) {
  const bool upload =
      kind == TransferKind::Stor || kind == TransferKind::Appe || kind == TransferKind::Stou;
  const bool listing =
      kind == TransferKind::List || kind == TransferKind::Nlst || kind == TransferKind::Mlsd;
  // REST applies to the next transfer command only, and that command
  // consumes it whether or not it is refused (as vsftpd and ProFTPD do): a
  // client that retries a refused RETR without REST means the whole file.
  const std::uint64_t restart_offset = s.restart_offset;
  s.restart_offset = 0;
  if (s.transfer_in_progress) return error(kReplyBadSequence, "A transfer is in progress.");
  const std::uint8_t perm = upload    ? config::kPermWrite
                            : listing ? config::kPermList
                                      : config::kPermRead;
  if (!allowed(s, perm)) return error(kReplyFileUnavailable, "Permission denied.");
  if (s.data_mode == DataMode::None) {
    return error(kReplyCannotOpenDataConnection, "Use PORT, EPRT, PASV or EPSV first.");
  }
  if (!protection_acceptable(s, p, cmd.verb)) {
    return error(kReplyProtSettingRefused, s.prot == ProtLevel::Clear
                                               ? "Data connections must be protected (PROT P)."
                                               : "Data connections must be clear (PROT C).");
  }
  std::string_view arg =
      listing && kind != TransferKind::Mlsd ? strip_list_options(cmd.argument) : cmd.argument;
  if (kind == TransferKind::Stou) arg = "";  // the server picks the name in the cwd
  Resolved r = resolve(s, arg);
  if (!r.ok) return std::move(r.failure);
  effect::Transfer t{kind,   std::move(r.vpath),          std::move(r.rel), 0,
                     s.type, s.prot == ProtLevel::Private};
  if (kind == TransferKind::Retr || kind == TransferKind::Stor) t.offset = restart_offset;
  s.transfer_in_progress = true;
  return Step{{}, {std::move(t)}};
}

Step on_user(SessionState& s, const Policy& p, const Command& cmd) {
  s.user = std::string(cmd.argument);
  s.phase = LoginPhase::NeedPass;
  if (s.tls_active && !s.certificate_user.empty() && s.user == s.certificate_user) {
    // The verified certificate stands in for PASS; the auth service still
    // decides whether the account exists and where its root is.
    s.authenticating = true;
    return Step{{}, {effect::Authenticate{s.user, {}, true}}};
  }
  // Draft §10.1: per-user exceptions for the anonymous account.
  if (s.is_anonymous()) {
    if (!p.anonymous_enabled) {
      // Same words as any other refusal: which names exist is not told.
      return reply(kReplyNeedPassword, "Please specify the password.");
    }
    if (p.anonymous_tls == config::AnonymousTls::ClearRequired && s.tls_active) {
      s.phase = LoginPhase::Connected;
      return error(kReplyPolicyDenied, "Anonymous sessions must not use TLS.");
    }
  }
  return reply(kReplyNeedPassword, "Please specify the password.");
}

Step on_pass(SessionState& s, const Command& cmd) {
  s.authenticating = true;
  return Step{{}, {effect::Authenticate{s.user, std::string(cmd.argument)}}};
}

// Draft §10.1: is this verb allowed on a clear control connection? USER and
// PASS are judged with the user name in hand, so that the anonymous
// exceptions can apply.
std::optional<Step> control_policy_refusal(const SessionState& s, const Policy& p,
                                           const VerbRule& rule, std::string_view user) {
  if (s.tls_active || rule.clear_text == ClearTextClass::Exempt) return std::nullopt;
  const bool anonymous = user == "anonymous" || user == "ftp";
  const bool anonymous_clear_ok =
      anonymous && p.anonymous_tls != config::AnonymousTls::SameAsOthers;
  switch (p.control_tls) {
    case config::ControlTls::Optional:
      return std::nullopt;
    case config::ControlTls::RequiredForLogin:
      if (rule.clear_text != ClearTextClass::Login || anonymous_clear_ok) return std::nullopt;
      break;
    case config::ControlTls::Required:
      if (anonymous_clear_ok && rule.clear_text == ClearTextClass::Login) return std::nullopt;
      if (anonymous_clear_ok && s.is_logged_in()) return std::nullopt;
      break;
  }
  return error(kReplyPolicyDenied, "Policy requires TLS: use AUTH TLS first.");
}

constexpr std::string_view kHelpVerbs =
    " ABOR ALLO APPE AUTH CDUP CWD  DELE EPRT EPSV FEAT HELP LIST MDTM MFMT\n"
    " MKD  MLSD MLST MODE NLST NOOP OPTS PASS PASV PBSZ PORT PROT PWD  QUIT\n"
    " REIN REST RETR RMD  RNFR RNTO SIZE STAT STOR STOU STRU SYST TYPE USER";

// REIN: back to the state of a new connection; the login and what it held
// are released. Draft §14: on a protected connection the 220 is sent
// protected, then TLS ends and the connection goes on in clear, PROT C.
Step reinitialize(SessionState& s) {
  const HostPort peer = s.peer;
  const bool had_tls = s.tls_active;
  s = SessionState{};
  s.peer = peer;
  Step st = reply(kReplyServiceReady, "Service ready for new user.");
  st.effects.emplace_back(effect::EndLogin{});
  if (had_tls) st.effects.emplace_back(effect::EndTls{});
  return st;
}

// The final reply of a transfer that ended on its own (or by ABOR).
Step transfer_reply(SessionState& s, const effect::Transfer& t, const TransferOutcome& o);

}  // namespace

bool SessionState::is_anonymous() const noexcept {
  return user == "anonymous" || user == "ftp";
}

Policy Policy::from(const config::Config& cfg, bool tls_available) {
  Policy p;
  p.control_tls = cfg.control.tls;
  p.data_protection = cfg.data.protection;
  for (const std::string& v : cfg.data.clear_allowed_for) {
    const Command c = parse(v);
    if (c.verb != Verb::Unknown) p.clear_allowed_for.push_back(c.verb);
  }
  p.tls_available = tls_available;
  p.allow_auth_ssl = cfg.tls.allow_auth_ssl;
  p.allow_ccc = cfg.tls.allow_ccc;
  p.max_failed_logins = cfg.limits.max_failed_logins;
  p.anonymous_enabled = cfg.users.anonymous;
  p.anonymous_tls = cfg.control.anonymous;
  return p;
}

std::string feature_text(const Policy& p) {
  std::string f;
  if (p.tls_available) f += "AUTH TLS\nPBSZ\nPROT\n";
  f += p.epsv_available ? "EPRT\nEPSV\n" : "EPRT\n";
  f += "MDTM\nMFMT\nSIZE\nREST STREAM\n";
  f += "MLST type*;size*;modify*;perm*;unique*;\n";
  f += "UTF8\nTVFS";
  return f;
}

Step on_command(SessionState& s, const Policy& p, const Command& cmd) {
  const VerbRule& rule = lookup(cmd.verb);
  if (cmd.verb == Verb::Unknown) return error(kReplySyntaxError, "Command not understood.");
  if (!rule.implemented) return error(kReplyNotImplemented, "Command not implemented.");
  if (s.authenticating && cmd.verb != Verb::Quit) {
    return error(kReplyBadSequence, "Login in progress, please wait.");
  }
  if (!rule.phases.contains(s.phase)) {
    if (rule.needs_login) return error(kReplyNotLoggedIn, "Please log in with USER and PASS.");
    return error(kReplyBadSequence, "Bad sequence of commands.");
  }
  const std::string_view user = cmd.verb == Verb::User ? cmd.argument : std::string_view(s.user);
  if (auto refusal = control_policy_refusal(s, p, rule, user)) return std::move(*refusal);
  if (rule.needs_argument && cmd.argument.empty()) {
    return error(kReplyArgumentSyntaxError, "This command needs an argument.");
  }
  // Any command but RNTO forgets a pending RNFR (RFC 959: RNTO must follow).
  if (cmd.verb != Verb::Rnto) s.rename_from.reset();

  switch (canonical_verb(cmd.verb)) {
    case Verb::User:
      return on_user(s, p, cmd);
    case Verb::Pass:
      return on_pass(s, cmd);
    case Verb::Quit:
      return Step{{Reply{kReplyClosing, "Goodbye."}}, {effect::Close{}}};
    case Verb::Noop:
      return reply(kReplyOk, "NOOP ok.");
    case Verb::Syst:
      return reply(kReplySystemType, "UNIX Type: L8");
    case Verb::Feat:
      return reply(kReplySystemStatus, "Features:\n" + feature_text(p) + "\nEnd");
    case Verb::Help:
      return reply(kReplyHelp, "Commands recognised:\n" + std::string(kHelpVerbs) + "\nHelp OK.");
    case Verb::Opts: {
      std::string arg(cmd.argument);
      for (char& c : arg) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      if (arg == "UTF8 ON" || arg == "UTF8") return reply(kReplyOk, "Always in UTF8 mode.");
      if (arg.rfind("MLST ", 0) == 0 || arg == "MLST") {
        return reply(kReplyOk, "MLST OPTS type;size;modify;perm;unique;");
      }
      return error(kReplyArgumentSyntaxError, "Option not understood.");
    }
    case Verb::Rein:
      if (s.transfer_in_progress) {
        // RFC 959 would let the transfer finish; a client that reads
        // slowly could then hold the old login (and its files) as long as
        // it likes. We abort it: its 426 comes first, then the 220.
        s.rein_pending = true;
        return Step{{}, {effect::Abort{}, effect::AwaitTransferEnd{}}};
      }
      return reinitialize(s);
    case Verb::Pwd:
      return reply(kReplyPathnameCreated, fs::quote_for_257(s.cwd) + " is the current directory.");
    case Verb::Cwd:
      return fs_step(s, FsOp::ChangeDir, cmd.argument, config::kPermList);
    case Verb::Cdup:
      return fs_step(s, FsOp::ChangeDir, "..", config::kPermList);
    case Verb::Mkd:
      return fs_step(s, FsOp::MakeDir, cmd.argument, config::kPermMkdir);
    case Verb::Rmd:
      return fs_step(s, FsOp::RemoveDir, cmd.argument, config::kPermDelete);
    case Verb::Dele:
      return fs_step(s, FsOp::Delete, cmd.argument, config::kPermDelete);
    case Verb::Rnfr:
      return fs_step(s, FsOp::RenameFrom, cmd.argument, config::kPermRename);
    case Verb::Rnto: {
      if (!s.rename_from) return error(kReplyBadSequence, "RNFR required first.");
      Step st = fs_step(s, FsOp::RenameTo, cmd.argument, config::kPermRename);
      if (!st.effects.empty()) {
        if (auto* fs = std::get_if<effect::Fs>(&st.effects.front())) fs->rel2 = *s.rename_from;
      }
      s.rename_from.reset();
      return st;
    }
    case Verb::Size:
      return fs_step(s, FsOp::Size, cmd.argument, config::kPermList);
    case Verb::Mdtm:
      return fs_step(s, FsOp::ModTime, cmd.argument, config::kPermList);
    case Verb::Mfmt: {
      const auto parsed = parse_mfmt_argument(cmd.argument);
      if (!parsed.ok()) return error(kReplyArgumentSyntaxError, "Usage: MFMT YYYYMMDDHHMMSS path");
      Step st = fs_step(s, FsOp::SetModTime, parsed.value.path, config::kPermWrite);
      if (!st.effects.empty()) {
        if (auto* fs = std::get_if<effect::Fs>(&st.effects.front())) fs->time = parsed.value.time;
      }
      return st;
    }
    case Verb::Mlst:
      return fs_step(s, FsOp::StatPath, cmd.argument, config::kPermList);
    case Verb::Stat:
      if (cmd.argument.empty()) {
        return reply(kReplySystemStatus,
                     "ringftpd status:\n Logged in as " + s.user +
                         "\n TYPE: " + (s.type == TransferType::Ascii ? "ASCII" : "BINARY") +
                         "\n Control connection: " + (s.tls_active ? "TLS" : "clear") +
                         "\n Data protection: " + (s.prot == ProtLevel::Private ? "P" : "C") +
                         "\nEnd of status");
      }
      return fs_step(s, FsOp::StatList, strip_list_options(cmd.argument), config::kPermList);
    case Verb::Type: {
      const auto t = parse_type_argument(cmd.argument);
      if (t.status == ParseStatus::Unsupported) {
        return error(kReplyParameterNotImplemented, "Type not supported.");
      }
      if (!t.ok()) return error(kReplyArgumentSyntaxError, "Usage: TYPE A or TYPE I");
      s.type = t.value;
      return reply(kReplyOk, t.value == TransferType::Ascii ? "Switching to ASCII mode."
                                                            : "Switching to Binary mode.");
    }
    case Verb::Mode: {
      const ParseStatus st = parse_mode_argument(cmd.argument);
      if (st == ParseStatus::Ok) return reply(kReplyOk, "Mode set to S.");
      if (st == ParseStatus::Unsupported)
        return error(kReplyParameterNotImplemented, "Only MODE S.");
      return error(kReplyArgumentSyntaxError, "Usage: MODE S");
    }
    case Verb::Stru: {
      const ParseStatus st = parse_stru_argument(cmd.argument);
      if (st == ParseStatus::Ok) return reply(kReplyOk, "Structure set to F.");
      if (st == ParseStatus::Unsupported)
        return error(kReplyParameterNotImplemented, "Only STRU F.");
      return error(kReplyArgumentSyntaxError, "Usage: STRU F");
    }
    case Verb::Allo:
      return reply(kReplyCommandSuperfluous, "ALLO not needed.");
    case Verb::Rest: {
      const auto r = parse_rest_argument(cmd.argument);
      if (!r.ok()) return error(kReplyArgumentSyntaxError, "Usage: REST <byte offset>");
      s.restart_offset = r.value;
      return reply(kReplyFileActionPending,
                   "Restarting at " + std::to_string(r.value) + ". Send RETR or STOR.");
    }
    case Verb::Pasv:
    case Verb::Epsv: {
      const bool extended = cmd.verb == Verb::Epsv;
      if (extended) {
        if (!p.epsv_available) {
          return error(kReplyNotImplemented,
                       "EPSV is not available through the balancer: use PASV.");
        }
        const auto a = parse_epsv_argument(cmd.argument);
        if (!a.ok()) return error(kReplyArgumentSyntaxError, "Usage: EPSV [1|2|ALL]");
        if (a.value == EpsvArgument::All) {
          s.epsv_all = true;
          return reply(kReplyOk, "EPSV ALL ok.");
        }
        const bool v6 = s.peer.family == AddressFamily::Ipv6;
        if ((a.value == EpsvArgument::Ipv4 && v6) || (a.value == EpsvArgument::Ipv6 && !v6)) {
          return error(kReplyNetworkProtocolNotSupported,
                       "Network protocol not supported, use (" + std::string(v6 ? "2" : "1") + ")");
        }
      } else {
        if (s.epsv_all) return error(kReplyBadSequence, "EPSV ALL in effect: use EPSV.");
        if (s.peer.family == AddressFamily::Ipv6) {
          return error(kReplyNotImplemented, "PASV is IPv4 only: use EPSV on IPv6.");
        }
      }
      if (s.transfer_in_progress) return error(kReplyBadSequence, "A transfer is in progress.");
      Step st{{}, {effect::OpenPassive{extended}}};
      if (s.tls_active) st.prelude.emplace_back(effect::RefreshTicket{});
      return st;
    }
    case Verb::Port:
    case Verb::Eprt: {
      if (s.epsv_all) return error(kReplyBadSequence, "EPSV ALL in effect: use EPSV.");
      const bool extended = cmd.verb == Verb::Eprt;
      if (!extended && s.peer.family == AddressFamily::Ipv6) {
        return error(kReplyNotImplemented, "PORT is IPv4 only: use EPRT on IPv6.");
      }
      const auto hp =
          extended ? parse_eprt_argument(cmd.argument) : parse_port_argument(cmd.argument);
      if (hp.status == ParseStatus::Unsupported) {
        return error(kReplyNetworkProtocolNotSupported,
                     "Network protocol not supported, use (1,2)");
      }
      if (!hp.ok()) return error(kReplyArgumentSyntaxError, "Bad address or port.");
      // RFC 2577: only to the control connection's own peer (no FTP bounce),
      // never to a privileged port.
      if (hp.value.family != s.peer.family || hp.value.address != s.peer.address) {
        return error(kReplySyntaxError, "Illegal PORT: not your address.");
      }
      if (hp.value.port < 1024)
        return error(kReplySyntaxError, "Illegal PORT: privileged port refused.");
      if (s.transfer_in_progress) return error(kReplyBadSequence, "A transfer is in progress.");
      s.active_target = hp.value;
      s.data_mode = DataMode::Active;
      Step st = reply(kReplyOk, std::string(extended ? "EPRT" : "PORT") + " command successful.");
      st.prelude.emplace_back(effect::UseActiveTarget{hp.value});
      if (s.tls_active) st.prelude.emplace_back(effect::RefreshTicket{});
      return st;
    }
    case Verb::Retr:
      return transfer_step(s, p, cmd, TransferKind::Retr);
    case Verb::Stor:
      return transfer_step(s, p, cmd, TransferKind::Stor);
    case Verb::Appe:
      return transfer_step(s, p, cmd, TransferKind::Appe);
    case Verb::Stou:
      return transfer_step(s, p, cmd, TransferKind::Stou);
    case Verb::List:
      return transfer_step(s, p, cmd, TransferKind::List);
    case Verb::Nlst:
      return transfer_step(s, p, cmd, TransferKind::Nlst);
    case Verb::Mlsd:
      return transfer_step(s, p, cmd, TransferKind::Mlsd);
    case Verb::Abor:
      // The 426/226 pair comes from the transfer's report; commands after
      // ABOR wait for it, so replies stay in order.
      if (s.transfer_in_progress) {
        s.abort_pending = true;
        return Step{{}, {effect::Abort{}, effect::AwaitTransferEnd{}}};
      }
      return reply(kReplyTransferComplete, "No transfer to abort.");
    case Verb::Auth:
      if (!p.tls_available) return error(kReplyNotImplemented, "TLS is not available.");
      if (s.tls_active) return error(kReplyBadSequence, "TLS already active.");
      {
        const auto m = parse_auth_argument(cmd.argument);
        if (!m.ok() || (m.value == AuthMechanism::Ssl && !p.allow_auth_ssl)) {
          return error(kReplyParameterNotImplemented, "Unsupported security mechanism.");
        }
      }
      return Step{{Reply{kReplySecurityDataExchangeComplete, "AUTH TLS OK."}},
                  {effect::StartTls{}}};
    case Verb::Pbsz:
      if (!s.tls_active) return error(kReplyBadSequence, "PBSZ needs a TLS connection first.");
      if (!parse_pbsz_argument(cmd.argument).ok()) {
        return error(kReplyArgumentSyntaxError, "Usage: PBSZ 0");
      }
      s.pbsz_done = true;
      return reply(kReplyOk, "PBSZ=0");
    case Verb::Prot: {
      if (!s.tls_active || !s.pbsz_done) return error(kReplyBadSequence, "PBSZ first.");
      const auto level = parse_prot_argument(cmd.argument);
      if (level.status == ParseStatus::Unsupported) {
        return error(kReplyProtLevelNotSupported, "PROT S and E are not supported.");
      }
      if (!level.ok()) return error(kReplyParameterNotImplemented, "Usage: PROT C or PROT P");
      const bool priv = level.value == ProtLevel::Private;
      if ((priv && p.data_protection == config::DataProtection::ClearOnly) ||
          (!priv && p.data_protection == config::DataProtection::Required)) {
        return error(kReplyPolicyDenied, "PROT level refused by policy.");
      }
      s.prot = level.value;
      return reply(kReplyOk, priv ? "Protection set to Private." : "Protection set to Clear.");
    }
    case Verb::Ccc:
      if (!s.tls_active)
        return error(kReplyBadSequence, "The control connection is not protected.");
      if (!p.allow_ccc) return error(kReplyProtectionLevelDenied, "CCC is not allowed.");
      // The 200 goes out protected; then TLS ends and the login goes on in
      // clear. PROT stays as it was (data connections keep their own TLS).
      s.tls_active = false;
      return Step{{Reply{kReplyOk, "CCC accepted, control connection now in clear."}},
                  {effect::EndTls{true}}};
    default:
      break;
  }
  return error(kReplyNotImplemented, "Command not implemented.");
}

Step on_auth_result(SessionState& s, const Policy& p, const AuthOutcome& o) {
  s.authenticating = false;
  using R = AuthOutcome::Result;
  if (o.result == R::Allowed) {
    const bool by_certificate = o.by_certificate;
    s.phase = LoginPhase::LoggedIn;
    s.permissions = o.permissions;
    s.cwd = "/";
    s.failed_logins = 0;
    s.logged_in_by_certificate = by_certificate;
    if (by_certificate) {
      return reply(kReplyLoggedInBySecurityData, "User logged in, authorized by certificate.");
    }
    return reply(kReplyLoggedIn, "Login successful.");
  }
  s.phase = LoginPhase::Connected;
  if (o.result == R::Unavailable) {
    return reply(kReplyNotLoggedIn, "Login service unavailable, try again.");
  }
  if (o.result == R::UserAtLimit) {
    return reply(kReplyNotLoggedIn, "Too many sessions for this user, try again later.");
  }
  ++s.failed_logins;
  if (o.result == R::Throttled || s.failed_logins >= p.max_failed_logins) {
    return Step{{Reply{kReplyServiceNotAvailable, "Too many failed logins, closing."}},
                {effect::Close{}},
                true};
  }
  return error(kReplyNotLoggedIn, "Login incorrect.");
}

Step on_fs_result(SessionState& s, const effect::Fs& fs, const FsOutcome& o) {
  if (o.error != 0) {
    if (fs.op == FsOp::ChangeDir && o.error == ENOTDIR) {
      return reply(kReplyFileUnavailable, "Not a directory.");
    }
    if (o.error == ENOSPC || o.error == EDQUOT)
      return reply(kReplyInsufficientStorage, "No space left.");
    const char* why = o.error == ENOENT                       ? "No such file or directory."
                      : o.error == EEXIST                     ? "File exists."
                      : o.error == ENOTEMPTY                  ? "Directory not empty."
                      : o.error == EACCES || o.error == EPERM ? "Permission denied."
                      : o.error == EISDIR                     ? "Is a directory."
                                                              : std::strerror(o.error);
    return reply(kReplyFileUnavailable, why);
  }
  switch (fs.op) {
    case FsOp::ChangeDir:
      if (!o.is_directory) return reply(kReplyFileUnavailable, "Not a directory.");
      s.cwd = fs.vpath;
      return reply(kReplyFileActionOk, "Directory changed to " + fs.vpath);
    case FsOp::MakeDir:
      return reply(kReplyPathnameCreated, fs::quote_for_257(fs.vpath) + " created.");
    case FsOp::RemoveDir:
      return reply(kReplyFileActionOk, "Directory removed.");
    case FsOp::Delete:
      return reply(kReplyFileActionOk, "File deleted.");
    case FsOp::RenameFrom:
      s.rename_from = fs.rel;
      return reply(kReplyFileActionPending, "Ready for RNTO.");
    case FsOp::RenameTo:
      return reply(kReplyFileActionOk, "Rename successful.");
    case FsOp::Size:
      if (o.is_directory) return reply(kReplyFileUnavailable, "Not a plain file.");
      return reply(kReplyFileStatus, std::to_string(o.size));
    case FsOp::ModTime: {
      const auto text = format_timeval(o.mtime);
      if (!text) return reply(kReplyFileUnavailable, "Time out of range.");
      return reply(kReplyFileStatus, *text);
    }
    case FsOp::SetModTime: {
      const auto text = format_timeval(fs.time);
      return reply(kReplyFileStatus, "Modify=" + text.value_or("") + "; " + fs.vpath);
    }
    case FsOp::StatPath:
      return reply(kReplyFileActionOk, "Listing " + fs.vpath + "\n" + o.text + "End");
    case FsOp::StatList:
      return reply(kReplyFileStatus, "Status of " + fs.vpath + ":\n" + o.text + "End of status");
  }
  return reply(kReplyLocalError, "bug: unknown filesystem operation");
}

Step on_passive_result(SessionState& s, const effect::OpenPassive& req, const PassiveOutcome& o) {
  if (o.error != 0) {
    s.data_mode = DataMode::None;
    return reply(kReplyCannotOpenDataConnection, "Cannot open a passive port.");
  }
  s.data_mode = DataMode::Passive;
  s.active_target.reset();
  if (req.extended) return Step{{format_epsv_reply(o.port)}, {}};
  return Step{{format_pasv_reply(o.address, o.port)}, {}};
}

Reply transfer_starting(const SessionState& s, const effect::Transfer& t,
                        std::optional<std::uint64_t> size) {
  const bool listing =
      t.kind == TransferKind::List || t.kind == TransferKind::Nlst || t.kind == TransferKind::Mlsd;
  if (listing) return Reply{kReplyFileStatusOk, "Here comes the directory listing."};
  std::string text = std::string("Opening ") +
                     (s.type == TransferType::Ascii ? "ASCII" : "BINARY") +
                     " mode data connection for " + t.vpath;
  if (size) text += " (" + std::to_string(*size) + " bytes)";
  return Reply{kReplyFileStatusOk, text + "."};
}

Step on_transfer_result(SessionState& s, const effect::Transfer& t, const TransferOutcome& o) {
  if (s.rein_pending) {
    // The transfer REIN aborted (or one that ended just before): its own
    // final reply, then REIN's.
    const bool aborted = o.result == TransferOutcome::Result::Aborted;
    s.rein_pending = false;
    s.abort_pending = false;
    s.transfer_in_progress = false;
    Step first = aborted ? reply(kReplyTransferAborted, "Transfer aborted by REIN.")
                         : transfer_reply(s, t, o);
    Step rein = reinitialize(s);
    first.replies.insert(first.replies.end(), rein.replies.begin(), rein.replies.end());
    first.effects.insert(first.effects.end(), rein.effects.begin(), rein.effects.end());
    return first;
  }
  if (s.abort_pending) {
    // RFC 959 ABOR: a transfer it stopped answers 426 then 226; one that
    // completed first answers for itself, and ABOR still gets its 226.
    s.abort_pending = false;
    Step st = transfer_reply(s, t, o);
    st.replies.push_back(Reply{kReplyTransferComplete, "ABOR successful."});
    return st;
  }
  return transfer_reply(s, t, o);
}

namespace {

Step transfer_reply(SessionState& s, const effect::Transfer& t, const TransferOutcome& o) {
  s.transfer_in_progress = false;
  s.data_mode = DataMode::None;  // a data connection serves one transfer
  s.active_target.reset();
  using R = TransferOutcome::Result;
  switch (o.result) {
    case R::Done:
      if (t.kind == TransferKind::Stou) {
        return reply(kReplyTransferComplete, "Transfer complete. FILE: " + o.stored_name);
      }
      return reply(kReplyTransferComplete, "Transfer complete.");
    case R::NoConnection:
      return reply(kReplyCannotOpenDataConnection, "Cannot open data connection.");
    case R::ConnectionLost:
      return reply(kReplyTransferAborted, "Connection closed; transfer aborted.");
    case R::Aborted:  // ABOR's own 226 is added by its caller
      return reply(kReplyTransferAborted, "Transfer aborted.");
    case R::FileError:
      if (o.error == ENOENT) return reply(kReplyFileUnavailable, "No such file or directory.");
      if (o.error == EISDIR) return reply(kReplyFileUnavailable, "Is a directory.");
      if (o.error == ENOTDIR) return reply(kReplyFileUnavailable, "Not a directory.");
      if (o.error == EACCES || o.error == EPERM)
        return reply(kReplyFileUnavailable, "Permission denied.");
      if (o.error == EINVAL)
        return reply(kReplyInvalidRestartPosition, "Invalid restart position.");
      return reply(kReplyFileUnavailable, std::strerror(o.error));
    case R::StorageFull:
      if (o.error == ENOSPC) return reply(kReplyInsufficientStorage, "No space left on device.");
      return reply(kReplyStorageExceeded, "Storage allocation exceeded.");
    case R::LocalError:
      return reply(kReplyLocalError, std::string("Local error: ") + std::strerror(o.error));
    case R::TlsFailed:
      return reply(kReplyDataTlsFailed, "Data connection TLS negotiation failed.");
    case R::ReuseRequired:
      return reply(kReplyDataTlsFailed,
                   "TLS session reuse required: resume the control connection's session.");
  }
  return reply(kReplyLocalError, "bug: unknown transfer result");
}

}  // namespace

}  // namespace ringftpd::server::ftp
