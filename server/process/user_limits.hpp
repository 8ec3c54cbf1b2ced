// The limits shared by every worker: per user (max_sessions and
// bandwidth_bytes_per_second of the users file) and per listener
// (bandwidth_bytes_per_second of a [[listen]] table).
//
// Made by the master before it forks anyone (like AddressTable), in
// anonymous MAP_SHARED memory:
//   - Sessions per user: an AddressTable of its own, keyed by a 128-bit
//     digest of the user name instead of an address. A login counts one
//     (user, worker) pair under the table's robust mutex, so the limit is
//     exact across workers; when the master reaps a worker it purges that
//     pid's pairs, so a dead worker's users get their sessions back.
//   - A SharedBucket per user with a bandwidth limit, in an open-addressed
//     array of slots (linear probing, kMaxProbe). Looked up lock-free; a
//     slot is claimed under the mutex (once per user name for the life of
//     the server: slots are never freed, a user's bucket keeps its state
//     between logins). A claim commits with one store of the slot's state.
//   - A SharedBucket per listener index (config::kMaxListeners).
//
// Memory: the session table as AddressTable::slots_for(max_sessions); the
// bucket slots, 48 bytes each, max(kMinBucketSlots, 2 x max_sessions)
// (4000 sessions: 8192 slots, 384 KiB). No room (more users with a
// bandwidth limit than slots, or a mutex that failed): the login is refused
// (fail closed), never let through unlimited.
#pragma once

#include <sys/types.h>

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <utility>

#include "config/config.hpp"
#include "server/process/address_table.hpp"
#include "server/shared_bucket.hpp"
#include "tls/robust_mutex.hpp"

namespace ringftpd::server {

using UserKey = AddressKey;
// A 128-bit digest of a user name (FNV-1a 128): names come from the
// operator's users file, only authenticated names reach the table.
[[nodiscard]] UserKey user_key(std::string_view name) noexcept;

enum class UserAdmission : std::uint8_t {
  Admitted,
  OverLimit,  // the user already holds max_sessions sessions on the server
  NoRoom,     // a table is full or its lock unusable: refused, fail closed
};

class UserLimits {
 public:
  static constexpr std::uint32_t kMaxProbe = 32;
  static constexpr std::uint32_t kMinBucketSlots = 1024;

  // Throws std::system_error (mmap, getrandom) or std::runtime_error.
  explicit UserLimits(std::uint32_t max_sessions);
  ~UserLimits();
  UserLimits(const UserLimits&) = delete;
  UserLimits& operator=(const UserLimits&) = delete;

  // Worker, at login: one more session of `owner` for `key`, unless the user
  // already holds `limit` (0: unlimited, counted all the same, so a limit
  // added by a reload sees the sessions already open).
  [[nodiscard]] UserAdmission admit(const UserKey& key, std::uint32_t limit, pid_t owner) noexcept;
  // Worker, when a login admitted ends (REIN, close).
  bool release(const UserKey& key, pid_t owner) noexcept;
  // Master, when it reaps worker `owner`. Returns how many logins it held.
  std::uint64_t purge(pid_t owner) noexcept;
  [[nodiscard]] std::uint32_t sessions_of(const UserKey& key) noexcept;

  // The user's bucket, its rate set to bytes_per_second; null when no slot
  // is free in the user's window (or the lock failed).
  [[nodiscard]] SharedBucket* user_bucket(const UserKey& key,
                                          std::uint64_t bytes_per_second) noexcept;
  // Listener `index`'s bucket, its rate set; null for an index out of range.
  [[nodiscard]] SharedBucket* listener_bucket(std::size_t index,
                                              std::uint64_t bytes_per_second) noexcept;

  [[nodiscard]] std::uint32_t bucket_slots() const noexcept { return bucket_slots_; }
  [[nodiscard]] AddressTableStats session_stats() const noexcept { return sessions_.stats(); }

 private:
  struct BucketSlot {
    std::atomic<std::uint32_t> state;  // 0 free, 1 in use (the commit of a claim)
    std::array<std::atomic<std::uint64_t>, 2> key;
    SharedBucket bucket;
  };
  struct Header {
    tls::detail::RobustMutex mutex;
    std::array<SharedBucket, config::kMaxListeners> listeners;
  };

  [[nodiscard]] SharedBucket* find_bucket(const UserKey& key, std::uint32_t start) noexcept;

  AddressTable sessions_;
  void* region_ = nullptr;
  std::size_t bytes_ = 0;
  Header* header_ = nullptr;
  BucketSlot* slots_ = nullptr;
  std::uint32_t bucket_slots_ = 0;
};

// One admitted login, released when it ends (REIN, close, or the session
// object's end). Move-only; a default one holds nothing.
class UserSeat {
 public:
  UserSeat() = default;
  UserSeat(UserLimits& limits, const UserKey& key, pid_t owner) noexcept
      : limits_(&limits), key_(key), owner_(owner) {}
  ~UserSeat() { reset(); }
  UserSeat(UserSeat&& o) noexcept
      : limits_(std::exchange(o.limits_, nullptr)), key_(o.key_), owner_(o.owner_) {}
  UserSeat& operator=(UserSeat&& o) noexcept {
    if (this != &o) {
      reset();
      limits_ = std::exchange(o.limits_, nullptr);
      key_ = o.key_;
      owner_ = o.owner_;
    }
    return *this;
  }
  UserSeat(const UserSeat&) = delete;
  UserSeat& operator=(const UserSeat&) = delete;

  void reset() noexcept {
    if (limits_ != nullptr) (void)std::exchange(limits_, nullptr)->release(key_, owner_);
  }
  [[nodiscard]] bool is_held() const noexcept { return limits_ != nullptr; }

 private:
  UserLimits* limits_ = nullptr;
  UserKey key_{};
  pid_t owner_ = 0;
};

}  // namespace ringftpd::server
