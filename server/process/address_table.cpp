#include "server/process/address_table.hpp"

#include <netinet/in.h>
#include <sys/mman.h>
#include <sys/random.h>

#include <bit>
#include <cerrno>
#include <cstring>
#include <new>
#include <stdexcept>
#include <system_error>

namespace ringftpd::server {
namespace {

static_assert(std::atomic<std::uint64_t>::is_always_lock_free);
static_assert(std::atomic<std::uint32_t>::is_always_lock_free);
static_assert(std::atomic<pid_t>::is_always_lock_free);

std::uint64_t load_le64(const std::uint8_t* p) noexcept {
  std::uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

// SipHash-2-4 of a 16-byte message (Aumasson and Bernstein's reference,
// specialised to the one length used here).
std::uint64_t siphash16(const std::array<std::uint64_t, 2>& k, const AddressKey& m) noexcept {
  std::uint64_t v0 = 0x736f6d6570736575ULL ^ k[0];
  std::uint64_t v1 = 0x646f72616e646f6dULL ^ k[1];
  std::uint64_t v2 = 0x6c7967656e657261ULL ^ k[0];
  std::uint64_t v3 = 0x7465646279746573ULL ^ k[1];
  const auto round = [&] {
    v0 += v1;
    v1 = std::rotl(v1, 13);
    v1 ^= v0;
    v0 = std::rotl(v0, 32);
    v2 += v3;
    v3 = std::rotl(v3, 16);
    v3 ^= v2;
    v0 += v3;
    v3 = std::rotl(v3, 21);
    v3 ^= v0;
    v2 += v1;
    v1 = std::rotl(v1, 17);
    v1 ^= v2;
    v2 = std::rotl(v2, 32);
  };
  const auto absorb = [&](std::uint64_t word) {
    v3 ^= word;
    round();
    round();
    v0 ^= word;
  };
  absorb(load_le64(m.data()));
  absorb(load_le64(m.data() + 8));
  absorb(std::uint64_t{16} << 56);  // final block: only the length byte
  v2 ^= 0xff;
  for (int i = 0; i < 4; ++i) round();
  return v0 ^ v1 ^ v2 ^ v3;
}

std::array<std::uint64_t, 2> key_words(const AddressKey& key) noexcept {
  return {load_le64(key.data()), load_le64(key.data() + 8)};
}

}  // namespace

AddressKey address_key(const io::SocketAddress& a) noexcept {
  AddressKey key{};
  if (a.family() == AF_INET) {
    key[10] = 0xff;
    key[11] = 0xff;
    const auto* in = reinterpret_cast<const sockaddr_in*>(&a.storage);
    std::memcpy(key.data() + 12, &in->sin_addr, 4);
  } else if (a.family() == AF_INET6) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(&a.storage);
    std::memcpy(key.data(), &in6->sin6_addr, 16);
  }
  return key;
}

// Holds the table's mutex; takes it over from a dead owner. Nothing needs
// repair then (every mutation commits with one store), only marking.
class AddressTable::Lock {
 public:
  explicit Lock(Header& h) noexcept : h_(h) {
    switch (h.mutex.lock()) {
      case tls::detail::RobustMutex::Locked::Acquired:
        held_ = true;
        break;
      case tls::detail::RobustMutex::Locked::OwnerDied:
        h.mutex.mark_consistent();
        h.lock_recoveries.fetch_add(1, std::memory_order_relaxed);
        held_ = true;
        break;
      case tls::detail::RobustMutex::Locked::Failed:
        break;
    }
  }
  ~Lock() {
    if (held_) h_.mutex.unlock();
  }
  Lock(const Lock&) = delete;
  Lock& operator=(const Lock&) = delete;
  explicit operator bool() const noexcept { return held_; }

