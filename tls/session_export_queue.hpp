// tls::detail::SessionExportQueue: a bounded FIFO, in SharedTlsState's
// region, of the TLS 1.2 sessions the workers stored, waiting for sharedd to
// copy them to Redis ([shared] session_ids). A view: it owns nothing.
//
// Workers push under the region's lock as part of put_session (a memcpy);
// when the FIFO is full the session is not queued (counted: exports_dropped)
// and the worker goes on: nothing waits for Redis. sharedd pops one entry at
// a time under the lock and does its I/O after releasing it.
//
// Crash safety: a push brackets its stores with the dirty mark; recover()
// empties the marked slot (live = 0), and pop() skips empty slots.
#pragma once

#include <cstdint>
#include <span>

#include "tls/shared_tls_layout.hpp"

namespace ringftpd::tls::detail {

class SessionExportQueue {
 public:
  SessionExportQueue(RegionHeader& header, std::byte* region) noexcept;

  [[nodiscard]] bool is_enabled() const noexcept { return header_->export_capacity != 0; }
  // Under the lock. false: full (or disabled); nothing was written.
  bool push(const SessionSlotHeader& entry, std::span<const std::uint8_t> data) noexcept;
  // Under the lock. Copies the oldest entry out (data_out must hold
  // max_session_bytes) and frees its slot; false when empty.
  bool pop(SessionSlotHeader& entry, std::span<std::uint8_t> data_out) noexcept;
  void recover(std::uint32_t index) noexcept;

 private:
  [[nodiscard]] SessionSlotHeader& slot(std::uint32_t index) const noexcept;
  [[nodiscard]] std::uint8_t* data(std::uint32_t index) const noexcept;

  RegionHeader* header_;
  std::byte* base_;
};

}  // namespace ringftpd::tls::detail
