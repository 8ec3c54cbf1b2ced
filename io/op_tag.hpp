// Completion tags: what a CQE's user_data means.
//
// Every submission carries {slot, generation, op} packed into 64 bits
// (liburing examples/proxy.h). The slot finds the owner in the worker's table,
// the generation tells a live owner from a dead one whose slot was reused (a
// late CQE is counted and dropped), the op says which of the owner's
// operations completed. No pointer ever travels through user_data.
#pragma once

#include <cstdint>

namespace ringftpd::io {

struct OpTag {
  std::uint32_t slot = 0;
  std::uint32_t generation = 0;  // only the low 24 bits travel
  std::uint8_t op = 0;

  static constexpr std::uint32_t kGenerationMask = 0xFFFFFF;

  [[nodiscard]] constexpr std::uint64_t pack() const {
    return (std::uint64_t{slot} << 32) | (std::uint64_t{generation & kGenerationMask} << 8) | op;
  }
  [[nodiscard]] static constexpr OpTag unpack(std::uint64_t v) {
    return OpTag{static_cast<std::uint32_t>(v >> 32),
                 static_cast<std::uint32_t>((v >> 8) & kGenerationMask),
                 static_cast<std::uint8_t>(v & 0xFF)};
  }
  friend constexpr bool operator==(const OpTag&, const OpTag&) = default;
};

// user_data of submissions whose completion nobody wants (cancels, the close
// of an fd that has no owner any more).
inline constexpr std::uint64_t kIgnoredTag = ~std::uint64_t{0};

}  // namespace ringftpd::io
