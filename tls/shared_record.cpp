#include "tls/shared_record.hpp"

#include <string.h>  // explicit_bzero

#include <cstring>

#include "tls/error.hpp"
#include "tls/wolfssl.hpp"

namespace ringftpd::tls {
namespace {

constexpr std::uint8_t kKindTicketKey = 1;
constexpr std::uint8_t kKindSession = 2;
constexpr std::size_t kHead = 2;  // version, kind
constexpr std::size_t kNonce = 12;
constexpr std::size_t kTag = 16;
constexpr std::size_t kMac = 32;
constexpr std::size_t kKeyPublic = 4 + 8;      // id, not_before
constexpr std::size_t kSessionPublic = 8 + 8;  // origin, expires
constexpr std::size_t kMaxSessionDer = 64 * 1024;

void put_u64(std::uint8_t* p, std::uint64_t v) noexcept {
  for (int i = 7; i >= 0; --i, v >>= 8) p[i] = static_cast<std::uint8_t>(v);
}
void put_u32(std::uint8_t* p, std::uint32_t v) noexcept {
  for (int i = 3; i >= 0; --i, v >>= 8) p[i] = static_cast<std::uint8_t>(v);
}
std::uint64_t get_u64(const std::uint8_t* p) noexcept {
  std::uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | p[i];
  return v;
}
std::uint32_t get_u32(const std::uint8_t* p) noexcept {
  std::uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v = (v << 8) | p[i];
  return v;
}

// HMAC-SHA256(key, parts...) into out.
bool hmac_sha256(std::span<const std::uint8_t> key,
                 std::initializer_list<std::span<const std::uint8_t>> parts,
                 std::span<std::uint8_t, 32> out) noexcept {
  Hmac h;
  if (wc_HmacInit(&h, nullptr, INVALID_DEVID) != 0) return false;
  bool ok = wc_HmacSetKey(&h, WC_SHA256, key.data(), static_cast<word32>(key.size())) == 0;
  for (const auto& p : parts) {
    ok = ok && wc_HmacUpdate(&h, p.data(), static_cast<word32>(p.size())) == 0;
  }
  ok = ok && wc_HmacFinal(&h, out.data()) == 0;
  wc_HmacFree(&h);
  return ok;
}

std::span<const std::uint8_t> bytes_of(std::string_view s) noexcept {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

}  // namespace

RecordSealer::RecordSealer(std::span<const std::uint8_t> secret) {
  if (secret.size() < kMinSharedSecretBytes) {
    throw TlsError("the shared secret must be at least " + std::to_string(kMinSharedSecretBytes) +
                   " bytes");
  }
  // Two keys from one secret, each for one job.
  if (!hmac_sha256(secret, {bytes_of("ringftpd shared record v1 encryption")}, enc_key_) ||
      !hmac_sha256(secret, {bytes_of("ringftpd shared record v1 authentication")}, mac_key_)) {
    throw TlsError("cannot derive the shared record keys");
  }
}

RecordSealer::~RecordSealer() {
  explicit_bzero(enc_key_.data(), enc_key_.size());
  explicit_bzero(mac_key_.data(), mac_key_.size());
}

bool RecordSealer::mac(std::span<const std::uint8_t> record, std::string_view name,
                       std::span<std::uint8_t, 32> out) noexcept {
  std::uint8_t name_len[4];
  put_u32(name_len, static_cast<std::uint32_t>(name.size()));
  return hmac_sha256(mac_key_, {std::span<const std::uint8_t>(name_len), bytes_of(name), record},
                     out);
}

std::optional<std::vector<std::uint8_t>> RecordSealer::seal(
    std::uint8_t kind, std::span<const std::uint8_t> public_fields,
    std::span<const std::uint8_t> secret_fields, std::string_view name,
    std::span<const std::uint8_t, 12> nonce) noexcept {
  try {
    const std::size_t head = kHead + public_fields.size();
    std::vector<std::uint8_t> out(head + kNonce + secret_fields.size() + kTag + kMac);
    out[0] = kSharedRecordVersion;
    out[1] = kind;
    std::memcpy(out.data() + kHead, public_fields.data(), public_fields.size());
    std::memcpy(out.data() + head, nonce.data(), kNonce);
    std::uint8_t* cipher = out.data() + head + kNonce;
    std::uint8_t* tag = cipher + secret_fields.size();
    // The GCM AAD binds the public fields and the name to the ciphertext.
    std::vector<std::uint8_t> aad(out.begin(), out.begin() + static_cast<std::ptrdiff_t>(head));
    aad.insert(aad.end(), name.begin(), name.end());
    Aes aes;
    if (wc_AesInit(&aes, nullptr, INVALID_DEVID) != 0) return std::nullopt;
    const bool ok =
        wc_AesGcmSetKey(&aes, enc_key_.data(), static_cast<word32>(enc_key_.size())) == 0 &&
        wc_AesGcmEncrypt(&aes, cipher, secret_fields.data(),
                         static_cast<word32>(secret_fields.size()), nonce.data(), kNonce, tag, kTag,
                         aad.data(), static_cast<word32>(aad.size())) == 0;
    wc_AesFree(&aes);
    if (!ok) return std::nullopt;
    const std::span<const std::uint8_t> covered(out.data(), out.size() - kMac);
    if (!mac(covered, name, std::span<std::uint8_t, 32>(out.data() + out.size() - kMac, kMac))) {
      return std::nullopt;
    }
    return out;
  } catch (...) {  // bad_alloc
    return std::nullopt;
  }
}

bool RecordSealer::open(std::uint8_t kind, std::size_t public_bytes,
                        std::span<const std::uint8_t> record, std::string_view name,
                        std::vector<std::uint8_t>& plain, RecordError& why) noexcept {
  const std::size_t head = kHead + public_bytes;
  if (record.size() < head + kNonce + kTag + kMac || record[1] != kind) {
    why = RecordError::Malformed;
    return false;
  }
  if (record[0] != kSharedRecordVersion) {
    why = RecordError::Version;
    return false;
  }
  std::array<std::uint8_t, kMac> expected;
  if (!mac(record.first(record.size() - kMac), name, expected)) {
    why = RecordError::Crypto;
    return false;
  }
  // Constant time: the comparison must not tell a forger how close it came.
  std::uint8_t diff = 0;
  for (std::size_t i = 0; i < kMac; ++i) diff |= expected[i] ^ record[record.size() - kMac + i];
  if (diff != 0) {
    why = RecordError::Mac;
    return false;
  }
  try {
    const std::size_t secret_bytes = record.size() - head - kNonce - kTag - kMac;
    plain.assign(secret_bytes, 0);
    std::vector<std::uint8_t> aad(record.begin(),
                                  record.begin() + static_cast<std::ptrdiff_t>(head));
    aad.insert(aad.end(), name.begin(), name.end());
    const std::uint8_t* nonce = record.data() + head;
    const std::uint8_t* cipher = nonce + kNonce;
    const std::uint8_t* tag = cipher + secret_bytes;
    Aes aes;
    if (wc_AesInit(&aes, nullptr, INVALID_DEVID) != 0) {
      why = RecordError::Crypto;
      return false;
    }
    const bool ok =
        wc_AesGcmSetKey(&aes, enc_key_.data(), static_cast<word32>(enc_key_.size())) == 0 &&
        wc_AesGcmDecrypt(&aes, plain.data(), cipher, static_cast<word32>(secret_bytes), nonce,
                         kNonce, tag, kTag, aad.data(), static_cast<word32>(aad.size())) == 0;
    wc_AesFree(&aes);
    if (!ok) {
      explicit_bzero(plain.data(), plain.size());
      why = RecordError::Mac;  // the MAC held but GCM did not: same answer
      return false;
    }
    return true;
  } catch (...) {
    why = RecordError::Crypto;
    return false;
  }
}

std::optional<std::vector<std::uint8_t>> RecordSealer::seal_key(
    const SharedTicketKey& key, std::string_view name,
    std::span<const std::uint8_t, 12> nonce) noexcept {
  std::uint8_t pub[kKeyPublic];
  put_u32(pub, key.id);
  put_u64(pub + 4, static_cast<std::uint64_t>(key.not_before_unix_ms));
  std::uint8_t secret[sizeof key.aes_key + sizeof key.mask_key];
  std::memcpy(secret, key.aes_key, sizeof key.aes_key);
  std::memcpy(secret + sizeof key.aes_key, key.mask_key, sizeof key.mask_key);
  auto out = seal(kKindTicketKey, pub, secret, name, nonce);
  explicit_bzero(secret, sizeof secret);
  return out;
}

bool RecordSealer::open_key(std::span<const std::uint8_t> record, std::string_view name,
                            SharedTicketKey& out, RecordError& why) noexcept {
  std::vector<std::uint8_t> plain;
  if (!open(kKindTicketKey, kKeyPublic, record, name, plain, why)) return false;
  const bool ok = plain.size() == sizeof out.aes_key + sizeof out.mask_key &&
                  get_u32(record.data() + kHead) != 0;
  if (ok) {
    out.id = get_u32(record.data() + kHead);
    out.not_before_unix_ms = static_cast<std::int64_t>(get_u64(record.data() + kHead + 4));
    std::memcpy(out.aes_key, plain.data(), sizeof out.aes_key);
    std::memcpy(out.mask_key, plain.data() + sizeof out.aes_key, sizeof out.mask_key);
  } else {
    why = RecordError::Malformed;
  }
  explicit_bzero(plain.data(), plain.size());
  return ok;
}

std::optional<std::vector<std::uint8_t>> RecordSealer::seal_session(
    const SharedSession& session, std::string_view name,
    std::span<const std::uint8_t, 12> nonce) noexcept {
  if (session.der.empty() || session.der.size() > kMaxSessionDer) return std::nullopt;
  std::uint8_t pub[kSessionPublic];
  put_u64(pub, session.origin);
  put_u64(pub + 8, static_cast<std::uint64_t>(session.expires_unix_ms));
  return seal(kKindSession, pub, session.der, name, nonce);
}

bool RecordSealer::open_session(std::span<const std::uint8_t> record, std::string_view name,
                                SharedSession& out, RecordError& why) noexcept {
  if (!open(kKindSession, kSessionPublic, record, name, out.der, why)) return false;
  if (out.der.empty() || out.der.size() > kMaxSessionDer) {
    explicit_bzero(out.der.data(), out.der.size());
    out.der.clear();
    why = RecordError::Malformed;
    return false;
  }
  out.origin = get_u64(record.data() + kHead);
  out.expires_unix_ms = static_cast<std::int64_t>(get_u64(record.data() + kHead + 8));
  return true;
}

}  // namespace ringftpd::tls
