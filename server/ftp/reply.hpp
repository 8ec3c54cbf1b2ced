// FTP replies: named reply codes, the Reply value, and its wire format (RFC 959 §4.2).
// Pure functions; format() only appends to a caller-owned string.
#pragma once

#include <span>
#include <string>
#include <string_view>

namespace ringftpd::server::ftp {

// ---- Reply codes (RFC 959 §4.2.1 unless noted) ----
inline constexpr int kReplyRestartMarker = 110;
inline constexpr int kReplyServiceReadyIn = 120;
inline constexpr int kReplyDataConnectionAlreadyOpen = 125;
inline constexpr int kReplyFileStatusOk = 150;  // about to open the data connection

inline constexpr int kReplyOk = 200;
inline constexpr int kReplyCommandSuperfluous = 202;  // ALLO
inline constexpr int kReplySystemStatus = 211;        // STAT, FEAT (RFC 2389)
inline constexpr int kReplyDirectoryStatus = 212;
inline constexpr int kReplyFileStatus = 213;  // SIZE, MDTM, MFMT (RFC 3659)
inline constexpr int kReplyHelp = 214;
inline constexpr int kReplySystemType = 215;
inline constexpr int kReplyServiceReady = 220;
inline constexpr int kReplyClosing = 221;
inline constexpr int kReplyDataConnectionOpen = 225;
inline constexpr int kReplyTransferComplete = 226;  // closing the data connection
inline constexpr int kReplyEnteringPassiveMode = 227;
inline constexpr int kReplyEnteringExtendedPassiveMode = 229;  // RFC 2428
inline constexpr int kReplyLoggedIn = 230;
inline constexpr int kReplyLoggedInBySecurityData = 232;        // RFC 2228: client certificate
inline constexpr int kReplySecurityDataExchangeComplete = 234;  // AUTH TLS accepted
inline constexpr int kReplyFileActionOk = 250;
inline constexpr int kReplyPathnameCreated = 257;

inline constexpr int kReplyNeedPassword = 331;
inline constexpr int kReplyNeedAccount = 332;
inline constexpr int kReplySecurityMechanismOk = 334;  // RFC 2228; wrong for TLS (4217 §4)
inline constexpr int kReplyFileActionPending = 350;    // REST, RNFR

inline constexpr int kReplyServiceNotAvailable = 421;  // closing the control connection
inline constexpr int kReplyCannotOpenDataConnection = 425;
inline constexpr int kReplyTransferAborted = 426;      // data connection closed
inline constexpr int kReplyResourceUnavailable = 431;  // RFC 2228: security resource
inline constexpr int kReplyFileBusy = 450;             // file unavailable for now (busy, locked)
inline constexpr int kReplyLocalError = 451;
inline constexpr int kReplyInsufficientStorage = 452;

inline constexpr int kReplySyntaxError = 500;  // unknown verb, line too long
inline constexpr int kReplyArgumentSyntaxError = 501;
inline constexpr int kReplyNotImplemented = 502;
inline constexpr int kReplyBadSequence = 503;
inline constexpr int kReplyParameterNotImplemented = 504;
inline constexpr int kReplyProtSettingRefused = 521;  // RFC 4217 §10.2: wrong PROT for transfer
inline constexpr int kReplyDataTlsFailed = 522;       // RFC 4217 §10.2: data TLS unacceptable
inline constexpr int kReplyNetworkProtocolNotSupported = 522;  // RFC 2428: EPRT/EPSV family
inline constexpr int kReplyNotLoggedIn = 530;
inline constexpr int kReplyNeedAccountForStoring = 532;
inline constexpr int kReplyProtectionLevelDenied = 533;  // RFC 2228: command protection
inline constexpr int kReplyPolicyDenied = 534;           // RFC 2228: denied for policy reasons
inline constexpr int kReplySecurityCheckFailed = 535;
inline constexpr int kReplyProtLevelNotSupported = 536;  // RFC 2228: PROT S / PROT E
inline constexpr int kReplyFileUnavailable = 550;        // not found, no access
inline constexpr int kReplyPageTypeUnknown = 551;
inline constexpr int kReplyStorageExceeded = 552;
inline constexpr int kReplyFileNameNotAllowed = 553;
inline constexpr int kReplyInvalidRestartPosition = 554;  // RFC 3659 §5.4: REST past EOF

// One reply. `text` holds the reply's lines separated by '\n' (one trailing '\n' is
// ignored); a text without '\n' makes a single-line reply. `code` must be in 100..599.
struct Reply {
  int code = kReplyOk;
  std::string text;

  friend bool operator==(const Reply&, const Reply&) = default;
};

// Appends the wire form of `reply` to `out`:
//   single line:  "220 text\r\n"
//   multi-line:   "211-first\r\n" <middle lines> "211 last\r\n"     (RFC 959 §4.2)
// Guarantees, whatever the text holds (it may carry client-chosen bytes):
// - '\n' is the only line separator. Every other control character (CR, NUL, the rest
//   of 0x00..0x1F, DEL) becomes a space, so injected CR/LF can never end the reply early
//   or forge another one.
// - A middle line that starts with a digit gets a leading space, so no client mistakes
//   it for the end line ("226 ..." inside a STAT listing).
// - A code outside 100..599 is a bug upstream; it is sent as 451 rather than as a
//   malformed line.
// Bytes >= 0x80 (UTF-8 names, RFC 2640) pass through; 0xFF is not doubled.
void format(const Reply& reply, std::string& out);

// The same, as a new string (tests, rare paths).
[[nodiscard]] std::string to_wire(const Reply& reply);

// Appends `untrusted` to `text` as part of one line: '\n' and every other control
// character become a space. Use it for names the client or the filesystem chose when
// building a multi-line reply's text, so they cannot add lines.
void append_single_line(std::string& text, std::string_view untrusted);

// The RFC 959 Appendix II quoting for 257 replies: "path" with each embedded '"'
// doubled; control characters become spaces (as append_single_line).
[[nodiscard]] std::string quote_pathname(std::string_view path);

// The FEAT reply (RFC 2389 §3.2): "211-Features:" then one line per feature, each with
// the leading space the RFC requires, then "211 End". With no features: "211 No features".
// Feature strings are written as given ("AUTH TLS", "REST STREAM", "MLST size*;modify*;").
[[nodiscard]] Reply feat_reply(std::span<const std::string_view> features);

}  // namespace ringftpd::server::ftp
