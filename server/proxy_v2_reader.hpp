// Reads one PROXY v2 header from a socket without taking a byte past it: the
// 16-byte fixed part first, then exactly the length it declares. A passive
// data connection through the balancer needs this, since what follows the
// header (a TLS ClientHello, an upload's first bytes) belongs to the
// transfer, which receives on its own. (v1 states no length, so it cannot be
// read this way: passive.proxy_protocol is v2 only.)
//
// Pure bookkeeping: the caller receives into next_read() and reports the
// count; no system calls. At most kMaxProxyHeaderBytes are ever asked for.
#pragma once

#include <array>
#include <cstddef>
#include <span>

#include "server/proxy_header.hpp"

namespace ringftpd::server {

class ProxyV2Reader {
 public:
  // Where the next receive goes: exactly the bytes still missing.
  [[nodiscard]] std::span<std::byte> next_read() noexcept {
    return std::span<std::byte>(buffer_).subspan(filled_, needed() - filled_);
  }
  // n bytes (0 < n <= next_read().size()) arrived.
  [[nodiscard]] ProxyParse on_received(std::size_t n) noexcept {
    filled_ += n;
    return parse_proxy_header(std::span<const std::byte>(buffer_.data(), filled_),
                              ProxyVersions::V2);
  }

 private:
  // The fixed part, then the declared length (parse_proxy_header refuses a
  // length over the cap before it is asked for).
  [[nodiscard]] std::size_t needed() const noexcept {
    if (filled_ < kProxyV2FixedBytes) return kProxyV2FixedBytes;
    const std::size_t length =
        (static_cast<std::size_t>(buffer_[14]) << 8) | static_cast<std::size_t>(buffer_[15]);
    return kProxyV2FixedBytes + std::min(length, kMaxProxyV2PayloadBytes);
  }

  std::array<std::byte, kMaxProxyHeaderBytes> buffer_{};
  std::size_t filled_ = 0;
};

}  // namespace ringftpd::server
