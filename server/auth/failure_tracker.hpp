// Failed logins per client address, across every connection and worker (the
// auth service is the one place that sees them all; DESIGN.md §6).
//
// Threat: online password guessing, from one address over many connections
// in parallel, or from one IPv6 host that owns a whole /64 (so IPv6 addresses
// are counted per /64 prefix; IPv4 and IPv4-mapped IPv6 per address).
//
// Policy, over a sliding window of `window`:
//   - the first delay_after - 1 failures cost nothing;
//   - failure n >= delay_after blocks the address for
//     min(first_delay * 2^(n - delay_after), max_delay);
//   - failure n >= throttle_after blocks it for `cooldown` and starts a fresh
//     count afterwards;
//   - while blocked, check() refuses without looking at the password, so
//     parallel connections gain nothing;
//   - a successful (non-anonymous) login forgets the address.
// Memory is bounded: at most max_addresses entries (the one least recently
// failed is evicted first), each keeping at most kMaxHistory timestamps; so
// thresholds above kMaxHistory act as kMaxHistory.
//
// Not thread-safe: the owner serialises calls (AuthService holds a mutex).
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <list>
#include <map>
#include <optional>
#include <string_view>
#include <vector>

#include "config/config.hpp"

namespace ringftpd::server::auth {

// An address as counted: 16 bytes (IPv4 as ::ffff:a.b.c.d, IPv6 as its /64).
using PeerKey = std::array<std::uint8_t, 16>;

// The key of a numeric IPv4 or IPv6 address; nullopt for anything else
// (names, zone ids, garbage): the caller treats that request as malformed.
[[nodiscard]] std::optional<PeerKey> peer_key(std::string_view numeric_address);

class FailureTracker {
 public:
  using Clock = std::chrono::steady_clock;
  using Now = std::function<Clock::time_point()>;

  static constexpr std::size_t kMaxHistory = 64;

  struct Policy {
    std::uint32_t delay_after = 3;     // config::Limits::failed_logins_before_delay
    std::uint32_t throttle_after = 6;  // config::Limits::max_failed_logins
    std::chrono::milliseconds window{std::chrono::minutes(10)};
    std::chrono::milliseconds cooldown{std::chrono::minutes(10)};
    std::chrono::milliseconds first_delay{std::chrono::seconds(1)};
    std::chrono::milliseconds max_delay{std::chrono::seconds(30)};
    std::size_t max_addresses = 16384;
  };

  // The limits from the configuration, the other fields at their defaults.
  [[nodiscard]] static Policy policy_from(const config::Limits& limits);

  struct Verdict {
    bool throttled = false;            // refuse / disconnect (421)
    std::uint32_t retry_after_ms = 0;  // how long the address stays blocked
  };

  // now: empty = Clock::now. Tests pass a fake clock.
  explicit FailureTracker(Policy policy, Now now = {});

  // Before verifying: throttled while the address is blocked (by a delay or a
  // cool-down), with the time left.
  [[nodiscard]] Verdict check(const PeerKey& key);

  // After a wrong password or unknown user. throttled: this failure reached
  // throttle_after. Otherwise retry_after_ms is the delay to impose (0: none).
  [[nodiscard]] Verdict record_failure(const PeerKey& key);

  // After a correct password: the address starts from zero.
  void record_success(const PeerKey& key);

  [[nodiscard]] std::size_t size() const noexcept { return entries_.size(); }

 private:
  struct Entry {
    std::vector<Clock::time_point> failures;  // ascending, within the window
    Clock::time_point blocked_until{};
    std::list<PeerKey>::iterator lru;  // position in lru_ (front = least recent)
  };

  [[nodiscard]] Clock::time_point now() const { return now_ ? now_() : Clock::now(); }
  Entry& touch(const PeerKey& key);
  static std::uint32_t to_ms(Clock::duration d);

  Policy policy_;
  Now now_;
  std::map<PeerKey, Entry> entries_;  // ordered: no hash flooding by chosen addresses
  std::list<PeerKey> lru_;
};

}  // namespace ringftpd::server::auth
