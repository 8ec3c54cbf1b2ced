#include "server/auth/messages.hpp"

#include <string.h>  // explicit_bzero

#include <algorithm>
#include <string_view>

#include "config/config.hpp"

namespace ringftpd::server::auth {
namespace {

// Sequential little-endian writer into a vector.
class Writer {
 public:
  explicit Writer(std::vector<std::byte>& out) : out_(out) {}
  void u8(std::uint8_t v) { out_.push_back(static_cast<std::byte>(v)); }
  void u16(std::uint16_t v) { put(v, 2); }
  void u32(std::uint32_t v) { put(v, 4); }
  void u64(std::uint64_t v) { put(v, 8); }
  void bytes(std::string_view s) {
    for (char c : s) out_.push_back(static_cast<std::byte>(c));
  }

 private:
  void put(std::uint64_t v, int n) {
    for (int i = 0; i < n; ++i) out_.push_back(static_cast<std::byte>((v >> (8 * i)) & 0xff));
  }
  std::vector<std::byte>& out_;
};

// Sequential little-endian reader; every read is bounds-checked and a failed
// read poisons the reader, so callers check ok() once at the end.
class Reader {
 public:
  explicit Reader(std::span<const std::byte> in) : in_(in) {}
  std::uint8_t u8() { return static_cast<std::uint8_t>(get(1)); }
  std::uint16_t u16() { return static_cast<std::uint16_t>(get(2)); }
  std::uint32_t u32() { return static_cast<std::uint32_t>(get(4)); }
  std::uint64_t u64() { return get(8); }
  // Straight into out (no temporary that would leave a copy of a password behind).
  void string(std::size_t n, std::string& out) {
    if (!take(n)) return;
    out.resize(n);
    for (std::size_t i = 0; i < n; ++i) out[i] = static_cast<char>(in_[pos_ - n + i]);
  }
  [[nodiscard]] bool ok() const { return ok_; }
  [[nodiscard]] bool at_end() const { return ok_ && pos_ == in_.size(); }

