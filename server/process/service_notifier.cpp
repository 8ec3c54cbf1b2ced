#include "server/process/service_notifier.hpp"

#include <systemd/sd-daemon.h>

#include <cstdlib>
#include <cstring>
#include <ctime>

namespace ringftpd::server {

ServiceNotifier::ServiceNotifier() {
  const char* socket = std::getenv("NOTIFY_SOCKET");
  active_ = socket != nullptr && socket[0] != '\0';
}

std::string ServiceNotifier::send(const std::string& message) const {
  if (!active_) return {};
  // unset_environment = 0: the variable stays for the next message (reload,
  // stop). Workers inherit it but never send (NotifyAccess=main).
  const int rc = sd_notify(0, message.c_str());
  if (rc > 0) return {};
  if (rc == 0) return "NOTIFY_SOCKET is not set";
  return std::string("sd_notify: ") + std::strerror(-rc);
}

std::string ServiceNotifier::ready(std::string_view status) const {
  std::string m = "READY=1";
  if (!status.empty()) m.append("\nSTATUS=").append(status);
  return send(m);
}

std::string ServiceNotifier::reloading() const {
  timespec now{};
  clock_gettime(CLOCK_MONOTONIC, &now);
  const unsigned long long usec = static_cast<unsigned long long>(now.tv_sec) * 1'000'000ULL +
                                  static_cast<unsigned long long>(now.tv_nsec) / 1000ULL;
  return send("RELOADING=1\nSTATUS=reloading\nMONOTONIC_USEC=" + std::to_string(usec));
}

std::string ServiceNotifier::stopping() const {
  return send("STOPPING=1\nSTATUS=stopping");
}

}  // namespace ringftpd::server
