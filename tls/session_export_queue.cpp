#include "tls/session_export_queue.hpp"

#include <string.h>  // explicit_bzero

#include <algorithm>
#include <cstring>

namespace ringftpd::tls::detail {

SessionExportQueue::SessionExportQueue(RegionHeader& header, std::byte* region) noexcept
    : header_(&header), base_(region) {}

SessionSlotHeader& SessionExportQueue::slot(std::uint32_t index) const noexcept {
  return *reinterpret_cast<SessionSlotHeader*>(base_ + header_->exports_offset +
                                               std::size_t{index} * header_->slot_stride);
}

std::uint8_t* SessionExportQueue::data(std::uint32_t index) const noexcept {
  return reinterpret_cast<std::uint8_t*>(&slot(index)) + sizeof(SessionSlotHeader);
}

bool SessionExportQueue::push(const SessionSlotHeader& entry,
                              std::span<const std::uint8_t> bytes) noexcept {
  const std::uint32_t cap = header_->export_capacity;
  if (cap == 0 || header_->export_count == cap || bytes.size() > header_->max_session_bytes) {
    return false;
  }
  const std::uint32_t index = (header_->export_head + header_->export_count) % cap;
  header_->dirty.store(dirty_mark(DirtyKind::ExportSlot, index), std::memory_order_relaxed);
  std::atomic_signal_fence(std::memory_order_seq_cst);
  std::memcpy(&slot(index), &entry, sizeof entry);
  std::memcpy(data(index), bytes.data(), bytes.size());
  ++header_->export_count;
  std::atomic_signal_fence(std::memory_order_seq_cst);
  header_->dirty.store(0, std::memory_order_relaxed);
  return true;
}

bool SessionExportQueue::pop(SessionSlotHeader& entry, std::span<std::uint8_t> data_out) noexcept {
  const std::uint32_t cap = header_->export_capacity;
  while (cap != 0 && header_->export_count != 0) {
    const std::uint32_t index = header_->export_head;
    SessionSlotHeader& s = slot(index);
    const bool usable = s.live != 0 && s.length >= 1 && s.length <= header_->max_session_bytes &&
                        s.length <= data_out.size();
    if (usable) {
      entry = s;
      std::memcpy(data_out.data(), data(index), s.length);
    }
    explicit_bzero(data(index), std::min<std::uint32_t>(s.length, header_->max_session_bytes));
    explicit_bzero(&s, sizeof s);
    header_->export_head = (index + 1) % cap;
    --header_->export_count;
    if (usable) return true;
  }
  return false;
}

void SessionExportQueue::recover(std::uint32_t index) noexcept {
  if (index < header_->export_capacity) slot(index).live = 0;  // pop() skips it
}

}  // namespace ringftpd::tls::detail
