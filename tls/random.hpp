// tls::Random: a wolfCrypt Hash_DRBG, seeded from the operating system, for
// the resumption machinery (ticket keys, ticket ids and IVs, origins).
//
// Contract:
// - Create it in the process that uses it, after fork: a DRBG copied by
//   fork() repeats its output in every child, and for ticket IVs under a key
//   shared between workers that would be AES-GCM nonce reuse (threat: forged
//   tickets). A tls::Library must be alive.
// - One owner, one thread; not copyable or movable (owned through a pointer
//   where it must move).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>

#include "tls/wolfssl.hpp"

namespace ringftpd::tls {

class Random {
 public:
  Random();  // throws TlsError when the DRBG cannot be seeded
  ~Random();
  Random(const Random&) = delete;
  Random& operator=(const Random&) = delete;

  // Fills `out`; false only if the DRBG failed (it then stays failed).
  [[nodiscard]] bool fill(std::span<std::uint8_t> out) noexcept;
  // A random non-zero value (0 is "none" wherever ids are used), or nullopt
  // if the DRBG failed.
  [[nodiscard]] std::optional<std::uint64_t> nonzero_u64() noexcept;

 private:
  std::unique_ptr<WC_RNG> rng_;
};

}  // namespace ringftpd::tls
