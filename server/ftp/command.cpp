#include "server/ftp/command.hpp"

#include <array>
#include <cstdint>
#include <limits>

#include "server/ftp/text.hpp"

namespace ringftpd::server::ftp {

namespace {

// Indexed by Verb; the static_assert below keeps the two in step.
constexpr std::array<std::string_view, kVerbCount> kVerbNames = {
    "",                                                              // Unknown
    "USER", "PASS", "ACCT", "QUIT", "REIN",                          //
    "NOOP", "SYST", "FEAT", "OPTS", "HELP", "STAT", "SITE",          //
    "PWD",  "XPWD", "CWD",  "XCWD", "CDUP", "XCUP", "MKD",  "XMKD",  //
    "RMD",  "XRMD", "DELE", "RNFR", "RNTO", "SIZE", "MDTM", "MFMT",  //
    "TYPE", "MODE", "STRU", "PASV", "EPSV", "PORT", "EPRT", "LPRT",  //
    "LPSV", "REST", "RETR", "STOR", "STOU", "APPE", "LIST", "NLST",  //
    "MLSD", "MLST", "ABOR", "ALLO", "AUTH", "PBSZ", "PROT", "CCC",   //
    "ADAT", "MIC",  "CONF", "ENC",
};

constexpr bool names_match_enum() {
  for (std::size_t i = 1; i < kVerbNames.size(); ++i) {
    if (kVerbNames[i].size() < 3) return false;  // a missing initializer leaves ""
  }
  return kVerbNames[static_cast<std::size_t>(Verb::User)] == "USER" &&
         kVerbNames[static_cast<std::size_t>(Verb::Pwd)] == "PWD" &&
         kVerbNames[static_cast<std::size_t>(Verb::Dele)] == "DELE" &&
         kVerbNames[static_cast<std::size_t>(Verb::Type)] == "TYPE" &&
         kVerbNames[static_cast<std::size_t>(Verb::Lpsv)] == "LPSV" &&
         kVerbNames[static_cast<std::size_t>(Verb::Retr)] == "RETR" &&
         kVerbNames[static_cast<std::size_t>(Verb::Mlsd)] == "MLSD" &&
         kVerbNames[static_cast<std::size_t>(Verb::Auth)] == "AUTH" &&
         kVerbNames[static_cast<std::size_t>(Verb::Ccc)] == "CCC" &&
         kVerbNames[static_cast<std::size_t>(Verb::Enc)] == "ENC";
}
static_assert(names_match_enum(), "kVerbNames is out of step with enum class Verb");

// Every verb we know is 3 or 4 ASCII letters.
constexpr std::size_t kMinVerbChars = 3;
constexpr std::size_t kMaxVerbChars = 4;

Verb lookup_verb(std::string_view text) noexcept {
  if (text.size() < kMinVerbChars || text.size() > kMaxVerbChars) return Verb::Unknown;
  std::array<char, kMaxVerbChars> upper{};
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (!text::is_alpha(text[i])) return Verb::Unknown;
    upper[i] = text::to_upper(text[i]);
  }
  const std::string_view key(upper.data(), text.size());
  for (std::size_t i = 1; i < kVerbNames.size(); ++i) {
    if (kVerbNames[i] == key) return static_cast<Verb>(i);
  }
  return Verb::Unknown;
}

// The single letter of a one-character argument, upper-cased; '\0' otherwise.
char single_letter(std::string_view arg) noexcept {
  return arg.size() == 1 ? text::to_upper(arg[0]) : '\0';
}

}  // namespace

Command parse(std::string_view line) noexcept {
  Command cmd;
  const std::size_t sp = line.find(' ');
  cmd.verb_text = line.substr(0, sp);
  if (sp != std::string_view::npos) cmd.argument = line.substr(sp + 1);
  cmd.verb = lookup_verb(cmd.verb_text);
  return cmd;
}

std::string_view verb_name(Verb verb) noexcept {
  const auto i = static_cast<std::size_t>(verb);
  return i < kVerbNames.size() ? kVerbNames[i] : std::string_view{};
}

