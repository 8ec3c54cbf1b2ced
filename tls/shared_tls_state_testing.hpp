// Testing-only entry points into SharedTlsState: they break the region the
// way a crash or a stray write would, so that tests can check the repairs.
// Never called by the server.
#pragma once

#include <cstdint>
#include <span>

#include "tls/shared_tls_state.hpp"

namespace ringftpd::tls {

struct SharedTlsStateTesting {
  // Does what put_session does up to the middle of the copy, then raises
  // SIGKILL: a writer killed while holding the lock, its slot half written
  // (the header and half of `der`, under the dirty mark). Run it in a child
  // process.
  [[noreturn]] static void die_while_writing_session(SharedTlsState& state,
                                                     std::span<const std::uint8_t> id,
                                                     std::span<const std::uint8_t> der,
                                                     std::uint64_t origin, SteadyTime expires,
                                                     SteadyTime now) noexcept;

  // Rotates the ticket keys up to the point where the new key is written but
  // not yet current, then raises SIGKILL (in a child process).
  [[noreturn]] static void die_while_rotating(SharedTlsState& state, SteadyTime now) noexcept;

  // Flips one data byte of the entry for `id` without the lock or the dirty
  // mark: a torn write that the repair missed. false if there is no entry.
  static bool corrupt_session(SharedTlsState& state, std::span<const std::uint8_t> id) noexcept;

  // The region's identity and geometry, for checks of the layout.
  [[nodiscard]] static std::uint64_t magic(const SharedTlsState& state) noexcept;
  [[nodiscard]] static std::uint32_t probe_window(const SharedTlsState& state) noexcept;
};

}  // namespace ringftpd::tls
