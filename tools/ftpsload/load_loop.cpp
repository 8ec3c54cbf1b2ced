#include "tools/ftpsload/load_loop.hpp"

#include <cerrno>
#include <cstdio>
#include <cstring>

namespace ringftpd::ftpsload {
namespace {

constexpr unsigned kRingEntries = 4096;
constexpr auto kTick = std::chrono::milliseconds(20);
constexpr auto kDrainGrace = std::chrono::seconds(2);

}  // namespace

tls::ClientOptions client_tls_options(const Options& options) {
  tls::ClientOptions o;
  o.min_version =
      options.tls_versions == TlsVersions::Tls13 ? tls::Version::Tls13 : tls::Version::Tls12;
  o.max_version =
      options.tls_versions == TlsVersions::Tls12 ? tls::Version::Tls12 : tls::Version::Tls13;
  o.tls12_ciphers = options.tls12_ciphers;
  o.tls13_ciphers = options.tls13_ciphers;
  return o;
}

LoadLoop::LoadLoop(const Plan& plan, RunControl& run, unsigned clients, std::uint32_t first_index,
                   unsigned ramp)
    : run_(run), ramp_(ramp == 0 ? 1 : ramp), env_{plan, run, stats_}, ring_(kRingEntries) {
  if (plan.options.tls) {
    tls_.emplace(client_tls_options(plan.options));
    env_.tls = &*tls_;
  }
  env_.ring = &ring_;
  // A fixed file slot per channel (idle sessions never open a data
  // connection): sockets then live in the ring's table, not the process's.
  const bool idle = plan.options.mode == Mode::Idle;
  const unsigned files = clients * (idle ? 1 : 2);
  const bool fixed = files > 0 && io_uring_register_files_sparse(ring_.raw(), files) == 0;
  clients_.reserve(clients);
  for (unsigned i = 0; i < clients; ++i) {
    const int control_file = fixed ? static_cast<int>(i) : -1;
    const int data_file = fixed && !idle ? static_cast<int>(clients + i) : -1;
    clients_.push_back(
        std::make_unique<FtpClient>(env_, i, first_index + i, control_file, data_file));
  }
  uses_fixed_files_ = fixed;
}

void LoadLoop::run() noexcept {
  env_.now = Clock::now();
  Clock::time_point next_tick = env_.now + kTick;
  Clock::time_point drain_end = Clock::time_point::max();
  fill_ramp();
  while (env_.finished < clients_.size()) {
    if (!env_.stopping && (env_.now >= run_.deadline() || run_.stop_requested())) {
      begin_stop();
      drain_end = env_.now + kDrainGrace;
      continue;
    }
    if (env_.now >= drain_end) break;  // cancellations that never came back
    const int rc = ring_.submit_and_wait(static_cast<int>(kTick.count()));
    if (rc < 0 && rc != -ETIME && rc != -EINTR && rc != -EBUSY) {
      std::fprintf(stderr, "ftpsload: io_uring wait failed: %s\n", std::strerror(-rc));
      stats_.error("io_uring wait failed");
      break;
    }
    env_.now = Clock::now();
    ring_.for_each_completion(
        [this](std::uint64_t data, int res, std::uint32_t) { dispatch(data, res); });
    env_.now = Clock::now();
    if (env_.now >= next_tick) {
      fire_deadlines();
      next_tick = env_.now + kTick;
    }
    fill_ramp();
  }
  if (!env_.stopping) end_time_ = env_.now;  // finished before any deadline
  ring_.submit_and_wait(0);                  // hand the last closes to the kernel
  finished_.store(true);
}

void LoadLoop::dispatch(std::uint64_t user_data, int res) noexcept {
  if (user_data == io::kIgnoredTag) return;
  const io::OpTag tag = io::OpTag::unpack(user_data);
  if (tag.slot >= clients_.size()) {
    ++late_completions_;
    return;
  }
  FtpClient& c = *clients_[tag.slot];
  if ((c.generation() & io::OpTag::kGenerationMask) != tag.generation) {
    ++late_completions_;  // cannot happen: a session drains before its slot restarts
    return;
  }
  c.on_completion(tag.op, res);
}

void LoadLoop::fire_deadlines() noexcept {
  const Clock::time_point now = env_.now;
  for (auto& c : clients_) {
    if (c->deadline() <= now) c->on_deadline();
  }
}

void LoadLoop::fill_ramp() noexcept {
  while (!env_.stopping && next_start_ < clients_.size() && env_.in_first_setup < ramp_) {
    clients_[next_start_++]->start();
  }
}

void LoadLoop::begin_stop() noexcept {
  env_.stopping = true;
  end_time_ = env_.now;
  // Clients never started are done as they are.
  while (next_start_ < clients_.size()) {
    FtpClient& c = *clients_[next_start_++];
    c.start();  // sees `stopping` and finishes at once
  }
  for (auto& c : clients_) c->stop();
}

}  // namespace ringftpd::ftpsload