 private:
  bool take(std::size_t n) {
    if (!ok_ || in_.size() - pos_ < n) {
      ok_ = false;
      return false;
    }
    pos_ += n;
    return true;
  }
  std::uint64_t get(std::size_t n) {
    if (!take(n)) return 0;
    std::uint64_t v = 0;
    for (std::size_t i = 0; i < n; ++i) {
      v |= std::uint64_t{static_cast<std::uint8_t>(in_[pos_ - n + i])} << (8 * i);
    }
    return v;
  }
  std::span<const std::byte> in_;
  std::size_t pos_ = 0;
  bool ok_ = true;
};

bool has_nul(std::string_view s) {
  return s.find('\0') != std::string_view::npos;
}

bool fits(std::string_view s, std::size_t max) {
  return s.size() <= max && !has_nul(s);
}

bool valid_kind(std::uint8_t k) {
  return k == static_cast<std::uint8_t>(Kind::VerifyPassword) ||
         k == static_cast<std::uint8_t>(Kind::LookupUser);
}

bool valid_result(std::uint8_t r) {
  return r >= static_cast<std::uint8_t>(Result::Allowed) &&
         r <= static_cast<std::uint8_t>(Result::Unavailable);
}

// Field rules shared by encode and decode, so every encodable message decodes
// to itself and nothing else does.
bool valid(const Request& r) {
  if (!valid_kind(static_cast<std::uint8_t>(r.kind))) return false;
  if (!fits(r.user, kMaxUserBytes) || !fits(r.password, kMaxPasswordBytes) ||
      !fits(r.peer_ip, kMaxPeerIpBytes)) {
    return false;
  }
  return r.kind != Kind::LookupUser || r.password.empty();  // no secret rides along unasked
}

bool valid(const Reply& r) {
  if (!valid_result(static_cast<std::uint8_t>(r.result))) return false;
  if (!fits(r.root, kMaxRootBytes) || r.retry_after_ms > kMaxRetryAfterMs) return false;
  if ((r.permissions & ~config::kPermAll) != 0) return false;
  if (r.max_sessions > config::kMaxUserSessions ||
      r.bandwidth_bytes_per_second > config::kMaxBandwidthBytesPerSecond) {
    return false;
  }
  if (r.result == Result::Allowed) return !r.root.empty() && r.retry_after_ms == 0;
  // Nothing granted unless Allowed.
  return r.root.empty() && r.permissions == 0 && r.max_sessions == 0 &&
         r.bandwidth_bytes_per_second == 0;
}

}  // namespace

bool encode(const Request& request, std::vector<std::byte>& out) {
  out.clear();
  if (!valid(request)) return false;
  out.reserve(kRequestHeaderBytes + request.user.size() + request.password.size() +
              request.peer_ip.size());
  Writer w(out);
  w.u32(kRequestMagic);
  w.u64(request.request_id);
  w.u8(static_cast<std::uint8_t>(request.kind));
  w.u8(static_cast<std::uint8_t>(request.user.size()));
  w.u16(static_cast<std::uint16_t>(request.password.size()));
  w.u8(static_cast<std::uint8_t>(request.peer_ip.size()));
  w.bytes(request.user);
  w.bytes(request.password);
  w.bytes(request.peer_ip);
  return true;
}

bool encode(const Reply& reply, std::vector<std::byte>& out) {
  out.clear();
  if (!valid(reply)) return false;
  out.reserve(kReplyHeaderBytes + reply.root.size());
  Writer w(out);
  w.u32(kReplyMagic);
  w.u64(reply.request_id);
  w.u8(static_cast<std::uint8_t>(reply.result));
  w.u8(reply.permissions);
  w.u32(reply.retry_after_ms);
  w.u32(reply.max_sessions);
  w.u64(reply.bandwidth_bytes_per_second);
  w.u16(static_cast<std::uint16_t>(reply.root.size()));
  w.bytes(reply.root);
  return true;
}

std::optional<Request> decode_request(std::span<const std::byte> datagram) {
  if (datagram.size() < kRequestHeaderBytes || datagram.size() > kMaxRequestBytes) {
    return std::nullopt;
  }
  Reader r(datagram);
  if (r.u32() != kRequestMagic) return std::nullopt;
  std::optional<Request> out(std::in_place);  // built in place: the password is never copied
  Request& req = *out;
  req.request_id = r.u64();
  const std::uint8_t kind = r.u8();
  const std::size_t user_len = r.u8();
  const std::size_t password_len = r.u16();
  const std::size_t peer_ip_len = r.u8();
  if (!valid_kind(kind)) return std::nullopt;
  // Check the lengths against the datagram before allocating anything.
  if (kRequestHeaderBytes + user_len + password_len + peer_ip_len != datagram.size()) {
    return std::nullopt;
  }
  req.kind = static_cast<Kind>(kind);
  r.string(user_len, req.user);
  r.string(password_len, req.password);
  r.string(peer_ip_len, req.peer_ip);
  if (!r.at_end() || !valid(req)) {
    wipe(req.password);
    return std::nullopt;
  }
  return out;
}

std::optional<Reply> decode_reply(std::span<const std::byte> datagram) {
  if (datagram.size() < kReplyHeaderBytes || datagram.size() > kMaxReplyBytes) {
    return std::nullopt;
  }
  Reader r(datagram);
  if (r.u32() != kReplyMagic) return std::nullopt;
  Reply rep;
  rep.request_id = r.u64();
  const std::uint8_t result = r.u8();
  rep.permissions = r.u8();
  rep.retry_after_ms = r.u32();
  rep.max_sessions = r.u32();
  rep.bandwidth_bytes_per_second = r.u64();
  const std::size_t root_len = r.u16();
  if (!valid_result(result) || kReplyHeaderBytes + root_len != datagram.size()) {
    return std::nullopt;
  }
  rep.result = static_cast<Result>(result);
  r.string(root_len, rep.root);
  if (!r.at_end() || !valid(rep)) return std::nullopt;
  return rep;
}

std::optional<std::uint64_t> peek_request_id(std::span<const std::byte> datagram) {
  Reader r(datagram);
  const std::uint32_t magic = r.u32();
  const std::uint64_t id = r.u64();
  if (!r.ok() || magic != kRequestMagic) return std::nullopt;
  return id;
}

void wipe(std::span<std::byte> bytes) noexcept {
  if (!bytes.empty()) ::explicit_bzero(bytes.data(), bytes.size());
}

void wipe(std::vector<std::byte>& bytes) noexcept {
  bytes.resize(bytes.capacity());  // the whole allocation, not just the live part
  wipe(std::span<std::byte>(bytes));
  bytes.clear();
}

void wipe(std::string& s) noexcept {
  s.resize(s.capacity());  // covers bytes of an earlier, longer value too
  if (!s.empty()) ::explicit_bzero(s.data(), s.size());
  s.clear();
}

}  // namespace ringftpd::server::auth
