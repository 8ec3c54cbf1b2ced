#include "tools/ftpsload/payload.hpp"

#include <algorithm>
#include <vector>

namespace ringftpd::ftpsload {

std::span<const std::byte> upload_pattern() {
  static const std::vector<std::byte> pattern = [] {
    std::vector<std::byte> p(kPatternBytes);
    std::uint64_t x = 0x9E3779B97F4A7C15ULL;
    for (std::size_t i = 0; i < p.size(); i += 8) {
      x ^= x >> 12;
      x ^= x << 25;
      x ^= x >> 27;
      const std::uint64_t v = x * 0x2545F4914F6CDD1DULL;
      for (std::size_t j = 0; j < 8; ++j) p[i + j] = static_cast<std::byte>(v >> (8 * j));
    }
    return p;
  }();
  return pattern;
}

std::span<const std::byte> upload_chunk(std::uint64_t offset, std::size_t max) {
  const std::span<const std::byte> p = upload_pattern();
  const std::size_t at = static_cast<std::size_t>(offset % p.size());
  return p.subspan(at, std::min(max, p.size() - at));
}

Digest upload_digest(std::uint64_t size) {
  Sha256Hash h;
  for (std::uint64_t done = 0; done < size;) {
    const auto chunk = upload_chunk(
        done, static_cast<std::size_t>(std::min<std::uint64_t>(size - done, kPatternBytes)));
    h.update(chunk);
    done += chunk.size();
  }
  return h.finish();
}

}  // namespace ringftpd::ftpsload
