#include "server/process/authd.hpp"

#include <poll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <exception>
#include <optional>

#include "server/auth/auth_service.hpp"
#include "server/auth/user_table.hpp"
#include "server/log_queue.hpp"
#include "server/process/privileges.hpp"
#include "server/process/serving_snapshot.hpp"

namespace ringftpd::server {
namespace {

constexpr char kWho[] = "authd";
// How often the loop flushes the log when nothing else wakes it: lines the
// log's descriptor did not take at once wait in its queue until then.
constexpr int kFlushIntervalMs = 1000;

// Receives one worker socket end from the master; nullopt on EOF/error
// (*closed set when the master is gone).
std::optional<io::UniqueFd> receive_client(int admin_fd, bool* closed) {
  char byte = 0;
  iovec iov{&byte, 1};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))];
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  const ssize_t n = recvmsg(admin_fd, &msg, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
  if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) *closed = true;
  if (n <= 0) return std::nullopt;
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS &&
        c->cmsg_len == CMSG_LEN(sizeof(int))) {
      int fd = -1;
      std::memcpy(&fd, CMSG_DATA(c), sizeof fd);
      return io::UniqueFd(fd);
    }
  }
  return std::nullopt;
}

void reload_users(const AuthdSetup& setup, auth::AuthService& service, Log& log) {
  if (setup.account != nullptr || setup.config->source.empty() ||
      setup.config->source.front() == '<') {
    log.info(kWho, "reload: the embedded account does not change");
    return;
  }
  try {
    const config::Config fresh = config::load_file(setup.config->source);
    service.replace_users(auth::UserTable(load_users(fresh, nullptr), fresh.users));
    log.info(kWho, "reloaded the users");
  } catch (const std::exception& e) {
    log.error(kWho, std::string("reload refused, keeping the previous users: ") + e.what());
  }
}

// The auth service's threads log through `queue`; this thread alone writes
// the Log (it is not thread-safe, log_queue.hpp).
void forward_service_lines(LogQueue& queue, Log& log) noexcept {
  (void)queue.forward_to(log, kWho);
  log.flush();
}

}  // namespace

bool send_client_to_authd(int admin_fd, int service_end) noexcept {
  char byte = 'c';
  iovec iov{&byte, 1};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  cmsghdr* c = CMSG_FIRSTHDR(&msg);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int));
  std::memcpy(CMSG_DATA(c), &service_end, sizeof service_end);
  return sendmsg(admin_fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT) == 1;
}

int run_authd(AuthdSetup setup, Log& log) noexcept {
  try {
    exit_with_master(setup.master);
    forbid_new_privileges();
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGHUP);
    io::UniqueFd signals(signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK));
    if (!signals) throw std::system_error(errno, std::generic_category(), "signalfd");

    const config::Config& cfg = *setup.config;
    // Declared before the service, so it outlives the service's threads.
    LogQueue service_lines;
    auth::AuthServiceOptions options;
    options.log = [&service_lines](std::string_view line) { service_lines.push(line); };
    // Certificate logins ask for the account without a password.
    options.allow_user_lookup = cfg.tls.client_certs != config::ClientCerts::Off;
    auth::AuthService service(auth::UserTable(load_users(cfg, setup.account), cfg.users),
                              cfg.limits, std::move(options));
    for (io::UniqueFd& fd : setup.clients) service.adopt_client(std::move(fd));
    setup.clients.clear();
    log.info(kWho, "ready (pid " + std::to_string(getpid()) + ")");

    for (;;) {
      forward_service_lines(service_lines, log);
      pollfd fds[3] = {{signals.get(), POLLIN, 0},
                       {setup.admin.get(), POLLIN, 0},
                       {service_lines.ready_fd(), POLLIN, 0}};
      if (poll(fds, 3, kFlushIntervalMs) < 0) {
        if (errno == EINTR) continue;
        throw std::system_error(errno, std::generic_category(), "poll");
      }
      if (fds[0].revents & POLLIN) {
        signalfd_siginfo info{};
        while (read(signals.get(), &info, sizeof info) == static_cast<ssize_t>(sizeof info)) {
          if (info.ssi_signo == SIGTERM) {
            forward_service_lines(service_lines, log);
            log.info(kWho, "stopping");
            return 0;
          }
          reload_users(setup, service, log);
        }
      }
      if (fds[1].revents & (POLLIN | POLLHUP | POLLERR)) {
        bool closed = false;
        while (auto fd = receive_client(setup.admin.get(), &closed)) {
          try {
            service.adopt_client(std::move(*fd));
          } catch (const std::exception& e) {
            log.error(kWho, std::string("refused a socket from the master: ") + e.what());
          }
        }
        if (closed) {
          forward_service_lines(service_lines, log);
          log.info(kWho, "the master is gone; stopping");
          return 0;
        }
      }
    }
  } catch (const std::exception& e) {
    log.error(kWho, std::string("fatal: ") + e.what());
    return 1;
  }
}

}  // namespace ringftpd::server
