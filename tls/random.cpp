#include "tls/random.hpp"

#include <cstring>

#include "tls/error.hpp"

namespace ringftpd::tls {

Random::Random() : rng_(std::make_unique<WC_RNG>()) {
  if (const int rc = wc_InitRng(rng_.get()); rc != 0) {
    rng_.reset();
    throw TlsError("cannot seed the random number generator: " + wolfssl_error_text(rc));
  }
}

Random::~Random() {
  if (rng_) wc_FreeRng(rng_.get());
}

bool Random::fill(std::span<std::uint8_t> out) noexcept {
  if (out.empty()) return true;
  return wc_RNG_GenerateBlock(rng_.get(), out.data(), static_cast<word32>(out.size())) == 0;
}

std::optional<std::uint64_t> Random::nonzero_u64() noexcept {
  for (int attempt = 0; attempt < 4; ++attempt) {
    std::uint8_t bytes[8];
    if (!fill(bytes)) return std::nullopt;
    std::uint64_t v = 0;
    std::memcpy(&v, bytes, sizeof v);
    if (v != 0) return v;
  }
  return std::nullopt;  // four zero draws: the generator is broken
}

}  // namespace ringftpd::tls
