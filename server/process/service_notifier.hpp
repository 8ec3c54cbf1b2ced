// Tells the service manager how the master is doing, through libsystemd's
// sd_notify(3) (dist/systemd/ringftpd.service is Type=notify):
//
//   ready()      "READY=1": every worker of the current generation accepts
//                sessions (at start, and when a reload is done or refused);
//   reloading()  "RELOADING=1" with "MONOTONIC_USEC=" (the clock systemd 253+
//                wants to tell this reload from an older one; 252 ignores it);
//   stopping()   "STOPPING=1": a graceful or immediate stop began.
//
// Without $NOTIFY_SOCKET (not started by systemd) every call does nothing.
// The master alone sends: the unit's NotifyAccess=main would drop a message
// from a child anyway. Failures are reported, never thrown: the service
// manager's bookkeeping must not stop the server.
#pragma once

#include <string>
#include <string_view>

namespace ringftpd::server {

class ServiceNotifier {
 public:
  // Reads $NOTIFY_SOCKET once (sd_notify reads it again on each call).
  ServiceNotifier();

  // Whether a service manager is listening (NOTIFY_SOCKET is set).
  [[nodiscard]] bool is_active() const noexcept { return active_; }

  // Each returns "" when the message was sent or there is nobody to send it
  // to, else why it failed (for the log).
  [[nodiscard]] std::string ready(std::string_view status) const;
  [[nodiscard]] std::string reloading() const;
  [[nodiscard]] std::string stopping() const;

 private:
  [[nodiscard]] std::string send(const std::string& message) const;
  bool active_ = false;
};

}  // namespace ringftpd::server
