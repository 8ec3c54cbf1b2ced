// tls::OriginRegistry: which control connection ("origin") each session
// ticket was issued to, so that a data connection resuming a ticket can be
// checked against its own control connection (DESIGN.md §4, required session
// reuse). A ticket names itself by a random TicketId carried in its key_name
// field, which the ticket's AES-GCM tag authenticates: a client cannot make
// one ticket pass for another.
//
// Contract:
// - An interface so that a later issue can keep it in shared memory across
//   workers; InProcessOriginRegistry serves one worker now.
// - Called from inside wolfSSL's ticket callback: every member is noexcept
//   and reports failure as a value. One thread per object (the in-process
//   one has no locking; a shared one brings its own).
// - Bounded: a full registry forgets its oldest record. A forgotten or
//   expired record makes a resumption "of unknown origin", which the server
//   refuses like a foreign one (fail closed).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>

#include "tls/expiring_map.hpp"

namespace ringftpd::tls {

// The per-ticket random id (the key_name bytes after the 4-byte key id).
using TicketId = std::array<std::uint8_t, 12>;

class OriginRegistry {
 public:
  virtual ~OriginRegistry() = default;

  // Records that ticket `id` descends from `origin` (non-zero) until `expires`.
  // false if it could not be recorded (out of memory).
  virtual bool put(const TicketId& id, std::uint64_t origin, SteadyTime expires,
                   SteadyTime now) noexcept = 0;
  // The origin recorded for `id`, if any and not expired at `now`.
  [[nodiscard]] virtual std::optional<std::uint64_t> find(const TicketId& id,
                                                          SteadyTime now) noexcept = 0;
};

class InProcessOriginRegistry final : public OriginRegistry {
 public:
  explicit InProcessOriginRegistry(std::size_t max_entries);

  bool put(const TicketId& id, std::uint64_t origin, SteadyTime expires,
           SteadyTime now) noexcept override;
  [[nodiscard]] std::optional<std::uint64_t> find(const TicketId& id,
                                                  SteadyTime now) noexcept override;

  [[nodiscard]] std::size_t size() const noexcept { return map_.size(); }

 private:
  struct IdHash {
    std::size_t operator()(const TicketId& id) const noexcept;
  };
  ExpiringMap<TicketId, std::uint64_t, IdHash> map_;
};

}  // namespace ringftpd::tls
