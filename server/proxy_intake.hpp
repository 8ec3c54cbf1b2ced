// Control connections accepted on a PROXY protocol listener, held by the
// worker until the balancer's header says who the client is.
//
// The header decides the session's address, and the address decides
// admission (max_sessions_per_address), so no ControlSession exists before
// it is read: a pending connection is one socket, one fixed buffer and one
// receive in flight, in one of these states:
//
//   Reading ──(header complete)──> handed to the worker (Arrival)
//      │  \──(invalid, EOF, error)──> closed, counted, logged
//      └──(deadline)──> Cancelling ──(the receive ends)──> closed, counted, logged
//
// Bounds: at most `capacity` pending connections (the worker refuses more
// at accept), each buffering at most kMaxProxyHeaderBytes; a header must be
// complete within the deadline, however it is split into segments. The
// receive asks for as many bytes as the buffer holds, so bytes after the
// header (an implicit-TLS ClientHello in the same segment, a pipelined
// command) may come with it: they travel to the session as its first input,
// never lost.
//
// Ownership: a pending connection's fd is closed only when no receive names
// it (after its completion); its slot is reused only then, so the slot index
// alone identifies a completion. Completions carry Op::ProxyRecv with the
// worker's slot and the index as the generation.
#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "config/config.hpp"
#include "io/socket.hpp"
#include "io/submission_queue.hpp"
#include "io/unique_fd.hpp"
#include "server/log.hpp"
#include "server/process/counters.hpp"
#include "server/proxy_header.hpp"

namespace ringftpd::server {

class ProxyIntake {
 public:
  using Clock = std::chrono::steady_clock;
  // A balancer writes its header the moment it connects; a slow one is
  // broken or not a balancer.
  static constexpr std::chrono::seconds kHeaderTimeout{5};

  // A connection whose header is in: the session's addresses and first input.
  struct Arrival {
    io::UniqueFd fd;
    io::SocketAddress peer;   // the client the header declares (else the socket's peer)
    io::SocketAddress local;  // this socket's own local address
    std::uint32_t listener = 0;
    std::uint8_t version = 0;
    std::vector<std::byte> early_input;  // bytes that followed the header
  };

  ProxyIntake(io::SubmissionQueue& ring, Log& log, WorkerCounters& counters, std::string_view who,
              std::size_t capacity);
  ~ProxyIntake();
  ProxyIntake(const ProxyIntake&) = delete;
  ProxyIntake& operator=(const ProxyIntake&) = delete;

  [[nodiscard]] std::size_t size() const noexcept { return active_; }
  [[nodiscard]] bool full() const noexcept { return active_ == capacity_; }

  // A connection just accepted on `listener`, whose settings are `proxy`.
  // Closes it at once (counted, logged) when its peer is no trusted
  // balancer; else starts reading its header. Call only when !full().
  void take(io::UniqueFd fd, const io::SocketAddress& peer, const io::SocketAddress& local,
            std::uint32_t listener, const config::ProxySettings& proxy, Clock::time_point now);

  // The receive of pending connection `index` completed.
  [[nodiscard]] std::optional<Arrival> on_recv(std::uint32_t index, int res) noexcept;

  // Once a second: headers past their deadline are given up.
  void on_tick(Clock::time_point now) noexcept;
  // The worker stops: every pending connection is given up (closed once its
  // receive has ended).
  void cancel_all() noexcept;

 private:
  enum class State : std::uint8_t { Free, Reading, Cancelling };

  struct Pending {
    State state = State::Free;
    io::UniqueFd fd;
    io::SocketAddress peer;
    io::SocketAddress local;
    std::uint32_t listener = 0;
    ProxyVersions versions = ProxyVersions::Any;
    Clock::time_point deadline{};
    std::size_t filled = 0;
    std::array<std::byte, kMaxProxyHeaderBytes> buffer{};
  };

  void arm_recv(std::uint32_t index) noexcept;
  void cancel(std::uint32_t index) noexcept;
  // Closes the connection, frees the slot, counts (unless no reason: the
  // server is stopping) and logs why.
  void give_up(std::uint32_t index, std::optional<Counter> reason, std::string_view why) noexcept;
  [[nodiscard]] std::uint64_t tag(std::uint32_t index) const noexcept;

  io::SubmissionQueue& ring_;
  Log& log_;
  WorkerCounters& counters_;
  std::string who_;
  std::size_t capacity_;
  std::size_t active_ = 0;
  bool stopping_ = false;
  // Slots are made on first use and kept: a pending connection's buffer is
  // 1 KiB, and a balancer keeps only a few in flight.
  std::vector<std::unique_ptr<Pending>> slots_;
  std::vector<std::uint32_t> free_;
};

}  // namespace ringftpd::server
