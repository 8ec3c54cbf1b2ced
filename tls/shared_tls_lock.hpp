// Internal to tls/: SharedTlsState's lock holder, for the files that
// implement SharedTlsState (shared_tls_state.cpp, shared_tls_lookups.cpp).
#pragma once

#include "tls/shared_tls_layout.hpp"
#include "tls/shared_tls_state.hpp"

namespace ringftpd::tls {

// Holds the region's lock; repairs after a dead owner first. Test with bool:
// false only if the mutex is unusable, and then callers report "not done".
class SharedTlsState::Lock {
 public:
  explicit Lock(SharedTlsState& state) noexcept : state_(state) {
    detail::RegionHeader& h = state.header();
    switch (h.mutex.lock()) {
      case detail::RobustMutex::Locked::Acquired:
        held_ = true;
        break;
      case detail::RobustMutex::Locked::OwnerDied:
        state.recover_locked();
        h.mutex.mark_consistent();
        h.counters.lock_recoveries.fetch_add(1, std::memory_order_relaxed);
        held_ = true;
        break;
      case detail::RobustMutex::Locked::Failed:
        break;
    }
  }
  ~Lock() {
    if (held_) state_.header().mutex.unlock();
  }
  Lock(const Lock&) = delete;
  Lock& operator=(const Lock&) = delete;
  explicit operator bool() const noexcept { return held_; }

 private:
  SharedTlsState& state_;
  bool held_ = false;
};

}  // namespace ringftpd::tls
