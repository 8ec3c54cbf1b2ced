// The authd wire protocol: what a worker may ask the auth service, and what
// it answers (DESIGN.md §2, STYLE.md "Privilege separation is a message
// protocol").
//
// One Request or one Reply per SOCK_SEQPACKET datagram, nothing else on the
// socket. Every field is written byte by byte in little-endian order (never a
// memcpy of a struct, so no padding or host layout leaks onto the wire), and
// every decoder is strict: exact length, every length within its bound, known
// enum values, no NUL byte in any string, no trailing bytes. Both ends decode
// what the other sends as untrusted input: a worker handles client bytes and
// may be compromised; the service holds the password hashes.
//
// Layout, version 2 (offsets in bytes):
//   Request: u32 magic | u64 request_id | u8 kind | u8 user_len | u16 password_len
//            | u8 peer_ip_len | user | password | peer_ip
//   Reply:   u32 magic | u64 request_id | u8 result | u8 permissions
//            | u32 retry_after_ms | u32 max_sessions | u64 bandwidth_bytes_per_second
//            | u16 root_len | root
// The magic carries the version in its low byte; requests and replies have
// different magics so neither can be taken for the other.
//
// Pure functions, no state: safe from any thread, in any process.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace ringftpd::server::auth {

inline constexpr std::uint32_t kRequestMagic = 0x52415102;  // "RAQ", version 2
inline constexpr std::uint32_t kReplyMagic = 0x52415202;    // "RAR", version 2

inline constexpr std::size_t kMaxUserBytes = 64;
inline constexpr std::size_t kMaxPasswordBytes = 512;
inline constexpr std::size_t kMaxPeerIpBytes = 45;  // INET6_ADDRSTRLEN - 1
inline constexpr std::size_t kMaxRootBytes = 4096;
// A delay or cool-down longer than this is a bug (or a lie): decoders refuse it.
inline constexpr std::uint32_t kMaxRetryAfterMs = 3'600'000;

inline constexpr std::size_t kRequestHeaderBytes = 4 + 8 + 1 + 1 + 2 + 1;
inline constexpr std::size_t kReplyHeaderBytes = 4 + 8 + 1 + 1 + 4 + 4 + 8 + 2;
inline constexpr std::size_t kMaxRequestBytes =
    kRequestHeaderBytes + kMaxUserBytes + kMaxPasswordBytes + kMaxPeerIpBytes;
inline constexpr std::size_t kMaxReplyBytes = kReplyHeaderBytes + kMaxRootBytes;
// The largest datagram either side ever sends; size receive buffers with it
// (one byte more lets a receiver see that a datagram was too long).
inline constexpr std::size_t kMaxDatagramBytes =
    kMaxRequestBytes > kMaxReplyBytes ? kMaxRequestBytes : kMaxReplyBytes;

enum class Kind : std::uint8_t {
  VerifyPassword = 1,  // USER + PASS: check the password of user
  LookupUser = 2,      // a verified client certificate names user (no password)
};

enum class Result : std::uint8_t {
  Allowed = 1,      // logged in: root and permissions are set
  Denied = 2,       // unknown user or wrong password; the FTP reply is the same for both
  Throttled = 3,    // too many failures from this address: 421, retry_after_ms says how long
  Malformed = 4,    // the request did not decode (a bug in the worker, or a lie)
  Unavailable = 5,  // the service could not answer (internal error); try later
};

struct Request {
  std::uint64_t request_id = 0;  // chosen by the worker, echoed in the reply
  Kind kind = Kind::VerifyPassword;
  std::string user;      // <= kMaxUserBytes
  std::string password;  // <= kMaxPasswordBytes; empty for LookupUser
  std::string peer_ip;   // numeric address of the control connection's peer
  bool operator==(const Request&) const = default;
};

struct Reply {
  std::uint64_t request_id = 0;
  Result result = Result::Denied;
  std::string root;                  // absolute directory; set only when Allowed
  std::uint8_t permissions = 0;      // config::Permission bits; 0 unless Allowed
  std::uint32_t retry_after_ms = 0;  // Denied: delay the 530 this long; Throttled: cool-down
  // The user's limits (config::User); 0 = unlimited, and 0 unless Allowed.
  std::uint32_t max_sessions = 0;
  std::uint64_t bandwidth_bytes_per_second = 0;
  bool operator==(const Reply&) const = default;
};

// Replaces out's contents with the datagram for message. False (and out
// empty) when a field breaks a bound or a string holds a NUL: the caller
// answers the client itself (for instance 530 for an overlong password).
// The request datagram holds the password: wipe() it once sent.
[[nodiscard]] bool encode(const Request& request, std::vector<std::byte>& out);
[[nodiscard]] bool encode(const Reply& reply, std::vector<std::byte>& out);

// The message in datagram, or nullopt when it is not exactly one valid message.
[[nodiscard]] std::optional<Request> decode_request(std::span<const std::byte> datagram);
[[nodiscard]] std::optional<Reply> decode_reply(std::span<const std::byte> datagram);

// The request_id of a datagram that starts like a request (magic and id
// present) even if the rest is malformed, so the service can answer it
// Malformed; nullopt when not even that much is readable.
[[nodiscard]] std::optional<std::uint64_t> peek_request_id(std::span<const std::byte> datagram);

// Overwrites the bytes (the compiler may not elide it), then clears. For
// buffers and strings that held a password.
void wipe(std::string& s) noexcept;
void wipe(std::vector<std::byte>& bytes) noexcept;
void wipe(std::span<std::byte> bytes) noexcept;

}  // namespace ringftpd::server::auth
