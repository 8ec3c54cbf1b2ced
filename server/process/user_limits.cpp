#include "server/process/user_limits.hpp"

#include <sys/mman.h>

#include <bit>
#include <cerrno>
#include <cstring>
#include <new>
#include <stdexcept>
#include <system_error>

namespace ringftpd::server {
namespace {

std::array<std::uint64_t, 2> words_of(const UserKey& key) noexcept {
  std::array<std::uint64_t, 2> w{};
  std::memcpy(w.data(), key.data(), key.size());
  return w;
}

}  // namespace

UserKey user_key(std::string_view name) noexcept {
  using U128 = unsigned __int128;
  constexpr U128 kPrime = (U128{1} << 88) | 0x13B;
  U128 h = (U128{0x6c62272e07bb0142ULL} << 64) | 0x62b821756295c58dULL;
  for (const char c : name) {
    h ^= static_cast<unsigned char>(c);
    h *= kPrime;
  }
  UserKey key{};
  for (std::size_t i = 0; i < key.size(); ++i) key[i] = static_cast<std::uint8_t>(h >> (8 * i));
  return key;
}

UserLimits::UserLimits(std::uint32_t max_sessions)
    : sessions_(AddressTable::slots_for(max_sessions)) {
  bucket_slots_ = std::bit_ceil(std::max(AddressTable::slots_for(max_sessions), kMinBucketSlots));
  static_assert(sizeof(Header) % alignof(BucketSlot) == 0);
  bytes_ = sizeof(Header) + std::size_t{bucket_slots_} * sizeof(BucketSlot);
  region_ = mmap(nullptr, bytes_, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (region_ == MAP_FAILED) {
    region_ = nullptr;
    throw std::system_error(errno, std::generic_category(), "mmap user limits");
  }
  header_ = new (region_) Header{};
  slots_ = reinterpret_cast<BucketSlot*>(static_cast<std::byte*>(region_) + sizeof(Header));
  for (std::uint32_t i = 0; i < bucket_slots_; ++i) new (&slots_[i]) BucketSlot{};
  if (!header_->mutex.init()) {
    munmap(region_, bytes_);
    region_ = nullptr;
    throw std::runtime_error("cannot initialise a process-shared robust mutex");
  }
}

UserLimits::~UserLimits() {
  if (region_ != nullptr) munmap(region_, bytes_);
}

UserAdmission UserLimits::admit(const UserKey& key, std::uint32_t limit, pid_t owner) noexcept {
  switch (sessions_.admit(key, limit == 0 ? ~std::uint32_t{0} : limit, owner)) {
    case Admission::Admitted:
      return UserAdmission::Admitted;
    case Admission::OverLimit:
      return UserAdmission::OverLimit;
    case Admission::TableFull:
    case Admission::LockFailed:
      break;
  }
  return UserAdmission::NoRoom;
}

bool UserLimits::release(const UserKey& key, pid_t owner) noexcept {
  return sessions_.release(key, owner);
}

std::uint64_t UserLimits::purge(pid_t owner) noexcept {
  return sessions_.purge(owner);
}

std::uint32_t UserLimits::sessions_of(const UserKey& key) noexcept {
  return sessions_.sessions_of(key);
}

SharedBucket* UserLimits::find_bucket(const UserKey& key, std::uint32_t start) noexcept {
  const auto w = words_of(key);
  for (std::uint32_t i = 0; i < kMaxProbe; ++i) {
    BucketSlot& s = slots_[(start + i) & (bucket_slots_ - 1)];
    if (s.state.load(std::memory_order_acquire) == 1 &&
        s.key[0].load(std::memory_order_relaxed) == w[0] &&
        s.key[1].load(std::memory_order_relaxed) == w[1]) {
      return &s.bucket;
    }
  }
  return nullptr;
}

SharedBucket* UserLimits::user_bucket(const UserKey& key, std::uint64_t bytes_per_second) noexcept {
  // The digest is already uniform: its low bits are the home slot.
  const std::uint32_t start = static_cast<std::uint32_t>(words_of(key)[0]) & (bucket_slots_ - 1);
  SharedBucket* b = find_bucket(key, start);
  if (b == nullptr) {
    // Claimed under the mutex, so two workers never give one user two slots.
    bool held = false;
    switch (header_->mutex.lock()) {
      case tls::detail::RobustMutex::Locked::Acquired:
        held = true;
        break;
      case tls::detail::RobustMutex::Locked::OwnerDied:
        header_->mutex.mark_consistent();  // a claim commits with one store
        held = true;
        break;
      case tls::detail::RobustMutex::Locked::Failed:
        break;
    }
    if (!held) return nullptr;
    b = find_bucket(key, start);
    for (std::uint32_t i = 0; b == nullptr && i < kMaxProbe; ++i) {
      BucketSlot& s = slots_[(start + i) & (bucket_slots_ - 1)];
      if (s.state.load(std::memory_order_relaxed) != 0) continue;
      const auto w = words_of(key);
      s.key[0].store(w[0], std::memory_order_relaxed);
      s.key[1].store(w[1], std::memory_order_relaxed);
      s.bucket.set_rate(bytes_per_second);
      s.state.store(1, std::memory_order_release);  // the commit
      b = &s.bucket;
    }
    header_->mutex.unlock();
    if (b == nullptr) return nullptr;
  }
  b->set_rate(bytes_per_second);  // a reload may have changed it
  return b;
}

SharedBucket* UserLimits::listener_bucket(std::size_t index,
                                          std::uint64_t bytes_per_second) noexcept {
  if (index >= header_->listeners.size()) return nullptr;
  SharedBucket& b = header_->listeners[index];
  b.set_rate(bytes_per_second);
  return &b;
}

}  // namespace ringftpd::server
