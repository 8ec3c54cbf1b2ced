#include "tls/ticket_keys.hpp"

#include <string.h>  // explicit_bzero

#include <array>
#include <new>

#include "tls/error.hpp"

namespace ringftpd::tls {

// An AES key schedule ready for GCM, and the id tickets name it by.
struct TicketKeys::Key {
  KeyId id = 0;
  Aes aes;
  bool aes_ready = false;
};

void TicketKeys::KeyFree::operator()(Key* k) const noexcept {
  if (k->aes_ready) wc_AesFree(&k->aes);
  explicit_bzero(&k->aes, sizeof k->aes);  // the schedule is the key
  delete k;
}

TicketKeys::TicketKeys() {
  current_ = make_key();  // not in the initializer list: make_key reads current_
  if (!current_) throw TlsError("cannot create a session ticket key");
}

TicketKeys::~TicketKeys() = default;

TicketKeys::KeyPtr TicketKeys::make_key() noexcept {
  KeyPtr key(new (std::nothrow) Key);
  if (!key) return nullptr;
  // A fresh id, distinct from both live ones, so a ticket never names the
  // wrong key (an old ticket would merely fail its tag check, but would then
  // count as forged rather than unknown).
  for (int attempt = 0; key->id == 0; ++attempt) {
    const std::optional<std::uint64_t> r = rng_.nonzero_u64();
    if (!r || attempt == 8) return nullptr;
    const auto id = static_cast<KeyId>(*r);
    if (id == 0 || (current_ && current_->id == id) || (previous_ && previous_->id == id)) continue;
    key->id = id;
  }
  std::array<std::uint8_t, kKeyBytes> bytes;
  bool ok = rng_.fill(bytes) && wc_AesInit(&key->aes, nullptr, INVALID_DEVID) == 0;
  key->aes_ready = ok;
  ok = ok && wc_AesGcmSetKey(&key->aes, bytes.data(), static_cast<word32>(bytes.size())) == 0;
  explicit_bzero(bytes.data(), bytes.size());
  return ok ? std::move(key) : nullptr;
}

bool TicketKeys::rotate() noexcept {
  KeyPtr fresh = make_key();
  if (!fresh) return false;
  previous_ = std::move(current_);
  current_ = std::move(fresh);
  return true;
}

TicketKeys::KeyId TicketKeys::current_id() const noexcept {
  return current_->id;
}

std::optional<TicketKeys::KeyId> TicketKeys::previous_id() const noexcept {
  if (!previous_) return std::nullopt;
  return previous_->id;
}

bool TicketKeys::seal(std::span<std::uint8_t> data,
                      std::span<const std::uint8_t, kNonceBytes> nonce,
                      std::span<const std::uint8_t> aad,
                      std::span<std::uint8_t, kTagBytes> tag) noexcept {
  return wc_AesGcmEncrypt(
             &current_->aes, data.data(), data.data(), static_cast<word32>(data.size()),
             nonce.data(), static_cast<word32>(nonce.size()), tag.data(),
             static_cast<word32>(tag.size()), aad.data(), static_cast<word32>(aad.size())) == 0;
}

TicketKeys::Opened TicketKeys::open(KeyId key, std::span<std::uint8_t> data,
                                    std::span<const std::uint8_t, kNonceBytes> nonce,
                                    std::span<const std::uint8_t> aad,
                                    std::span<const std::uint8_t, kTagBytes> tag) noexcept {
  Key* k = nullptr;
  Opened with = Opened::UnknownKey;
  if (key == current_->id) {
    k = current_.get();
    with = Opened::WithCurrent;
  } else if (previous_ && key == previous_->id) {
    k = previous_.get();
    with = Opened::WithPrevious;
  }
  if (k == nullptr) return Opened::UnknownKey;
  const int rc = wc_AesGcmDecrypt(
      &k->aes, data.data(), data.data(), static_cast<word32>(data.size()), nonce.data(),
      static_cast<word32>(nonce.size()), tag.data(), static_cast<word32>(tag.size()), aad.data(),
      static_cast<word32>(aad.size()));
  return rc == 0 ? with : Opened::Forged;
}

}  // namespace ringftpd::tls
