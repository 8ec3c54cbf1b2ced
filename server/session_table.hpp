// Slots for the sessions of one worker. A slot's generation changes every time
// it is reused, so a completion tagged for a previous occupant is recognised
// and dropped instead of being delivered to the wrong session.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

namespace ringftpd::server {

template <class Session>
class SessionTable {
 public:
  explicit SessionTable(std::uint32_t capacity) : capacity_(capacity) {}

  [[nodiscard]] std::uint32_t size() const noexcept { return live_; }
  [[nodiscard]] bool full() const noexcept { return live_ >= capacity_; }

  // Reserves a slot; returns {slot, generation}. Precondition: !full().
  std::pair<std::uint32_t, std::uint32_t> reserve() {
    std::uint32_t slot;
    if (!free_.empty()) {
      slot = free_.back();
      free_.pop_back();
    } else {
      slot = static_cast<std::uint32_t>(slots_.size());
      slots_.emplace_back();
    }
    ++live_;
    return {slot, slots_[slot].generation};
  }

  void install(std::uint32_t slot, std::unique_ptr<Session> s) {
    slots_[slot].session = std::move(s);
  }

  // The live session at slot with this generation, or null.
  [[nodiscard]] Session* find(std::uint32_t slot, std::uint32_t generation) noexcept {
    if (slot >= slots_.size()) return nullptr;
    Slot& s = slots_[slot];
    if (!s.session || (s.generation & kGenMask) != (generation & kGenMask)) return nullptr;
    return s.session.get();
  }

  void release(std::uint32_t slot) {
    slots_[slot].session.reset();
    slots_[slot].generation = (slots_[slot].generation + 1) & kGenMask;
    free_.push_back(slot);
    --live_;
  }

  template <class Fn>
  void for_each(Fn&& fn) {
    for (auto& s : slots_) {
      if (s.session) fn(*s.session);
    }
  }

 private:
  static constexpr std::uint32_t kGenMask = 0xFFFFFF;
  struct Slot {
    std::uint32_t generation = 0;
    std::unique_ptr<Session> session;
  };
  std::uint32_t capacity_;
  std::uint32_t live_ = 0;
  std::vector<Slot> slots_;
  std::vector<std::uint32_t> free_;
};

}  // namespace ringftpd::server
