// sim::EventLog: what happened in a run, for a failure report (the last
// kKeep events) and for --trace (every event, as it happens, on stdout).
#pragma once

#include <cstddef>
#include <cstdio>
#include <deque>
#include <string>
#include <vector>

namespace ringftpd::sim {

class EventLog {
 public:
  static constexpr std::size_t kKeep = 50;

  explicit EventLog(bool trace = false) : trace_(trace) {}

  void add(std::string event) {
    ++count_;
    if (trace_) std::printf("%8zu %s\n", count_, event.c_str());
    last_.push_back(std::to_string(count_) + " " + std::move(event));
    if (last_.size() > kKeep) last_.pop_front();
  }
  // A broken invariant: kept, and the run stops at the next check.
  void violation(std::string what) {
    add("VIOLATION " + what);
    violations_.push_back(std::move(what));
  }

  [[nodiscard]] const std::deque<std::string>& last() const noexcept { return last_; }
  [[nodiscard]] const std::vector<std::string>& violations() const noexcept { return violations_; }
  [[nodiscard]] std::size_t count() const noexcept { return count_; }
  [[nodiscard]] bool tracing() const noexcept { return trace_; }

 private:
  bool trace_;
  std::size_t count_ = 0;
  std::deque<std::string> last_;
  std::vector<std::string> violations_;
};

}  // namespace ringftpd::sim
