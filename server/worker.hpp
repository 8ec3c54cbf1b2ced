// A worker: one io_uring event loop serving many control sessions.
//
// Runs in the process that constructs it (after fork, when there is a
// master); owns its ring, its receive buffers and its sessions. The loop has
// the shape of liburing's echo server: submit_and_wait -> for each CQE ->
// decode tag -> dispatch -> advance. Nothing in the loop blocks.
#pragma once

#include <signal.h>
#include <sys/signalfd.h>

#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "config/config.hpp"
#include "io/buffer_ring.hpp"
#include "io/ring.hpp"
#include "io/unique_fd.hpp"
#include "server/auth_link.hpp"
#include "server/control_session.hpp"
#include "server/data_channel.hpp"
#include "server/log.hpp"
#include "server/session_table.hpp"
#include "server/transfer_log.hpp"
#include "tls/context.hpp"

namespace ringftpd::server {

struct ListenSocket {
  io::UniqueFd fd;
  bool implicit_tls = false;
};

// Blocks SIGTERM, SIGINT and SIGHUP in the calling thread; threads created
// afterwards inherit the mask. Call before starting any thread, so that the
// signals reach the worker's signalfd and never a helper thread.
void block_stop_signals();

class Worker {
 public:
  // Blocks SIGTERM, SIGINT and SIGHUP for the calling thread and reads them
  // through a signalfd on the ring instead. Throws on ring set-up failure.
  // auth_fd: this worker's end of the auth service's socket.
  // tls_context: may be null (no TLS); must outlive the worker.
  Worker(config::Snapshot config, std::vector<ListenSocket> listeners, io::UniqueFd auth_fd,
         const tls::ServerContext* tls_context, Log& log);

  // Runs until SIGTERM or SIGINT and every session has closed. Returns the
  // process exit status.
  int run();

 private:
  void arm_accept(std::uint32_t index);
  void arm_signal_read();
  void arm_tick();
  void dispatch(std::uint64_t user_data, int res, std::uint32_t flags) noexcept;
  void on_accept(std::uint32_t index, int res, std::uint32_t flags) noexcept;
  void on_signal(int res) noexcept;
  void on_auth_reply(int res) noexcept;
  void on_tick() noexcept;
  void reject(io::UniqueFd fd, std::string_view why) noexcept;
  void release_if_finished(std::uint32_t slot, ControlSession& s) noexcept;
  void begin_shutdown(const char* why) noexcept;

  config::Snapshot config_;
  Log& log_;
  std::vector<ListenSocket> listeners_;
  io::UniqueFd signal_fd_;
  // Declared before the ring so it is destroyed after the ring has drained.
  signalfd_siginfo signal_info_{};
  __kernel_timespec tick_interval_{};
  // The kernel writes into auth_'s receive buffer: it must outlive the ring.
  AuthLink auth_;
  io::Ring ring_;
  io::BufferRing recv_buffers_;
  PassivePorts passive_ports_;
  TransferLog xferlog_;
  const tls::ServerContext* tls_context_;
  std::vector<std::byte> scratch_;  // decrypted control bytes land here first
  SessionTable<ControlSession> sessions_;
  std::unordered_map<std::string, std::uint32_t> sessions_per_address_;
  std::uint64_t late_completions_ = 0;
  bool stopping_ = false;
  int stop_signals_ = 0;
};

}  // namespace ringftpd::server
