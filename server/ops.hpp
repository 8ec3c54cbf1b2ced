// The operations a worker puts on its ring; the `op` byte of an io::OpTag.
#pragma once

#include <cstdint>

namespace ringftpd::server {

enum class Op : std::uint8_t {
  // Worker-level (slot = kWorkerSlot).
  Accept = 1,  // multishot accept on listener `generation` (index)
  Signal,      // read of the signalfd
  Tick,        // the once-a-second timer that enforces timeouts
  // Per control session.
  ControlRecv,  // multishot receive into the provided buffer ring
  ControlSend,
  ControlClose,
};

inline constexpr std::uint32_t kWorkerSlot = 0xFFFFFFFF;

}  // namespace ringftpd::server
