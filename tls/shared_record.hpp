// tls::RecordSealer: the sealed records ringftpd keeps in Redis ([shared],
// docs/scale-out.md): session ticket keys, and TLS 1.2 sessions by ID.
//
// Threat: anyone who can reach Redis (another tenant, a leaked password, a
// replica's disk). Such a party must neither plant a key or a session every
// host would trust, nor read one. So every record is
//   version (1) | kind (1) | public fields | nonce (12) | ciphertext | GCM tag (16) | HMAC (32)
// where the secret material is encrypted with AES-256-GCM and the whole
// record, together with its Redis key name (so a record moved to another
// name is refused), is authenticated with HMAC-SHA256. Both keys are derived
// from one secret that all hosts share (shared.secret_file) and Redis never
// sees. A record that does not parse, has another version, or fails the MAC
// is refused (the caller counts and logs it; never its bytes).
//
// Pure: no I/O, no clock (times are carried as numbers), no Redis. Made by
// the sharedd helper; one thread. The constructor throws TlsError; the rest
// is noexcept.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "tls/shared_tls_layout.hpp"

namespace ringftpd::tls {

inline constexpr std::uint8_t kSharedRecordVersion = 1;
inline constexpr std::size_t kMinSharedSecretBytes = 32;

// One ticket key as Redis holds it. Wall-clock times: hosts do not share a
// monotonic clock.
struct SharedTicketKey {
  std::uint32_t id = 0;                 // the key name inside tickets; never 0
  std::int64_t not_before_unix_ms = 0;  // seals tickets from then on
  std::uint8_t aes_key[detail::kTicketKeyBytes] = {};
  std::uint8_t mask_key[detail::kMaskKeyBytes] = {};
};

// One TLS 1.2 session as Redis holds it (the DER wolfSSL serialises).
struct SharedSession {
  std::uint64_t origin = 0;
  std::int64_t expires_unix_ms = 0;
  std::vector<std::uint8_t> der;
};

enum class RecordError : std::uint8_t {
  Malformed,  // wrong length or layout
  Version,    // another record version (a newer server, or junk)
  Mac,        // the MAC does not verify: forged, corrupt, or another secret
  Crypto,     // a wolfCrypt failure
};

class RecordSealer {
 public:
  // `secret`: at least kMinSharedSecretBytes. Throws TlsError otherwise, or
  // when wolfCrypt fails.
  explicit RecordSealer(std::span<const std::uint8_t> secret);
  ~RecordSealer();
  RecordSealer(const RecordSealer&) = delete;
  RecordSealer& operator=(const RecordSealer&) = delete;

  // `nonce` must be fresh (drawn from a Random); `name` is the Redis key
  // (and field) the record is stored under.
  [[nodiscard]] std::optional<std::vector<std::uint8_t>> seal_key(
      const SharedTicketKey& key, std::string_view name,
      std::span<const std::uint8_t, 12> nonce) noexcept;
  [[nodiscard]] bool open_key(std::span<const std::uint8_t> record, std::string_view name,
                              SharedTicketKey& out, RecordError& why) noexcept;

  // der: 1..64 KiB.
  [[nodiscard]] std::optional<std::vector<std::uint8_t>> seal_session(
      const SharedSession& session, std::string_view name,
      std::span<const std::uint8_t, 12> nonce) noexcept;
  [[nodiscard]] bool open_session(std::span<const std::uint8_t> record, std::string_view name,
                                  SharedSession& out, RecordError& why) noexcept;

 private:
  [[nodiscard]] std::optional<std::vector<std::uint8_t>> seal(
      std::uint8_t kind, std::span<const std::uint8_t> public_fields,
      std::span<const std::uint8_t> secret_fields, std::string_view name,
      std::span<const std::uint8_t, 12> nonce) noexcept;
  // On success, `public_out` and `secret_out` view into `plain` / the record.
  [[nodiscard]] bool open(std::uint8_t kind, std::size_t public_bytes,
                          std::span<const std::uint8_t> record, std::string_view name,
                          std::vector<std::uint8_t>& plain, RecordError& why) noexcept;
  [[nodiscard]] bool mac(std::span<const std::uint8_t> record, std::string_view name,
                         std::span<std::uint8_t, 32> out) noexcept;

  std::array<std::uint8_t, 32> enc_key_{};
  std::array<std::uint8_t, 32> mac_key_{};
};

}  // namespace ringftpd::tls
