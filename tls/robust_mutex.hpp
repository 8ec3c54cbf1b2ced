// tls::detail::RobustMutex: a pthread mutex that lives in memory shared by
// several processes (PTHREAD_PROCESS_SHARED) and survives the death of its
// owner (PTHREAD_MUTEX_ROBUST). Part of SharedTlsState; not an API of its own.
//
// Threat: a worker killed (SIGKILL, OOM killer, a crash) while it holds the
// lock. A plain mutex would stay locked forever and every other worker would
// hang in its next TLS handshake. With a robust one, the kernel hands the lock
// to the next waiter with EOWNERDEAD; lock() reports that as OwnerDied, the
// caller repairs what the dead owner may have half-written, then calls
// mark_consistent() before unlock(). Unlocking without mark_consistent()
// would leave the mutex unusable (ENOTRECOVERABLE) for everyone.
//
// Contract:
// - init() once, on zeroed shared memory, before any other process can see
//   it (SharedTlsState::create, before fork). The object is never moved or
//   copied: it is placement-constructed in the region and stays there.
// - One process may hold it at a time; it is not recursive. A process dying
//   while it *waits* is harmless.
// - Every member is noexcept; failures are values.
#pragma once

#include <pthread.h>

#include <cstdint>

namespace ringftpd::tls::detail {

class RobustMutex {
 public:
  enum class Locked : std::uint8_t {
    Acquired,   // the usual case
    OwnerDied,  // acquired, but the previous owner died holding it: repair first
    Failed,     // not acquired (a bug: we never leave it unrecoverable)
  };

  RobustMutex() = default;
  RobustMutex(const RobustMutex&) = delete;
  RobustMutex& operator=(const RobustMutex&) = delete;

  // Initialises the mutex in place; false if pthread refused an attribute.
  [[nodiscard]] bool init() noexcept;

  [[nodiscard]] Locked lock() noexcept;
  // After OwnerDied, once the protected data is repaired.
  void mark_consistent() noexcept;
  void unlock() noexcept;

 private:
  pthread_mutex_t mutex_;
};

}  // namespace ringftpd::tls::detail
