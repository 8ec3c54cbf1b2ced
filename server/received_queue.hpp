// ReceivedQueue: the provided buffers that an upload's multishot receive has
// filled and the data path has not finished with, in arrival order
// (DESIGN.md §5).
//
// A clear upload writes them to the file straight from the buffers (one
// writev over the front entries; consume(written) then names the buffers that
// are free again); a protected upload feeds them to TLS one at a time. A
// buffer goes back to the kernel only through consume(), so the kernel never
// refills bytes that are not written yet, and a slow disk turns into -ENOBUFS
// on the receive (backpressure) instead of into memory.
//
// Pure bookkeeping: no ring, no fd, no allocation. Owned by an upload's
// UploadReceiver (data_upload_receiver.hpp), one per transfer; its capacity
// bounds the buffer ring's count.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

namespace ringftpd::server {

class ReceivedQueue {
 public:
  static constexpr std::size_t kCapacity = 64;

  struct Entry {
    std::uint16_t id = 0;      // the provided buffer
    std::uint32_t offset = 0;  // bytes of it already consumed
    std::uint32_t length = 0;  // bytes the receive put in it
    [[nodiscard]] std::uint32_t unconsumed() const noexcept { return length - offset; }
  };

  // A receive completion that used buffer `id`. false (nothing queued) when
  // full or length is 0: a broken invariant, the kernel gave out more buffers
  // than the ring has, or an empty buffer was queued.
  [[nodiscard]] bool push(std::uint16_t id, std::uint32_t length) noexcept {
    if (count_ == kCapacity || length == 0) return false;
    entries_[(head_ + count_) % kCapacity] = Entry{id, 0, length};
    ++count_;
    bytes_ += length;
    return true;
  }

  [[nodiscard]] bool empty() const noexcept { return count_ == 0; }
  [[nodiscard]] std::size_t size() const noexcept { return count_; }
  [[nodiscard]] std::uint64_t bytes() const noexcept { return bytes_; }
  // i < size(); 0 is the oldest.
  [[nodiscard]] const Entry& at(std::size_t i) const noexcept {
    return entries_[(head_ + i) % kCapacity];
  }

  // n bytes from the front were used (n <= bytes()); calls done(id) for every
  // buffer now used up, oldest first.
  template <class Done>
  void consume(std::uint64_t n, Done&& done) {
    bytes_ -= n;
    while (n > 0 && count_ > 0) {
      Entry& e = entries_[head_];
      const std::uint64_t take = n < e.unconsumed() ? n : e.unconsumed();
      e.offset += static_cast<std::uint32_t>(take);
      n -= take;
      if (e.offset < e.length) break;
      const std::uint16_t id = e.id;
      head_ = (head_ + 1) % kCapacity;
      --count_;
      done(id);
    }
  }

  void clear() noexcept {
    head_ = 0;
    count_ = 0;
    bytes_ = 0;
  }

 private:
  std::array<Entry, kCapacity> entries_{};
  std::size_t head_ = 0;
  std::size_t count_ = 0;
  std::uint64_t bytes_ = 0;
};

}  // namespace ringftpd::server