 private:
  Header& h_;
  bool held_ = false;
};

std::uint32_t AddressTable::slots_for(std::uint32_t max_sessions) noexcept {
  return max_sessions > (1u << 30) ? (1u << 31) : 2 * max_sessions;
}

AddressTable::AddressTable(std::uint32_t min_slots) {
  slots_ = std::bit_ceil(std::max(min_slots, kMinSlots));
  bytes_ = sizeof(Header) + std::size_t{slots_} * sizeof(Slot);
  region_ = mmap(nullptr, bytes_, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (region_ == MAP_FAILED) {
    region_ = nullptr;
    throw std::system_error(errno, std::generic_category(), "mmap address table");
  }
  header_ = new (region_) Header{};
  static_assert(sizeof(Header) % alignof(Slot) == 0);
  slots_array_ = reinterpret_cast<Slot*>(static_cast<std::byte*>(region_) + sizeof(Header));
  for (std::uint32_t i = 0; i < slots_; ++i) new (&slots_array_[i]) Slot{};  // count 0: free
  if (getrandom(header_->hash_key.data(), sizeof header_->hash_key, 0) !=
      static_cast<ssize_t>(sizeof header_->hash_key)) {
    const int e = errno;
    munmap(region_, bytes_);
    throw std::system_error(e, std::generic_category(), "getrandom");
  }
  if (!header_->mutex.init()) {
    munmap(region_, bytes_);
    throw std::runtime_error("cannot initialise a process-shared robust mutex");
  }
}

AddressTable::~AddressTable() {
  if (region_ != nullptr) munmap(region_, bytes_);
}

std::uint32_t AddressTable::home(const AddressKey& key) const noexcept {
  return static_cast<std::uint32_t>(siphash16(header_->hash_key, key)) & (slots_ - 1);
}

bool AddressTable::holds(const Slot& s, const AddressKey& key) noexcept {
  if (s.count.load(std::memory_order_relaxed) == 0) return false;
  const auto words = key_words(key);
  return s.key[0].load(std::memory_order_relaxed) == words[0] &&
         s.key[1].load(std::memory_order_relaxed) == words[1];
}

Admission AddressTable::admit(const AddressKey& key, std::uint32_t limit, pid_t owner) noexcept {
  const std::uint32_t start = home(key);
  const Lock lock(*header_);
  if (!lock) return Admission::LockFailed;
  std::uint64_t total = 0;
  Slot* own = nullptr;
  Slot* free = nullptr;
  for (std::uint32_t i = 0; i < kMaxProbe; ++i) {
    Slot& s = slots_array_[(start + i) & (slots_ - 1)];
    if (holds(s, key)) {
      total += s.count.load(std::memory_order_relaxed);
      if (s.owner.load(std::memory_order_relaxed) == owner) own = &s;
    } else if (free == nullptr && s.count.load(std::memory_order_relaxed) == 0) {
      free = &s;
    }
  }
  if (total >= limit) return Admission::OverLimit;
  if (own != nullptr) {
    own->count.fetch_add(1, std::memory_order_relaxed);
    header_->sessions.fetch_add(1, std::memory_order_relaxed);
    return Admission::Admitted;
  }
  if (free == nullptr) {
    header_->table_full.fetch_add(1, std::memory_order_relaxed);
    return Admission::TableFull;
  }
  const auto words = key_words(key);
  free->key[0].store(words[0], std::memory_order_relaxed);
  free->key[1].store(words[1], std::memory_order_relaxed);
  free->owner.store(owner, std::memory_order_relaxed);
  free->count.store(1, std::memory_order_relaxed);  // the commit
  header_->sessions.fetch_add(1, std::memory_order_relaxed);
  header_->pairs.fetch_add(1, std::memory_order_relaxed);
  return Admission::Admitted;
}

bool AddressTable::release(const AddressKey& key, pid_t owner) noexcept {
  const std::uint32_t start = home(key);
  const Lock lock(*header_);
  if (!lock) return false;
  for (std::uint32_t i = 0; i < kMaxProbe; ++i) {
    Slot& s = slots_array_[(start + i) & (slots_ - 1)];
    if (holds(s, key) && s.owner.load(std::memory_order_relaxed) == owner) {
      // At 0 the slot is free. The figures are the report's, not the
      // table's truth: a death between these stores skews only them.
      if (s.count.fetch_sub(1, std::memory_order_relaxed) == 1) {
        header_->pairs.fetch_sub(1, std::memory_order_relaxed);
      }
      header_->sessions.fetch_sub(1, std::memory_order_relaxed);
      return true;
    }
  }
  return false;
}

std::uint64_t AddressTable::purge(pid_t owner) noexcept {
  const Lock lock(*header_);
  if (!lock) return 0;
  std::uint64_t dropped = 0;
  for (std::uint32_t i = 0; i < slots_; ++i) {
    Slot& s = slots_array_[i];
    const std::uint32_t n = s.count.load(std::memory_order_relaxed);
    if (n != 0 && s.owner.load(std::memory_order_relaxed) == owner) {
      dropped += n;
      s.count.store(0, std::memory_order_relaxed);
      header_->pairs.fetch_sub(1, std::memory_order_relaxed);
    }
  }
  header_->sessions.fetch_sub(dropped, std::memory_order_relaxed);
  return dropped;
}

std::uint32_t AddressTable::sessions_of(const AddressKey& key) noexcept {
  const std::uint32_t start = home(key);
  const Lock lock(*header_);
  if (!lock) return 0;
  std::uint32_t total = 0;
  for (std::uint32_t i = 0; i < kMaxProbe; ++i) {
    const Slot& s = slots_array_[(start + i) & (slots_ - 1)];
    if (holds(s, key)) total += s.count.load(std::memory_order_relaxed);
  }
  return total;
}

AddressTableStats AddressTable::stats() const noexcept {
  AddressTableStats out;
  out.slots = slots_;
  out.table_full = header_->table_full.load(std::memory_order_relaxed);
  out.lock_recoveries = header_->lock_recoveries.load(std::memory_order_relaxed);
  out.pairs_in_use = header_->pairs.load(std::memory_order_relaxed);
  out.sessions = header_->sessions.load(std::memory_order_relaxed);
  return out;
}

}  // namespace ringftpd::server
