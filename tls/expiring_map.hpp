// tls::ExpiringMap: the bounded, expiring map behind the in-process origin
// registry and session store. Not an API of its own outside tls/.
//
// Entries carry an expiry time; a lookup never returns an expired entry. At
// most `max_entries` live at once: inserting beyond that evicts the oldest
// insertion (all entries of one map share one lifetime in practice, so the
// oldest insertion is also the first to expire). The caller supplies times,
// so tests need no clock.
//
// Contract: one thread. put() may throw std::bad_alloc (callers in wolfSSL
// callbacks catch it); everything else is noexcept. Values are destroyed
// (and may wipe themselves) when replaced, evicted, expired or erased.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <unordered_map>
#include <utility>

namespace ringftpd::tls {

using SteadyTime = std::chrono::steady_clock::time_point;

template <class Key, class Value, class Hash>
class ExpiringMap {
 public:
  explicit ExpiringMap(std::size_t max_entries) : max_entries_(max_entries > 0 ? max_entries : 1) {}

  void put(const Key& key, Value value, SteadyTime expires, SteadyTime now) {
    drop_expired_front(now);
    const std::uint64_t seq = next_seq_++;
    order_.emplace_back(key, seq);
    try {
      auto [it, inserted] = map_.try_emplace(key, Entry{std::move(value), expires, seq});
      if (!inserted) it->second = Entry{std::move(value), expires, seq};
    } catch (...) {
      order_.pop_back();
      throw;
    }
    // Re-putting one key leaves stale order records; bound them too.
    while (map_.size() > max_entries_ || order_.size() > 2 * max_entries_) drop_front();
  }

  // The live value for `key`, or nullptr (an expired entry is erased).
  [[nodiscard]] Value* find(const Key& key, SteadyTime now) noexcept {
    const auto it = map_.find(key);
    if (it == map_.end()) return nullptr;
    if (it->second.expires <= now) {
      map_.erase(it);  // its order record goes stale and is skipped later
      return nullptr;
    }
    return &it->second.value;
  }

  bool erase(const Key& key) noexcept { return map_.erase(key) > 0; }

  [[nodiscard]] std::size_t size() const noexcept { return map_.size(); }
  [[nodiscard]] std::size_t max_entries() const noexcept { return max_entries_; }

 private:
  struct Entry {
    Value value;
    SteadyTime expires;
    std::uint64_t seq;  // which insertion this is, to match order records
  };

  // Forgets the oldest insertion record, and its entry if still current.
  void drop_front() noexcept {
    const auto& [key, seq] = order_.front();
    if (const auto it = map_.find(key); it != map_.end() && it->second.seq == seq) map_.erase(it);
    order_.pop_front();
  }

  void drop_expired_front(SteadyTime now) noexcept {
    while (!order_.empty()) {
      const auto& [key, seq] = order_.front();
      const auto it = map_.find(key);
      const bool stale = it == map_.end() || it->second.seq != seq;
      if (!stale && it->second.expires > now) return;
      if (!stale) map_.erase(it);
      order_.pop_front();
    }
  }

  std::size_t max_entries_;
  std::uint64_t next_seq_ = 0;
  std::unordered_map<Key, Entry, Hash> map_;
  std::deque<std::pair<Key, std::uint64_t>> order_;  // insertion order, oldest first
};

}  // namespace ringftpd::tls
