// The auth service: answers workers' auth Requests (messages.hpp) over
// SOCK_SEQPACKET sockets, so that password hashing (slow on purpose) never
// runs on a worker's io_uring loop (DESIGN.md §2).
//
// Process-agnostic: it talks to workers only through its socket ends, owns
// the user table and the failure tracker, and treats every byte it reads as
// hostile (a worker handles raw client input and may be compromised). It runs
// as threads inside the forked authd process (process/authd.hpp). Construct
// it after any fork (it starts threads).
//
// Threads: one event-loop thread (epoll over the client sockets and a wake-up
// eventfd) does all socket I/O and decoding; a small pool verifies passwords.
// Only the loop thread touches client sockets; the pool hands replies back
// through a queue. Requests of different clients are served round-robin, and
// each client has a bounded number of requests in flight: beyond it the
// service stops reading that socket (back-pressure, no unbounded queue).
//
// Per request (VerifyPassword):
//   - undecodable -> Malformed if its request_id is readable, else dropped;
//     peer_ip that is not a numeric address -> Malformed;
//   - address blocked by the FailureTracker -> Throttled, password not looked at;
//   - anonymous (when enabled) -> Allowed with any password (no reset of the
//     address's failures: anonymous proves nothing);
//   - unknown user and wrong password follow the same path (the unknown one is
//     verified against UserTable::dummy_hash()) and give the same Denied, with
//     retry_after_ms set once the address has failed often enough;
//   - the failure that reaches max_failed_logins -> Throttled (cool-down).
// LookupUser (client-certificate logins) is refused (Denied) unless
// AuthServiceOptions::allow_user_lookup: a worker must not be able to log in
// as anyone without a password unless the operator turned certificates on.
//
// The destructor stops promptly: verifications in progress finish (a few
// ms), queued requests are dropped unanswered, and the service's socket ends
// are closed, so workers see the peer hang up.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string_view>

#include "config/config.hpp"
#include "io/unique_fd.hpp"
#include "server/auth/failure_tracker.hpp"
#include "server/auth/user_table.hpp"

namespace ringftpd::server::auth {

struct AuthServiceOptions {
  unsigned threads = 2;  // verification threads (at least 1)
  // Called from the service's threads (the loop and the pool), possibly at
  // the same time: must be thread-safe. server::Log is not (one thread per
  // process writes it), so authd passes a server::LogQueue (log_queue.hpp)
  // that its main loop drains into the Log. Must not block (it runs on the
  // loop thread). Never given a password. Empty = silent.
  std::function<void(std::string_view)> log;
  FailureTracker::Now clock;                    // empty = steady_clock; tests inject one
  std::uint32_t max_in_flight_per_client = 64;  // back-pressure threshold (at least 1)
  bool allow_user_lookup = false;               // answer LookupUser (client certificates)
};

class AuthService {
 public:
  // Starts the loop and pool threads. Throws std::system_error if epoll, the
  // eventfd or a thread cannot be created.
  AuthService(UserTable users, const config::Limits& limits, AuthServiceOptions options = {});
  ~AuthService();

  AuthService(const AuthService&) = delete;
  AuthService& operator=(const AuthService&) = delete;

  // A new client connection: a SOCK_SEQPACKET | SOCK_CLOEXEC socketpair whose
  // one end the service keeps. Returns the other end, O_NONBLOCK, for the
  // worker to use with ring sends and receives: send one encoded Request per
  // datagram, receive one Reply per datagram (size the buffer with
  // kMaxDatagramBytes), in any order; match them by request_id. Closing it
  // disconnects the client. Thread-safe. Throws std::system_error.
  [[nodiscard]] io::UniqueFd add_client();

  // Serves an existing connected AF_UNIX SOCK_SEQPACKET socket (for instance
  // one end of a socketpair made by the master before forking authd). Takes
  // ownership and makes it non-blocking. Thread-safe. Throws
  // std::invalid_argument if fd is not such a socket.
  void adopt_client(io::UniqueFd service_end);

  // Serves later requests from `users` (a reload); requests being verified
  // finish with the table they started with. Thread-safe.
  void replace_users(UserTable users);

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace ringftpd::server::auth
