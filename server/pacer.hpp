// Pacer: wakes the transfers that wait for bandwidth (token_bucket.hpp).
//
// A transfer whose buckets are empty submits nothing and registers its
// session here, once. The worker arms one timer (Op::Pace, every kInterval)
// only while someone waits, and on it calls each waiting session back
// (ControlSession::on_pace), which refills and resumes its transfer. So a
// throttled transfer costs no timer of its own and an unthrottled worker no
// timer at all. Entries are OpTags, looked up in the session table: a
// session gone meanwhile is simply not found.
#pragma once

#include <chrono>
#include <utility>
#include <vector>

#include "io/op_tag.hpp"

namespace ringftpd::server {

class Pacer {
 public:
  static constexpr std::chrono::milliseconds kInterval{100};

  // At most once per session between two ticks (Throttle sees to it).
  void wait(io::OpTag session) { waiting_.push_back(session); }
  [[nodiscard]] bool has_waiters() const noexcept { return !waiting_.empty(); }
  // Those waiting now; those who find the buckets still empty register again.
  [[nodiscard]] std::vector<io::OpTag> take() { return std::exchange(waiting_, {}); }

 private:
  std::vector<io::OpTag> waiting_;
};

}  // namespace ringftpd::server
