// Master: what it tells the service manager (ServiceNotifier), and when.
#include <string>

#include "server/process/master.hpp"

namespace ringftpd::server {
namespace {

constexpr char kWho[] = "master";

}  // namespace

bool Master::current_generation_serving() const noexcept {
  for (const Slot& slot : slots_) {
    const auto it = slot.pid > 0 ? workers_.find(slot.pid) : workers_.end();
    if (it == workers_.end() || !it->second.counters->is_serving()) return false;
  }
  return true;
}

void Master::announce_ready_when_serving() noexcept {
  // The listeners exist since the constructor, so a client could connect
  // before this; ready means a worker will also take the connection and
  // greet it, with the current generation's configuration.
  if (!ready_pending_ || stop_ != Stop::None || !current_generation_serving()) return;
  ready_pending_ = false;
  const std::string what = std::to_string(current_->workers) + " worker(s) serving, generation " +
                           std::to_string(current_->number);
  log_->info(kWho, "ready: " + what);
  log_notify_failure(notifier_.ready(what));
}

void Master::log_notify_failure(const std::string& error) noexcept {
  if (!error.empty()) log_->warn(kWho, "cannot tell the service manager: " + error);
}

}  // namespace ringftpd::server
