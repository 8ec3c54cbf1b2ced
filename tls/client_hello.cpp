#include "tls/client_hello.hpp"

#include <cstring>

namespace ringftpd::tls {
namespace {

constexpr std::uint8_t kHandshakeRecord = 22;
constexpr std::uint8_t kClientHello = 1;
constexpr std::uint16_t kExtSessionTicket = 0x0023;
constexpr std::uint16_t kExtSupportedVersions = 0x002b;
constexpr std::uint16_t kTls13 = 0x0304;
constexpr std::size_t kMaxRecord = 16384;

// A bounds-checked reader over one record's body.
class Reader {
 public:
  explicit Reader(std::span<const std::byte> b) : b_(b) {}
  bool u8(std::size_t& v) { return take(1, v); }
  bool u16(std::size_t& v) { return take(2, v); }
  bool u24(std::size_t& v) { return take(3, v); }
  bool skip(std::size_t n) {
    if (b_.size() - at_ < n) return false;
    at_ += n;
    return true;
  }
  bool bytes(std::size_t n, std::span<const std::byte>& out) {
    if (b_.size() - at_ < n) return false;
    out = b_.subspan(at_, n);
    at_ += n;
    return true;
  }
  [[nodiscard]] std::size_t left() const { return b_.size() - at_; }

 private:
  bool take(std::size_t n, std::size_t& v) {
    if (b_.size() - at_ < n) return false;
    v = 0;
    for (std::size_t i = 0; i < n; ++i) v = (v << 8) | std::to_integer<std::size_t>(b_[at_ + i]);
    at_ += n;
    return true;
  }
  std::span<const std::byte> b_;
  std::size_t at_ = 0;
};

}  // namespace

HelloPeek peek_session_id(std::span<const std::byte> bytes) noexcept {
  HelloPeek out;
  if (bytes.size() < 5) {
    out.kind = bytes.empty() || std::to_integer<std::uint8_t>(bytes[0]) == kHandshakeRecord
                   ? HelloPeek::Kind::NeedMore
                   : HelloPeek::Kind::NotApplicable;
    return out;
  }
  const std::size_t length =
      (std::to_integer<std::size_t>(bytes[3]) << 8) | std::to_integer<std::size_t>(bytes[4]);
  if (std::to_integer<std::uint8_t>(bytes[0]) != kHandshakeRecord ||
      std::to_integer<std::uint8_t>(bytes[1]) != 3 || length > kMaxRecord) {
    return out;
  }
  if (bytes.size() < 5 + length) {
    out.kind = HelloPeek::Kind::NeedMore;
    return out;
  }
  Reader r(bytes.subspan(5, length));
  std::size_t type = 0, body = 0, version = 0, id_len = 0, n = 0;
  // The whole ClientHello in this record (a fragmented one: no lookup).
  if (!r.u8(type) || type != kClientHello || !r.u24(body) || body != r.left()) return out;
  if (!r.u16(version) || !r.skip(32) || !r.u8(id_len) || id_len == 0 ||
      id_len > detail::kMaxSessionIdBytes) {
    return out;
  }
  std::span<const std::byte> id;
  if (!r.bytes(id_len, id)) return out;
  if (!r.u16(n) || !r.skip(n) || !r.u8(n) || !r.skip(n)) return out;  // suites, compression
  std::size_t ext_total = 0;
  if (r.left() == 0) {
    ext_total = 0;  // no extensions at all
  } else if (!r.u16(ext_total) || ext_total != r.left()) {
    return out;
  }
  while (r.left() > 0) {
    std::size_t ext = 0, ext_len = 0;
    std::span<const std::byte> data;
    if (!r.u16(ext) || !r.u16(ext_len) || !r.bytes(ext_len, data)) return out;
    // A ticket goes first (the shared ticket keys serve it): no lookup.
    if (ext == kExtSessionTicket && ext_len > 0) return out;
    if (ext == kExtSupportedVersions) {
      // TLS 1.3 offered: its session ID is a middlebox-compatibility decoy.
      Reader v(data);
      std::size_t list = 0;
      if (!v.u8(list) || list != v.left() || list % 2 != 0) return out;
      for (std::size_t i = 0; i < list / 2; ++i) {
        std::size_t ver = 0;
        (void)v.u16(ver);
        if (ver == kTls13) return out;
      }
    }
  }
  out.kind = HelloPeek::Kind::SessionId;
  out.id_len = static_cast<std::uint8_t>(id_len);
  std::memcpy(out.id, id.data(), id_len);
  return out;
}

}  // namespace ringftpd::tls
