// The bytes ftpsload uploads: a fixed pseudo-random pattern (xorshift64*,
// fixed seed), repeated. Deterministic, so an uploaded file can be checked by
// size here and, if wanted, by content afterwards (pattern_digest); made once
// per process and shared read-only by every thread, so an upload copies
// nothing of its own (clear data is sent straight from it).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "tools/ftpsload/sha256.hpp"

namespace ringftpd::ftpsload {

inline constexpr std::size_t kPatternBytes = 1024 * 1024;

// The pattern (kPatternBytes); thread-safe after the first call.
[[nodiscard]] std::span<const std::byte> upload_pattern();

// At most `max` bytes of the upload stream starting at `offset`, without
// crossing the pattern's end.
[[nodiscard]] std::span<const std::byte> upload_chunk(std::uint64_t offset, std::size_t max);

// SHA-256 of the first `size` bytes of the upload stream.
[[nodiscard]] Digest upload_digest(std::uint64_t size);

}  // namespace ringftpd::ftpsload
