// Sha256Hash: streaming SHA-256 (FIPS 180-4) for checking downloads. (Not
// "Sha256": wolfSSL's headers define that name as a macro.)
//
// A download is hashed as it arrives, next to the TLS decryption, so the hash
// must not be what limits a run: on CPUs with the SHA extensions (sha_ni) the
// block function uses them (1.2 GB/s on this loaded 2-core VM, against
// 0.5 GB/s for wolfCrypt's AVX2 code in our wolfSSL 5.5.4); elsewhere a
// portable one. The choice is made once per process. No allocation.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace ringftpd::ftpsload {

using Digest = std::array<std::uint8_t, 32>;

class Sha256Hash {
 public:
  Sha256Hash() noexcept { reset(); }
  void reset() noexcept;
  void update(std::span<const std::byte> bytes) noexcept;
  void update(std::string_view bytes) noexcept {
    update(std::span(reinterpret_cast<const std::byte*>(bytes.data()), bytes.size()));
  }
  // The digest of everything updated since reset(); the object is then reset.
  [[nodiscard]] Digest finish() noexcept;

  // Whether the SHA extensions are used; force_portable() is for tests.
  [[nodiscard]] static bool uses_sha_extensions() noexcept;
  static void force_portable(bool on) noexcept;

 private:
  std::uint32_t state_[8];
  std::uint8_t block_[64];
  std::size_t block_len_ = 0;
  std::uint64_t total_ = 0;
};

[[nodiscard]] std::string to_hex(std::span<const std::uint8_t> bytes);
// 64 hex digits (either case) -> digest.
[[nodiscard]] std::optional<Digest> parse_digest_hex(std::string_view hex);

}  // namespace ringftpd::ftpsload
