// tls::TicketKeys: one process's working copy of the shared ticket key ring
// (SharedTlsState, ticket_key_ring.hpp): the AES-256-GCM key schedules that
// seal and open session tickets, and the HMAC-SHA256 keys that mask the
// origin a ticket carries (resumption.cpp).
//
// The ring's current key seals new tickets; a retired key still opens its
// tickets until retired_at + the session lifetime. A ticket naming any other
// key id cannot be opened, and the server answers it with a full handshake,
// never a failure (resumption.cpp maps this to WOLFSSL_TICKET_RET_REJECT).
//
// Caching: each call first compares the ring's generation with the one this
// copy was taken at (one atomic load); only when it changed does it copy the
// ring (under the shared lock). A key's AES schedule and HMAC state are set
// up the first time this process uses the key (wc_AesGcmSetKey once per key
// per process), and wiped when the key leaves the ring or this object dies.
//
// Contract:
// - Made by the process that uses it, after fork (a worker, inside its
//   Resumption); one thread. Keeps its SharedTlsState alive.
// - Key material never leaves this object and the region.
// - Only the constructor throws (std::bad_alloc); everything else is noexcept
//   and reports failure as a value.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>

#include "tls/shared_tls_state.hpp"

namespace ringftpd::tls {

class TicketKeys {
 public:
  using KeyId = std::uint32_t;                    // never 0
  static constexpr std::size_t kNonceBytes = 12;  // GCM's native IV size
  static constexpr std::size_t kTagBytes = 16;

  explicit TicketKeys(std::shared_ptr<SharedTlsState> state);
  ~TicketKeys();
  TicketKeys(const TicketKeys&) = delete;
  TicketKeys& operator=(const TicketKeys&) = delete;

  // The key new tickets are sealed with; nullopt if the ring cannot be read.
  [[nodiscard]] std::optional<KeyId> current() noexcept;

  // Encrypts `data` in place under key `key` (from current()),
  // authenticating `aad` too, and writes the tag. `nonce` must never repeat
  // under one key (callers draw it from a Random made after fork). false on
  // an unknown key or a wolfCrypt failure.
  [[nodiscard]] bool seal(KeyId key, std::span<std::uint8_t> data,
                          std::span<const std::uint8_t, kNonceBytes> nonce,
                          std::span<const std::uint8_t> aad,
                          std::span<std::uint8_t, kTagBytes> tag) noexcept;

  enum class Opened : std::uint8_t {
    WithCurrent,  // `data` is now plaintext
    WithRetired,  // likewise, under a retired key: worth re-issuing
    UnknownKey,   // no live key has this id (dropped, another server, junk)
    Forged,       // the tag does not verify: `data` is garbage
  };
  // Decrypts `data` in place with key `key`, checking the tag over it and
  // `aad`. A retired key whose time is up at `now` is unknown, even before
  // the master drops it.
  [[nodiscard]] Opened open(KeyId key, SteadyTime now, std::span<std::uint8_t> data,
                            std::span<const std::uint8_t, kNonceBytes> nonce,
                            std::span<const std::uint8_t> aad,
                            std::span<const std::uint8_t, kTagBytes> tag) noexcept;

  // The first 8 bytes of HMAC-SHA256(key's mask key, input), big-endian: the
  // mask that hides a ticket's origin. nullopt on an unknown key or a
  // wolfCrypt failure.
  [[nodiscard]] std::optional<std::uint64_t> mask(KeyId key,
                                                  std::span<const std::uint8_t> input) noexcept;

 private:
  struct Key;
  void refresh_if_changed() noexcept;
  [[nodiscard]] Key* usable(KeyId id) noexcept;  // found, schedules ready
  static void release(Key& key) noexcept;

  std::shared_ptr<SharedTlsState> state_;
  std::size_t capacity_;
  std::unique_ptr<Key[]> keys_;                         // capacity_ entries; id 0: free
  std::unique_ptr<detail::TicketKeyRecord[]> scratch_;  // a ring copy, wiped after use
  std::uint64_t generation_ = 0;                        // 0: never copied
  KeyId current_ = 0;
};

}  // namespace ringftpd::tls
