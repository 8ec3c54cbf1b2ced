#include "tls/robust_mutex.hpp"

#include <cerrno>

namespace ringftpd::tls::detail {

bool RobustMutex::init() noexcept {
  pthread_mutexattr_t attr;
  if (pthread_mutexattr_init(&attr) != 0) return false;
  const bool ok = pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED) == 0 &&
                  pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST) == 0 &&
                  pthread_mutex_init(&mutex_, &attr) == 0;
  pthread_mutexattr_destroy(&attr);
  return ok;
}

RobustMutex::Locked RobustMutex::lock() noexcept {
  switch (pthread_mutex_lock(&mutex_)) {
    case 0:
      return Locked::Acquired;
    case EOWNERDEAD:
      return Locked::OwnerDied;
    default:  // ENOTRECOVERABLE (someone unlocked without repairing), EAGAIN...
      return Locked::Failed;
  }
}

void RobustMutex::mark_consistent() noexcept {
  (void)pthread_mutex_consistent(&mutex_);
}

void RobustMutex::unlock() noexcept {
  (void)pthread_mutex_unlock(&mutex_);
}

}  // namespace ringftpd::tls::detail
