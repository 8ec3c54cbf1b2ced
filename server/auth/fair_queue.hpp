// Per-client FIFO queues served round-robin: a client (worker) with many
// requests queued cannot starve the others; each client's own requests stay
// in order.
//
// Not thread-safe: the owner serialises calls (AuthService holds a mutex).
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <utility>

namespace ringftpd::server::auth {

template <class T>
class FairQueue {
 public:
  // A new default item at the back of client's queue, for the caller to fill.
  T& emplace(std::uint64_t client) {
    auto& q = queues_[client];
    if (q.empty()) ready_.push_back(client);
    return q.emplace_back();
  }

  [[nodiscard]] bool empty() const noexcept { return ready_.empty(); }
  [[nodiscard]] std::size_t size() const noexcept {
    std::size_t n = 0;
    for (const auto& [client, q] : queues_) n += q.size();
    return n;
  }

  // The next item in round-robin order. Precondition: !empty().
  [[nodiscard]] T& front() { return queues_.find(ready_.front())->second.front(); }

  // Removes front(); its client goes to the back of the round.
  void pop() {
    const std::uint64_t client = ready_.front();
    ready_.pop_front();
    auto it = queues_.find(client);
    it->second.pop_front();
    if (it->second.empty()) {
      queues_.erase(it);
    } else {
      ready_.push_back(client);
    }
  }

  // Removes every item of client, handing each to fn first (to wipe secrets).
  template <class Fn>
  void drop(std::uint64_t client, Fn&& fn) {
    auto it = queues_.find(client);
    if (it == queues_.end()) return;
    for (T& item : it->second) fn(item);
    queues_.erase(it);
    std::erase(ready_, client);
  }

  template <class Fn>
  void for_each(Fn&& fn) {
    for (auto& [client, q] : queues_) {
      for (T& item : q) fn(item);
    }
  }

 private:
  std::map<std::uint64_t, std::deque<T>> queues_;  // only non-empty queues
  std::deque<std::uint64_t> ready_;                // clients with items, in serving order
};

}  // namespace ringftpd::server::auth