Verb canonical_verb(Verb verb) noexcept {
  switch (verb) {
    case Verb::Xpwd:
      return Verb::Pwd;
    case Verb::Xcwd:
      return Verb::Cwd;
    case Verb::Xcup:
      return Verb::Cdup;
    case Verb::Xmkd:
      return Verb::Mkd;
    case Verb::Xrmd:
      return Verb::Rmd;
    default:
      return verb;
  }
}

ParseResult<TransferType> parse_type_argument(std::string_view arg) noexcept {
  using R = ParseResult<TransferType>;
  if (arg.empty()) return R::syntax_error();
  const char type = text::to_upper(arg[0]);
  if (arg.size() == 1) {
    switch (type) {
      case 'A':
        return R::success(TransferType::Ascii);
      case 'I':
        return R::success(TransferType::Image);
      case 'E':
        return R::unsupported();
      default:
        return R::syntax_error();  // includes "L" without its byte size
    }
  }
  if (arg[1] != ' ') return R::syntax_error();
  const std::string_view param = arg.substr(2);
  switch (type) {
    case 'A':
    case 'E': {
      const char form = single_letter(param);  // RFC 959 form codes
      if (form != 'N' && form != 'T' && form != 'C') return R::syntax_error();
      if (type == 'A' && form == 'N') return R::success(TransferType::Ascii);
      return R::unsupported();  // Telnet or ASA carriage control, or EBCDIC
    }
    case 'L': {
      std::uint32_t byte_size = 0;
      if (!text::parse_decimal(param, byte_size)) return R::syntax_error();
      return byte_size == 8 ? R::success(TransferType::Image) : R::unsupported();
    }
    default:
      return R::syntax_error();
  }
}

ParseStatus parse_mode_argument(std::string_view arg) noexcept {
  switch (single_letter(arg)) {
    case 'S':
      return ParseStatus::Ok;
    case 'B':
    case 'C':
    case 'Z':
      return ParseStatus::Unsupported;  // block, compressed, deflate (MODE Z)
    default:
      return ParseStatus::Syntax;
  }
}

ParseStatus parse_stru_argument(std::string_view arg) noexcept {
  switch (single_letter(arg)) {
    case 'F':
      return ParseStatus::Ok;
    case 'R':
    case 'P':
      return ParseStatus::Unsupported;  // record, page
    default:
      return ParseStatus::Syntax;
  }
}

ParseResult<std::uint64_t> parse_rest_argument(std::string_view arg) noexcept {
  using R = ParseResult<std::uint64_t>;
  std::uint64_t offset = 0;
  if (!text::parse_decimal(arg, offset)) return R::syntax_error();
  if (offset > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
    return R::syntax_error();
  }
  return R::success(offset);
}

ParseResult<AuthMechanism> parse_auth_argument(std::string_view arg) noexcept {
  using R = ParseResult<AuthMechanism>;
  if (arg.empty()) return R::syntax_error();
  if (text::iequals(arg, "TLS") || text::iequals(arg, "TLS-C")) {
    return R::success(AuthMechanism::Tls);
  }
  if (text::iequals(arg, "SSL") || text::iequals(arg, "TLS-P")) {
    return R::success(AuthMechanism::Ssl);
  }
  return R::unsupported();
}

ParseResult<std::uint32_t> parse_pbsz_argument(std::string_view arg) noexcept {
  using R = ParseResult<std::uint32_t>;
  std::uint32_t size = 0;
  if (!text::parse_decimal(arg, size)) return R::syntax_error();
  return R::success(size);
}

ParseResult<ProtLevel> parse_prot_argument(std::string_view arg) noexcept {
  using R = ParseResult<ProtLevel>;
  switch (single_letter(arg)) {
    case 'C':
      return R::success(ProtLevel::Clear);
    case 'P':
      return R::success(ProtLevel::Private);
    case 'S':
    case 'E':
      return R::unsupported();  // Safe, Confidential: TLS offers neither alone
    default:
      return R::syntax_error();
  }
}

}  // namespace ringftpd::server::ftp
