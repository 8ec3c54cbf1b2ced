// tls::SessionStore: the server's TLS 1.2 session cache (resumption by
// session ID), outside wolfSSL's process-global internal cache. Each entry
// is a serialized session (wolfSSL_i2d_SSL_SESSION) plus the origin (control
// connection) it descends from, which a data connection's check needs.
//
// Contract:
// - An interface so that a later issue can keep it in shared memory across
//   workers; InProcessSessionStore serves one worker now.
// - Called from inside wolfSSL's session cache callbacks: every member is
//   noexcept and reports failure as a value. One thread per object.
// - A serialized session holds its master secret: keep it out of logs and
//   core dumps where possible; the in-process store wipes entries it drops.
// - Bounded: a full store forgets its oldest entry; a forgotten session gets
//   a full handshake (the server then refuses it on a data connection).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "tls/expiring_map.hpp"

namespace ringftpd::tls {

class SessionStore {
 public:
  virtual ~SessionStore() = default;

  // Stores `der` under session `id` (1..32 bytes) until `expires`, replacing
  // any entry with that id. Origin 0 means "none" (still resumable, never
  // accepted on a data connection). false if not stored (bad id, out of memory).
  virtual bool put(std::span<const std::uint8_t> id, std::span<const std::uint8_t> der,
                   std::uint64_t origin, SteadyTime expires, SteadyTime now) noexcept = 0;
  // Copies the live entry for `id` into `der_out` (the caller wipes it after
  // use) and returns its origin; nullopt if absent or expired.
  [[nodiscard]] virtual std::optional<std::uint64_t> get(
      std::span<const std::uint8_t> id, SteadyTime now,
      std::vector<std::uint8_t>& der_out) noexcept = 0;
  // Forgets `id` (e.g. the server invalidates a session).
  virtual void remove(std::span<const std::uint8_t> id) noexcept = 0;
};

class InProcessSessionStore final : public SessionStore {
 public:
  explicit InProcessSessionStore(std::size_t max_entries);

  bool put(std::span<const std::uint8_t> id, std::span<const std::uint8_t> der,
           std::uint64_t origin, SteadyTime expires, SteadyTime now) noexcept override;
  [[nodiscard]] std::optional<std::uint64_t> get(
      std::span<const std::uint8_t> id, SteadyTime now,
      std::vector<std::uint8_t>& der_out) noexcept override;
  void remove(std::span<const std::uint8_t> id) noexcept override;

  [[nodiscard]] std::size_t size() const noexcept { return map_.size(); }

 private:
  // Serialized session bytes, wiped whenever the store lets go of them.
  class Secret {
   public:
    Secret() = default;
    explicit Secret(std::span<const std::uint8_t> bytes) : bytes_(bytes.begin(), bytes.end()) {}
    Secret(Secret&& other) noexcept : bytes_(std::move(other.bytes_)) {}
    Secret& operator=(Secret&& other) noexcept;
    Secret(const Secret&) = delete;
    Secret& operator=(const Secret&) = delete;
    ~Secret() { wipe(); }
    [[nodiscard]] const std::vector<std::uint8_t>& bytes() const noexcept { return bytes_; }

   private:
    void wipe() noexcept;
    std::vector<std::uint8_t> bytes_;
  };
  struct Entry {
    Secret der;
    std::uint64_t origin = 0;
  };
  struct Key {
    std::array<std::uint8_t, 32> bytes{};  // TLS 1.2 session IDs are at most 32 bytes
    std::size_t size = 0;
    bool operator==(const Key&) const = default;
  };
  struct KeyHash {
    std::size_t operator()(const Key& key) const noexcept;
  };
  [[nodiscard]] static std::optional<Key> key_of(std::span<const std::uint8_t> id) noexcept;
  ExpiringMap<Key, Entry, KeyHash> map_;
};

}  // namespace ringftpd::tls
