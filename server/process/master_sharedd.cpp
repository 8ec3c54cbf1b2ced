// Master: the sharedd helper ([shared], sharedd.hpp): started after authd,
// restarted with a back-off when it dies, like metricsd.
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <exception>
#include <string>
#include <vector>

#include "server/process/fd_hygiene.hpp"
#include "server/process/master.hpp"

namespace ringftpd::server {
namespace {

constexpr char kWho[] = "master";

}  // namespace

void Master::fork_sharedd() noexcept {
  sharedd_respawn_due_ = false;
  const pid_t pid = fork();
  if (pid == 0) {
    log_->after_fork("sharedd");
    int status = 1;
    try {
      std::vector<int> keep{log_->fd()};
      if (log_->json_fd() >= 0) keep.push_back(log_->json_fd());
      close_all_fds_except(std::move(keep));
      SharedSetup setup;
      setup.settings = shared_;
      setup.secrets = shared_secrets_;
      const config::TlsSettings& tls = current_->snapshot.config->tls;
      setup.rotation = std::chrono::seconds(tls.ticket_key_rotation_seconds);
      setup.lifetime = std::chrono::seconds(tls.session_lifetime_seconds);
      setup.tls_state = tls_state_;
      setup.counters = &counters_;
      setup.run_as = current_->run_as;
      setup.master = self_;
      status = run_sharedd(std::move(setup), *log_);
    } catch (const std::exception& e) {
      log_->error("sharedd", std::string("cannot start: ") + e.what());
      log_->drain(kLogDrain);
    }
    _exit(status);
  }
  if (pid < 0) {
    log_->error(kWho, std::string("fork sharedd: ") + std::strerror(errno));
    on_sharedd_exit(0);
    return;
  }
  sharedd_pid_ = pid;
  sharedd_started_ = Clock::now();
}

void Master::on_sharedd_exit(int status) noexcept {
  const bool forked = sharedd_pid_ > 0;
  sharedd_pid_ = 0;
  if (stop_ != Stop::None) return;
  sharedd_backoff_ =
      next_backoff(sharedd_backoff_, forked ? Clock::now() - sharedd_started_ : Clock::duration{});
  sharedd_respawn_due_ = true;
  sharedd_respawn_at_ = Clock::now() + sharedd_backoff_;
  if (forked) {
    // Meanwhile the ring keeps its keys, and rotates locally once the
    // helper's hold lapses (TicketKeySync).
    log_->error(kWho, "sharedd " + describe_exit(status) + "; restarting it in " +
                          ms_text(sharedd_backoff_));
  }
}

}  // namespace ringftpd::server
