#include "server/process/metricsd.hpp"

#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <cerrno>
#include <string>
#include <system_error>

#include "io/socket.hpp"
#include "server/metrics/exposition.hpp"
#include "server/metrics/http_server.hpp"

namespace ringftpd::server {
namespace {
constexpr char kWho[] = "metricsd";
}  // namespace

int run_metricsd(MetricsdSetup setup, Log& log) noexcept {
  try {
    if (setup.run_as) drop_privileges(*setup.run_as);
    exit_with_master(setup.master);  // after the identity change, which clears it
    forbid_new_privileges();
    if (!setup.counters->make_read_only()) {
      throw std::system_error(errno, std::generic_category(), "mprotect counters read-only");
    }
    // The HTTP-facing process never sees a ticket key or a session secret.
    if (!setup.tls_state->restrict_to_statistics()) {
      throw std::system_error(errno, std::generic_category(), "mprotect TLS state");
    }
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    // The mask (inherited from the master) already blocks SIGTERM; MHD's
    // thread inherits it too, so the signal is read here and only here.
    io::UniqueFd signals(signalfd(-1, &set, SFD_CLOEXEC));
    if (!signals) throw std::system_error(errno, std::generic_category(), "signalfd");

    const auto where = io::local_address(setup.listen_fd.get());
    const CounterRegion& counters = *setup.counters;
    const tls::SharedTlsState& tls = *setup.tls_state;
    const AddressTable& addresses = *setup.addresses;
    metrics::HttpServer server(std::move(setup.listen_fd), [&] {
      return metrics::render(metrics::read_figures(counters, tls, addresses));
    });
    log.info(kWho, "serving http://" + (where ? where->to_string() : std::string("?")) +
                       metrics::kMetricsPath + " (pid " + std::to_string(getpid()) + ")");
    log.flush();
    for (;;) {
      signalfd_siginfo info{};
      const ssize_t n = read(signals.get(), &info, sizeof info);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) throw std::system_error(errno, std::generic_category(), "read signalfd");
      if (info.ssi_signo == SIGTERM) break;
    }
    log.info(kWho, "stopping");
  } catch (const std::exception& e) {
    log.error(kWho, std::string("fatal: ") + e.what());
    log.drain(std::chrono::milliseconds(200));
    return 1;
  }
  log.drain(std::chrono::milliseconds(200));
  return 0;
}

}  // namespace ringftpd::server
