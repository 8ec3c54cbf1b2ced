// tls::TicketKeys: the keys that seal TLS session tickets (AES-256-GCM).
//
// The current key seals new tickets; the previous key (the current one before
// the last rotate()) still opens the tickets it sealed. A ticket naming any
// other key id cannot be opened, and the server answers it with a full
// handshake, never a failure (resumption.cpp maps this to wolfSSL's
// WOLFSSL_TICKET_RET_REJECT).
//
// Contract:
// - Made by the process that uses it, after fork (see random.hpp); one
//   worker, one thread, no locking. A later issue moves the key material into
//   shared memory so that every worker opens every worker's tickets.
// - A ticket stays openable for one to two rotation periods, so rotate() at
//   most once per session lifetime (ServerOptions::session_lifetime), or
//   tickets die before the lifetime they advertise.
// - Key material never leaves this object and is wiped when dropped.
// - Only the constructor throws (TlsError, start-up); everything else is
//   noexcept and reports failure as a value.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>

#include "tls/random.hpp"

namespace ringftpd::tls {

class TicketKeys {
 public:
  using KeyId = std::uint32_t;  // never 0; random, so ids of two workers rarely collide
  static constexpr std::size_t kKeyBytes = 32;    // AES-256
  static constexpr std::size_t kNonceBytes = 12;  // GCM's native IV size
  static constexpr std::size_t kTagBytes = 16;

  TicketKeys();  // a fresh current key, no previous key
  ~TicketKeys();
  TicketKeys(const TicketKeys&) = delete;
  TicketKeys& operator=(const TicketKeys&) = delete;

  // A new random current key; the current one becomes the previous one and
  // the previous one is dropped (its tickets now get full handshakes).
  // false, keys unchanged, only if the DRBG or the AES setup failed.
  [[nodiscard]] bool rotate() noexcept;

  [[nodiscard]] KeyId current_id() const noexcept;
  [[nodiscard]] std::optional<KeyId> previous_id() const noexcept;

  // Encrypts `data` in place under the current key, authenticating `aad`
  // too, and writes the tag. `nonce` must never repeat under one key (callers
  // draw it from a Random). false on a wolfCrypt failure.
  [[nodiscard]] bool seal(std::span<std::uint8_t> data,
                          std::span<const std::uint8_t, kNonceBytes> nonce,
                          std::span<const std::uint8_t> aad,
                          std::span<std::uint8_t, kTagBytes> tag) noexcept;

  enum class Opened : std::uint8_t {
    WithCurrent,   // `data` is now plaintext
    WithPrevious,  // likewise, under the previous key: worth re-issuing
    UnknownKey,    // no key has this id (rotated out, another server, junk)
    Forged,        // the tag does not verify: `data` is garbage
  };
  // Decrypts `data` in place with key `key`, checking the tag over it and `aad`.
  [[nodiscard]] Opened open(KeyId key, std::span<std::uint8_t> data,
                            std::span<const std::uint8_t, kNonceBytes> nonce,
                            std::span<const std::uint8_t> aad,
                            std::span<const std::uint8_t, kTagBytes> tag) noexcept;

 private:
  struct Key;
  struct KeyFree {
    void operator()(Key* k) const noexcept;
  };
  using KeyPtr = std::unique_ptr<Key, KeyFree>;
  [[nodiscard]] KeyPtr make_key() noexcept;

  Random rng_;
  KeyPtr current_;
  KeyPtr previous_;
};

}  // namespace ringftpd::tls
