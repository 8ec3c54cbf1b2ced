// The pure FTP interpreter: (session state, command) -> Step.
//
// A Step is data: effects that must be in place before the client reads the
// replies (a fresh TLS ticket, the active data target), the replies to send
// now, and effects for the I/O layer to carry out afterwards, in order (check
// a password, touch the filesystem, open a data connection, transfer, wait
// for a transfer to end, end TLS, close). When an effect completes, the
// session calls the matching on_*_result function, which returns the next
// Step. Nothing here touches an fd, a ring, a clock or wolfSSL, so every
// transition is testable with plain values, and every protocol decision
// (which effects a command has, in which order) is made here.
#pragma once

#include <cstdint>
#include <string>
#include <variant>
#include <vector>

#include "server/ftp/command.hpp"
#include "server/ftp/reply.hpp"
#include "server/ftp/session_state.hpp"
#include "server/ftp/timeval.hpp"

namespace ringftpd::server::ftp {

namespace effect {

struct Authenticate {
  std::string user;
  std::string password;         // never logged
  bool by_certificate = false;  // the TLS client certificate names the user
};

enum class FsOp : std::uint8_t {
  ChangeDir,  // must exist and be a directory
  MakeDir,
  RemoveDir,
  Delete,
  RenameFrom,  // RNFR: must exist
  RenameTo,    // RNTO: rename rel2 (from) -> rel
  Size,
  ModTime,
  SetModTime,  // MFMT
  StatPath,    // MLST
  StatList,    // STAT path: a listing over the control connection
};

struct Fs {
  FsOp op;
  std::string vpath;  // virtual absolute path, for replies
  std::string rel;    // relative to the session root, for openat2
  std::string rel2;   // RenameTo: the source
  TimeVal time;       // SetModTime
};

struct OpenPassive {
  bool extended = false;  // EPSV (229) or PASV (227)
};

enum class TransferKind : std::uint8_t { Retr, Stor, Appe, Stou, List, Nlst, Mlsd };

struct Transfer {
  TransferKind kind;
  std::string vpath;
  std::string rel;
  std::uint64_t offset = 0;  // REST
  TransferType type = TransferType::Image;
  bool protect = false;  // PROT P: the data connection must be TLS
};

// ABOR, or REIN during a transfer: the data channel stops and reports.
struct Abort {};
// Further commands wait until the transfer in progress has reported (its
// final reply comes first: replies stay in command order).
struct AwaitTransferEnd {};
// Draft §10.2 with TLS 1.3: a fresh ticket on the control connection before
// the reply that leads to a data connection (GnuTLS clients wait for one;
// curl 8.12+ and Java spend each ticket once).
struct RefreshTicket {};
// PORT/EPRT: the next data connection goes to this (already checked) target.
struct UseActiveTarget {
  HostPort target;
};
// REIN: the login ends; what it held (the user's root, the data connection
// set up by PASV/PORT) is released.
struct EndLogin {};
struct StartTls {};
// TLS on the control connection ends: REIN (draft §14, the login ends too)
// or CCC (RFC 4217 §6/RFC 2228, the login stays).
struct EndTls {
  bool keep_login = false;
};
struct Close {};

}  // namespace effect

using Effect = std::variant<effect::Authenticate, effect::Fs, effect::OpenPassive, effect::Transfer,
                            effect::Abort, effect::AwaitTransferEnd, effect::RefreshTicket,
                            effect::UseActiveTarget, effect::EndLogin, effect::StartTls,
                            effect::EndTls, effect::Close>;

struct Step {
  std::vector<Reply> replies;     // queued after `prelude`, before `effects`
  std::vector<Effect> effects;    // carried out in order after the replies
  bool counts_as_error = false;   // charged to the session's error budget
  std::vector<Effect> prelude{};  // carried out before the replies are queued

  // The effect of type E, or null.
  template <class E>
  [[nodiscard]] const E* find() const noexcept {
    for (const Effect& e : effects) {
      if (const auto* p = std::get_if<E>(&e)) return p;
    }
    for (const Effect& e : prelude) {
      if (const auto* p = std::get_if<E>(&e)) return p;
    }
    return nullptr;
  }
  template <class E>
  [[nodiscard]] bool has() const noexcept {
    return find<E>() != nullptr;
  }
};

// A command line, already parsed.
[[nodiscard]] Step on_command(SessionState& s, const Policy& p, const Command& cmd);

// Outcome of effect::Authenticate.
struct AuthOutcome {
  // UserAtLimit: the credentials were good, but the user already holds its
  // max_sessions (users file): 530, not a failed login.
  enum class Result : std::uint8_t { Allowed, Denied, Throttled, Unavailable, UserAtLimit } result;
  std::string root;  // Allowed: the user's root directory (the session opens it)
  std::uint8_t permissions = 0;
  bool by_certificate = false;  // answers a certificate login (232, not 230)
};
[[nodiscard]] Step on_auth_result(SessionState& s, const Policy& p, const AuthOutcome& outcome);

// Outcome of effect::Fs: errno (0 = success) and, for queries, the answer.
struct FsOutcome {
  int error = 0;
  std::uint64_t size = 0;     // Size
  TimeVal mtime;              // ModTime
  bool is_directory = false;  // ChangeDir, Size
  std::string text;           // StatPath: the facts line; StatList: the listing
};
[[nodiscard]] Step on_fs_result(SessionState& s, const effect::Fs& fs, const FsOutcome& outcome);

// Outcome of effect::OpenPassive.
struct PassiveOutcome {
  int error = 0;
  std::array<std::uint8_t, 4> address{};  // PASV: the advertised IPv4 address
  std::uint16_t port = 0;
};
[[nodiscard]] Step on_passive_result(SessionState& s, const effect::OpenPassive& req,
                                     const PassiveOutcome& outcome);

// The 150 sent when a transfer's data connection is about to be used.
[[nodiscard]] Reply transfer_starting(const SessionState& s, const effect::Transfer& t,
                                      std::optional<std::uint64_t> size);

// Outcome of effect::Transfer.
struct TransferOutcome {
  enum class Result : std::uint8_t {
    Done,            // 226
    NoConnection,    // 425: the data connection could not be made
    ConnectionLost,  // 426: closed or reset mid-transfer
    Aborted,         // 426 (and ABOR, if it asked, its 226)
    FileError,       // 550 with errno text (open failed)
    LocalError,      // 451
    StorageFull,     // 452 (ENOSPC) / 552 (EDQUOT, EFBIG)
    TlsFailed,       // 522: the data connection's TLS handshake failed
    ReuseRequired,   // 522: draft §10.2, the data connection did not resume a
                     //      TLS session of this control connection
  } result;
  int error = 0;
  std::uint64_t bytes = 0;
  std::string stored_name;  // STOU: the unique name chosen
};
[[nodiscard]] Step on_transfer_result(SessionState& s, const effect::Transfer& t,
                                      const TransferOutcome& outcome);

// The 211 FEAT body (lines without the 211 framing).
[[nodiscard]] std::string feature_text(const Policy& p);

}  // namespace ringftpd::server::ftp
