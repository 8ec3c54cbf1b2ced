#include "server/process/worker_process.hpp"

#include <exception>
#include <string>

#include "server/process/sandbox.hpp"
#include "tls/context.hpp"
#include "tls/resumption.hpp"

namespace ringftpd::server {

int run_worker_process(WorkerProcessSetup setup, Log& log, TransferLog& xferlog,
                       WorkerCounters& counters) noexcept {
  const std::string name = setup.worker.name;
  try {
    const config::Config& cfg = *setup.snapshot->config;
    // Each session: the control socket, a data socket, a passive listener,
    // a pipe pair and a file; plus the worker's own.
    const rlim_t want = static_cast<rlim_t>(cfg.limits.max_sessions) * 6 + 256;
    const rlim_t got = raise_nofile_limit(want);
    forbid_new_privileges();
    if (setup.run_as) drop_privileges(*setup.run_as);
    exit_with_master(setup.master);
    if (got < want) {
      log.warn(name, "RLIMIT_NOFILE is " + std::to_string(got) + ", below the " +
                         std::to_string(want) + " that max_sessions may need");
    }
    // Every worker resumes every other worker's sessions: one shared state.
    auto resumption = std::make_shared<tls::Resumption>(setup.tls_state);
    const tls::ServerContext context(*setup.snapshot->credentials, setup.snapshot->tls_options,
                                     std::move(resumption));
    setup.worker.tls_context = &context;
    const config::PortRange ports = setup.worker.passive_ports;
    const bool sandboxed = cfg.sandbox.enabled;
    if (sandboxed) setup.worker.ring_restrictions = worker_ring_restrictions();
    Worker worker(std::move(setup.worker), log, xferlog, counters);
    // Last: everything the worker needs is made; from here on it only serves.
    if (sandboxed) {
      const SandboxReport sandbox = enter_sandbox(setup.snapshot->sandbox_roots, worker.ring());
      for (const std::string& skipped : sandbox.landlock.skipped) {
        log.warn(name, "sandbox: root unreachable until the next reload: " + skipped);
      }
      if (sandbox.landlock.abi == 0) {
        log.warn(name,
                 "sandbox: this kernel has no Landlock; file access is confined by "
                 "openat2 alone");
      }
      log.info(name, sandbox.summary());
    } else {
      log.warn(name, "sandbox: off ([sandbox] enabled = false)");
    }
    log.info(name, "serving as " + (setup.run_as ? setup.run_as->name : std::string("myself")) +
                       ", passive ports " + std::to_string(ports.first) + "-" +
                       std::to_string(ports.last));
    return worker.run();
  } catch (const std::exception& e) {
    log.error(name, std::string("cannot start: ") + e.what());
    return 1;
  }
}

}  // namespace ringftpd::server
