// FTP command lines -> Command, and the parsers of the small arguments (TYPE, MODE,
// STRU, REST, AUTH, PBSZ, PROT). Pure functions; no allocation; no exceptions.
//
// Related parsers live next door: host_port.hpp (PORT, EPRT, EPSV, the 227/229 replies)
// and timeval.hpp (MDTM, MFMT). Which verbs are legal when: verb_table.hpp.
//
// Every std::string_view in a Command points into the line given to parse(); the line
// (usually LineSplitter's buffer) must outlive the Command.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "server/ftp/parse_result.hpp"

namespace ringftpd::server::ftp {

// The verbs we recognise, as the RFCs spell them (RFC 959, 775 for the X variants,
// 2228, 2389, 2428, 3659, 4217, draft-somers-ftp-mfxx for MFMT, 1639 for LPRT/LPSV).
// Unknown is anything else, including malformed verbs.
enum class Verb : std::uint8_t {
  Unknown,
  // Access control (RFC 959 §4.1.1)
  User,
  Pass,
  Acct,
  Quit,
  Rein,
  // Informational and miscellaneous
  Noop,
  Syst,
  Feat,
  Opts,
  Help,
  Stat,
  Site,
  // Directories and files
  Pwd,
  Xpwd,
  Cwd,
  Xcwd,
  Cdup,
  Xcup,
  Mkd,
  Xmkd,
  Rmd,
  Xrmd,
  Dele,
  Rnfr,
  Rnto,
  Size,
  Mdtm,
  Mfmt,
  // Transfer parameters
  Type,
  Mode,
  Stru,
  Pasv,
  Epsv,
  Port,
  Eprt,
  Lprt,
  Lpsv,
  Rest,
  // Transfers
  Retr,
  Stor,
  Stou,
  Appe,
  List,
  Nlst,
  Mlsd,
  Mlst,
  Abor,
  Allo,
  // Security extensions (RFC 2228 / 4217)
  Auth,
  Pbsz,
  Prot,
  Ccc,
  Adat,
  Mic,
  Conf,
  Enc,
};

// Number of Verb values, Unknown included.
inline constexpr std::size_t kVerbCount = static_cast<std::size_t>(Verb::Enc) + 1;

struct Command {
  Verb verb = Verb::Unknown;
  std::string_view verb_text;  // as the client sent it (original case), for logs and 500s
  std::string_view argument;   // everything after the first SP, byte for byte; may be empty
};

// Splits a line (without its CRLF) into verb and argument.
// - The verb is the text before the first SP, matched case-insensitively. A verb that is
//   empty, longer than 4 characters, or not all ASCII letters is Unknown (the session
//   answers 500); so is a well-formed verb we do not know.
// - The argument is everything after that first SP, unchanged: RFC 959 puts exactly one
//   SP between verb and argument, so further spaces belong to the argument ("STOR  a b"
//   stores " a b"). No trimming happens anywhere.
// - A line without SP has an empty argument; so does "NOOP " (a trailing SP).
[[nodiscard]] Command parse(std::string_view line) noexcept;

// The canonical upper-case spelling ("PASV"); "" for Unknown.
[[nodiscard]] std::string_view verb_name(Verb verb) noexcept;

// Maps the RFC 775 X-variants to their RFC 959 verbs (Xpwd -> Pwd, Xcwd -> Cwd,
// Xcup -> Cdup, Xmkd -> Mkd, Xrmd -> Rmd); any other verb maps to itself.
[[nodiscard]] Verb canonical_verb(Verb verb) noexcept;

// ---- Argument parsers. Letters are case-insensitive; no surrounding spaces allowed. ----

enum class TransferType : std::uint8_t { Ascii, Image };

// TYPE (RFC 959 §4.1.2): "A", "A N" -> Ascii; "I", "L 8" -> Image.
// Unsupported (504): "A T", "A C", "E", "E N|T|C", "L <n>" with n != 8.
// Syntax (501): anything else, including "" and "A  N".
[[nodiscard]] ParseResult<TransferType> parse_type_argument(std::string_view arg) noexcept;

// MODE: "S" -> Ok; "B", "C", "Z" -> Unsupported (504); else Syntax.
[[nodiscard]] ParseStatus parse_mode_argument(std::string_view arg) noexcept;

// STRU: "F" -> Ok; "R", "P" -> Unsupported (504); else Syntax.
[[nodiscard]] ParseStatus parse_stru_argument(std::string_view arg) noexcept;

// REST (RFC 3659 §5, stream mode): a decimal byte offset, digits only. Values above
// INT64_MAX are a Syntax error: offsets end up in off_t.
[[nodiscard]] ParseResult<std::uint64_t> parse_rest_argument(std::string_view arg) noexcept;

enum class AuthMechanism : std::uint8_t {
  Tls,  // "TLS", "TLS-C" (RFC 4217 §4)
  Ssl,  // "SSL", "TLS-P": legacy forms that also imply PROT P; only if configured
};

// AUTH: Unsupported (504) for any other mechanism; Syntax for "".
[[nodiscard]] ParseResult<AuthMechanism> parse_auth_argument(std::string_view arg) noexcept;

// PBSZ (RFC 2228 §8.1, RFC 4217 §9): a decimal in 0..2^32-1. Any value is answered
// "200 PBSZ=0" (TLS is a streaming mechanism).
[[nodiscard]] ParseResult<std::uint32_t> parse_pbsz_argument(std::string_view arg) noexcept;

enum class ProtLevel : std::uint8_t { Clear, Private };

// PROT (RFC 4217 §9): "C" -> Clear, "P" -> Private; "S", "E" -> Unsupported (536);
// anything else -> Syntax (the draft's reply for it is 504).
[[nodiscard]] ParseResult<ProtLevel> parse_prot_argument(std::string_view arg) noexcept;

}  // namespace ringftpd::server::ftp
