#include "server/proxy_intake.hpp"

#include <liburing.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "io/op_tag.hpp"
#include "server/network_match.hpp"
#include "server/ops.hpp"

namespace ringftpd::server {
namespace {

ProxyVersions versions_of(config::ProxyProtocol p) noexcept {
  switch (p) {
    case config::ProxyProtocol::V1:
      return ProxyVersions::V1;
    case config::ProxyProtocol::V2:
      return ProxyVersions::V2;
    case config::ProxyProtocol::Off:
    case config::ProxyProtocol::Any:
      break;
  }
  return ProxyVersions::Any;
}

}  // namespace

ProxyIntake::ProxyIntake(io::SubmissionQueue& ring, Log& log, WorkerCounters& counters,
                         std::string_view who, std::size_t capacity)
    : ring_(ring), log_(log), counters_(counters), who_(who), capacity_(capacity) {}

ProxyIntake::~ProxyIntake() = default;

std::uint64_t ProxyIntake::tag(std::uint32_t index) const noexcept {
  return io::OpTag{kWorkerSlot, index, static_cast<std::uint8_t>(Op::ProxyRecv)}.pack();
}

void ProxyIntake::take(io::UniqueFd fd, const io::SocketAddress& peer,
                       const io::SocketAddress& local, std::uint32_t listener,
                       const config::ProxySettings& proxy, Clock::time_point now) {
  if (!in_networks(proxy.trusted, peer)) {
    // Anyone else's header could claim any address: not even read.
    counters_.add(Counter::ProxyRefusedUntrusted);
    log_.warn(peer.to_string(),
              "closed: a PROXY protocol listener's connection from an "
              "address not in proxy_trusted");
    return;  // fd closes here; nothing was submitted for it
  }
  std::uint32_t index = 0;
  if (!free_.empty()) {
    index = free_.back();
    free_.pop_back();
  } else {
    index = static_cast<std::uint32_t>(slots_.size());
    slots_.push_back(std::make_unique<Pending>());
  }
  Pending& p = *slots_[index];
  p.state = State::Reading;
  p.fd = std::move(fd);
  p.peer = peer;
  p.local = local;
  p.listener = listener;
  p.versions = versions_of(proxy.protocol);
  p.deadline = now + kHeaderTimeout;
  p.filled = 0;
  ++active_;
  arm_recv(index);
}

void ProxyIntake::arm_recv(std::uint32_t index) noexcept {
  Pending& p = *slots_[index];
  io_uring_prep_recv(ring_.sqe(tag(index)), p.fd.get(), p.buffer.data() + p.filled,
                     p.buffer.size() - p.filled, 0);
}

std::optional<ProxyIntake::Arrival> ProxyIntake::on_recv(std::uint32_t index, int res) noexcept {
  if (index >= slots_.size() || slots_[index]->state == State::Free) {
    log_.error(who_, "bug: a PROXY header receive for no pending connection");
    return std::nullopt;
  }
  Pending& p = *slots_[index];
  if (p.state == State::Cancelling) {
    if (stopping_) {
      give_up(index, std::nullopt, "closed before its PROXY header: the server is stopping");
    } else {
      give_up(index, Counter::ProxyRefusedTimeout,
              "closed: no complete PROXY header within " + std::to_string(kHeaderTimeout.count()) +
                  " s");
    }
    return std::nullopt;
  }
  if (res <= 0) {
    const std::string why =
        res == 0 ? std::string("the peer closed the connection") : std::string(std::strerror(-res));
    give_up(index, Counter::ProxyRefusedMalformed,
            "closed before its PROXY header was complete (" + why + ", " +
                std::to_string(p.filled) + " bytes received)");
    return std::nullopt;
  }
  p.filled += static_cast<std::size_t>(res);
  const ProxyParse parsed =
      parse_proxy_header(std::span<const std::byte>(p.buffer.data(), p.filled), p.versions);
  switch (parsed.status) {
    case ProxyParse::Status::Incomplete:
      arm_recv(index);
      return std::nullopt;
    case ProxyParse::Status::Invalid:
      give_up(index, Counter::ProxyRefusedMalformed,
              "closed: bad PROXY header (" + std::string(parsed.error) + ")");
      return std::nullopt;
    case ProxyParse::Status::Complete:
      break;
  }
  Arrival a;
  a.fd = std::move(p.fd);
  a.peer = parsed.header.source.value_or(p.peer);
  a.local = p.local;
  a.listener = p.listener;
  a.version = parsed.header.version;
  a.early_input.assign(p.buffer.begin() + static_cast<std::ptrdiff_t>(parsed.header.length),
                       p.buffer.begin() + static_cast<std::ptrdiff_t>(p.filled));
  log_.debug(a.peer.to_string(), "PROXY v" + std::to_string(a.version) + " header from " +
                                     p.peer.to_string() + (parsed.header.source ? "" : " (local)"));
  p.state = State::Free;
  --active_;
  free_.push_back(index);
  return a;
}

void ProxyIntake::give_up(std::uint32_t index, std::optional<Counter> reason,
                          std::string_view why) noexcept {
  Pending& p = *slots_[index];
  if (reason) counters_.add(*reason);
  // A balancer's TCP health check connects and leaves without a byte:
  // common, harmless, and not worth a warning each time.
  const bool quiet = reason == Counter::ProxyRefusedMalformed && p.filled == 0;
  log_.write(quiet ? config::LogLevel::Info : config::LogLevel::Warn, p.peer.to_string(), why);
  p.fd.reset();  // no operation names it any more
  p.state = State::Free;
  --active_;
  free_.push_back(index);
}

void ProxyIntake::cancel(std::uint32_t index) noexcept {
  Pending& p = *slots_[index];
  if (p.state != State::Reading) return;
  p.state = State::Cancelling;
  io_uring_prep_cancel64(ring_.sqe(io::kIgnoredTag), tag(index), 0);
}

void ProxyIntake::on_tick(Clock::time_point now) noexcept {
  for (std::uint32_t i = 0; i < slots_.size(); ++i) {
    if (slots_[i]->state == State::Reading && slots_[i]->deadline <= now) cancel(i);
  }
}

void ProxyIntake::cancel_all() noexcept {
  stopping_ = true;
  for (std::uint32_t i = 0; i < slots_.size(); ++i) cancel(i);
}

}  // namespace ringftpd::server
