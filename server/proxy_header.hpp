// The PROXY protocol header (HAProxy's proxy-protocol.txt, versions 1 and 2)
// that an L4 balancer sends first on every connection it forwards, naming
// the client it accepted: the session's real peer for every check and log.
//
// Pure parsing: bytes in, a verdict out; no system calls, no allocation.
// The caller (ProxyIntake) feeds what it has received so far and calls again
// after each receive, so a header split over many small segments is parsed
// the same as one that came whole. The verdict is Invalid as soon as the
// bytes cannot begin a header (a client that skipped the balancer is told
// apart at its first byte), and Incomplete only while a valid header can
// still follow, never past kMaxBytes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include "io/socket.hpp"

namespace ringftpd::server {

enum class ProxyVersions : std::uint8_t { V1, V2, Any };

struct ProxyHeader {
  std::uint8_t version = 0;  // 1 or 2
  // The client and the address it connected to, as the balancer declares
  // them. Both nullopt for a v2 LOCAL header (the balancer's own health
  // check), a v1 UNKNOWN one, or a family that is not TCP over IPv4/IPv6:
  // the connection is then the balancer's own, at its socket addresses.
  std::optional<io::SocketAddress> source;
  std::optional<io::SocketAddress> destination;
  std::size_t length = 0;  // bytes of the header; what follows is the client's stream
};

struct ProxyParse {
  enum class Status : std::uint8_t { Incomplete, Invalid, Complete };
  Status status = Status::Incomplete;
  ProxyHeader header;      // Complete
  std::string_view error;  // Invalid: why, for the log (static text)
};

// A v1 line is at most 107 bytes with its CRLF (the specification's bound).
inline constexpr std::size_t kMaxProxyV1Bytes = 107;
// A v2 header's address block and TLVs: HAProxy's largest (UNIX addresses,
// unique id, SSL details) fit well inside. A longer declared length is
// refused, not waited for.
inline constexpr std::size_t kMaxProxyV2PayloadBytes = 1024;
inline constexpr std::size_t kProxyV2FixedBytes = 16;
// The most a header can be: the intake never buffers more than this.
inline constexpr std::size_t kMaxProxyHeaderBytes = kProxyV2FixedBytes + kMaxProxyV2PayloadBytes;

[[nodiscard]] ProxyParse parse_proxy_header(std::span<const std::byte> bytes,
                                            ProxyVersions accepted) noexcept;

[[nodiscard]] std::string_view proxy_versions_name(ProxyVersions v) noexcept;

}  // namespace ringftpd::server
