#include "server/auth/failure_tracker.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <cstring>

namespace ringftpd::server::auth {

std::optional<PeerKey> peer_key(std::string_view numeric_address) {
  char text[INET6_ADDRSTRLEN] = {};
  if (numeric_address.empty() || numeric_address.size() >= sizeof text) return std::nullopt;
  std::memcpy(text, numeric_address.data(), numeric_address.size());  // and a NUL after it
  if (std::memchr(text, '\0', numeric_address.size()) != nullptr) return std::nullopt;

  PeerKey key{};
  in_addr v4{};
  if (::inet_pton(AF_INET, text, &v4) == 1) {
    key[10] = 0xff;
    key[11] = 0xff;
    std::memcpy(key.data() + 12, &v4, 4);
    return key;
  }
  in6_addr v6{};
  if (::inet_pton(AF_INET6, text, &v6) != 1) return std::nullopt;
  std::memcpy(key.data(), &v6, 16);
  // An IPv4 peer seen through a dual-stack socket is the same peer.
  const bool v4_mapped =
      std::all_of(key.begin(), key.begin() + 10, [](auto b) { return b == 0; }) &&
      key[10] == 0xff && key[11] == 0xff;
  if (!v4_mapped) std::fill(key.begin() + 8, key.end(), std::uint8_t{0});  // the /64
  return key;
}

FailureTracker::Policy FailureTracker::policy_from(const config::Limits& limits) {
  Policy p;
  p.delay_after = limits.failed_logins_before_delay;
  p.throttle_after = limits.max_failed_logins;
  return p;
}

FailureTracker::FailureTracker(Policy policy, Now now) : policy_(policy), now_(std::move(now)) {
  // Keep the policy self-consistent whatever it was given.
  policy_.throttle_after =
      std::clamp<std::uint32_t>(policy_.throttle_after, 1, static_cast<std::uint32_t>(kMaxHistory));
  policy_.delay_after = std::clamp<std::uint32_t>(policy_.delay_after, 1, policy_.throttle_after);
  policy_.max_addresses = std::max<std::size_t>(policy_.max_addresses, 1);
  policy_.max_delay = std::max(policy_.max_delay, policy_.first_delay);
}

std::uint32_t FailureTracker::to_ms(Clock::duration d) {
  if (d <= Clock::duration::zero()) return 0;
  // Round up: "retry after 0 ms" while still blocked would invite a busy retry.
  const auto ms = std::chrono::ceil<std::chrono::milliseconds>(d).count();
  return static_cast<std::uint32_t>(std::min<std::int64_t>(ms, 0xffffffff));
}

FailureTracker::Verdict FailureTracker::check(const PeerKey& key) {
  const auto it = entries_.find(key);
  if (it == entries_.end()) return {};
  const auto left = it->second.blocked_until - now();
  if (left <= Clock::duration::zero()) return {};
  return {true, to_ms(left)};
}

FailureTracker::Entry& FailureTracker::touch(const PeerKey& key) {
  if (auto it = entries_.find(key); it != entries_.end()) {
    lru_.splice(lru_.end(), lru_, it->second.lru);  // now the most recent
    return it->second;
  }
  while (entries_.size() >= policy_.max_addresses) {
    entries_.erase(lru_.front());
    lru_.pop_front();
  }
  lru_.push_back(key);
  Entry& e = entries_[key];
  e.lru = std::prev(lru_.end());
  return e;
}

FailureTracker::Verdict FailureTracker::record_failure(const PeerKey& key) {
  const auto t = now();
  Entry& e = touch(key);
  auto& f = e.failures;
  // Slide the window: forget failures older than it.
  const auto horizon = t - policy_.window;
  f.erase(f.begin(), std::find_if(f.begin(), f.end(), [&](auto x) { return x > horizon; }));
  if (f.size() >= kMaxHistory) f.erase(f.begin());
  f.push_back(t);
  const std::size_t n = f.size();

  if (n >= policy_.throttle_after) {
    f.clear();  // after the cool-down, a fresh count
    e.blocked_until = t + policy_.cooldown;
    return {true, to_ms(policy_.cooldown)};
  }
  if (n < policy_.delay_after) return {};
  const std::size_t doublings = n - policy_.delay_after;
  auto delay = policy_.first_delay;
  for (std::size_t i = 0; i < doublings && delay < policy_.max_delay; ++i) delay *= 2;
  delay = std::min(delay, policy_.max_delay);
  e.blocked_until = t + delay;
  return {false, to_ms(delay)};
}

void FailureTracker::record_success(const PeerKey& key) {
  const auto it = entries_.find(key);
  if (it == entries_.end()) return;
  lru_.erase(it->second.lru);
  entries_.erase(it);
}

}  // namespace ringftpd::server::auth
