#include "tls/ticket_keys.hpp"

#include <string.h>  // explicit_bzero

#include <array>
#include <cstring>

#include "tls/wolfssl.hpp"

namespace ringftpd::tls {

// One key of the ring as this process uses it.
struct TicketKeys::Key {
  KeyId id = 0;                    // 0: a free entry
  std::int64_t drop_after_ns = 0;  // INT64_MAX until retired
  bool ready = false;              // aes and hmac are set up
  Aes aes;                         // the AES-GCM key schedule
  Hmac hmac;                       // keyed with mask_key, reusable after each Final
  std::uint8_t aes_key[detail::kTicketKeyBytes];
  std::uint8_t mask_key[detail::kMaskKeyBytes];
};

TicketKeys::TicketKeys(std::shared_ptr<SharedTlsState> state)
    : state_(std::move(state)),
      capacity_(state_->ticket_key_capacity()),
      keys_(new Key[capacity_]()),
      scratch_(new detail::TicketKeyRecord[capacity_]()) {}

TicketKeys::~TicketKeys() {
  for (std::size_t i = 0; i < capacity_; ++i) release(keys_[i]);
}

void TicketKeys::release(Key& key) noexcept {
  if (key.ready) {
    wc_AesFree(&key.aes);
    wc_HmacFree(&key.hmac);
  }
  explicit_bzero(&key, sizeof key);  // the schedules are the keys
}

void TicketKeys::refresh_if_changed() noexcept {
  if (generation_ != 0 && state_->ticket_key_generation() == generation_) return;
  std::uint32_t current = 0;
  std::uint64_t generation = 0;
  const std::span<detail::TicketKeyRecord> ring(scratch_.get(), capacity_);
  const std::size_t n = state_->snapshot_ticket_keys(ring, current, generation);
  if (n == 0) return;  // the lock failed: keep what we have, try again next call
  // Keys that left the ring leave this copy too.
  for (std::size_t i = 0; i < capacity_; ++i) {
    Key& key = keys_[i];
    if (key.id == 0) continue;
    bool live = false;
    for (std::size_t r = 0; r < n && !live; ++r) live = ring[r].id == key.id;
    if (!live) release(key);
  }
  // New keys are copied; their schedules wait for first use.
  for (std::size_t r = 0; r < n; ++r) {
    Key* slot = nullptr;
    for (std::size_t i = 0; i < capacity_; ++i) {
      if (keys_[i].id == ring[r].id) {
        slot = &keys_[i];
        break;
      }
      if (slot == nullptr && keys_[i].id == 0) slot = &keys_[i];
    }
    if (slot == nullptr) break;  // cannot happen: both hold at most capacity_ keys
    // The same id with other material: the cluster reused an id (Redis lost
    // its keys), so this copy must not keep the old schedules.
    if (slot->id == ring[r].id &&
        (std::memcmp(slot->aes_key, ring[r].aes_key, sizeof slot->aes_key) != 0 ||
         std::memcmp(slot->mask_key, ring[r].mask_key, sizeof slot->mask_key) != 0)) {
      release(*slot);
    }
    if (slot->id != ring[r].id) {
      slot->id = ring[r].id;
      slot->ready = false;
      std::memcpy(slot->aes_key, ring[r].aes_key, sizeof slot->aes_key);
      std::memcpy(slot->mask_key, ring[r].mask_key, sizeof slot->mask_key);
    }
    slot->drop_after_ns = ring[r].drop_after_ns;
  }
  explicit_bzero(ring.data(), ring.size_bytes());
  current_ = current;
  generation_ = generation;
}

TicketKeys::Key* TicketKeys::usable(KeyId id) noexcept {
  if (id == 0) return nullptr;
  Key* key = nullptr;
  for (std::size_t i = 0; i < capacity_ && key == nullptr; ++i) {
    if (keys_[i].id == id) key = &keys_[i];
  }
  if (key == nullptr || key->ready) return key;
  if (wc_AesInit(&key->aes, nullptr, INVALID_DEVID) != 0) return nullptr;
  if (wc_HmacInit(&key->hmac, nullptr, INVALID_DEVID) != 0) {
    wc_AesFree(&key->aes);
    return nullptr;
  }
  if (wc_AesGcmSetKey(&key->aes, key->aes_key, sizeof key->aes_key) != 0 ||
      wc_HmacSetKey(&key->hmac, WC_SHA256, key->mask_key, sizeof key->mask_key) != 0) {
    wc_AesFree(&key->aes);
    wc_HmacFree(&key->hmac);
    return nullptr;
  }
  key->ready = true;
  return key;
}

std::optional<TicketKeys::KeyId> TicketKeys::current() noexcept {
  refresh_if_changed();
  if (current_ == 0) return std::nullopt;
  return current_;
}

bool TicketKeys::seal(KeyId id, std::span<std::uint8_t> data,
                      std::span<const std::uint8_t, kNonceBytes> nonce,
                      std::span<const std::uint8_t> aad,
                      std::span<std::uint8_t, kTagBytes> tag) noexcept {
  refresh_if_changed();
  Key* key = usable(id);
  return key != nullptr &&
         wc_AesGcmEncrypt(&key->aes, data.data(), data.data(), static_cast<word32>(data.size()),
                          nonce.data(), static_cast<word32>(nonce.size()), tag.data(),
                          static_cast<word32>(tag.size()), aad.data(),
                          static_cast<word32>(aad.size())) == 0;
}

TicketKeys::Opened TicketKeys::open(KeyId id, SteadyTime now, std::span<std::uint8_t> data,
                                    std::span<const std::uint8_t, kNonceBytes> nonce,
                                    std::span<const std::uint8_t> aad,
                                    std::span<const std::uint8_t, kTagBytes> tag) noexcept {
  refresh_if_changed();
  Key* key = usable(id);
  if (key == nullptr) return Opened::UnknownKey;
  const bool is_current = id == current_;
  // The master's timer may be late to drop it; its time is up all the same.
  if (!is_current && key->drop_after_ns <= detail::to_ns(now)) return Opened::UnknownKey;
  const int rc = wc_AesGcmDecrypt(
      &key->aes, data.data(), data.data(), static_cast<word32>(data.size()), nonce.data(),
      static_cast<word32>(nonce.size()), tag.data(), static_cast<word32>(tag.size()), aad.data(),
      static_cast<word32>(aad.size()));
  if (rc != 0) return Opened::Forged;
  return is_current ? Opened::WithCurrent : Opened::WithRetired;
}

std::optional<std::uint64_t> TicketKeys::mask(KeyId id,
                                              std::span<const std::uint8_t> input) noexcept {
  refresh_if_changed();
  Key* key = usable(id);
  if (key == nullptr) return std::nullopt;
  std::array<std::uint8_t, WC_SHA256_DIGEST_SIZE> digest;
  if (wc_HmacUpdate(&key->hmac, input.data(), static_cast<word32>(input.size())) != 0 ||
      wc_HmacFinal(&key->hmac, digest.data()) != 0) {
    // Its state may be half-updated: set it up afresh on next use.
    wc_AesFree(&key->aes);
    wc_HmacFree(&key->hmac);
    key->ready = false;
    return std::nullopt;
  }
  std::uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | digest[static_cast<std::size_t>(i)];
  explicit_bzero(digest.data(), digest.size());
  return v;
}

}  // namespace ringftpd::tls
