// The worker's end of the auth service's socket (SOCK_SEQPACKET): requests go
// out through the ring on behalf of a session, replies come back through one
// receive the worker keeps armed, and are routed to the asking session by
// request_id, which is that session's packed slot+generation tag. A reply for
// a session that has gone is dropped by the generation check like any late
// completion. The link owns the socket; it outlives every session.
#pragma once

#include <array>
#include <cstddef>
#include <optional>
#include <vector>

#include "io/submission_queue.hpp"
#include "io/unique_fd.hpp"
#include "server/auth/messages.hpp"
#include "server/ops.hpp"

namespace ringftpd::server {

class AuthLink {
 public:
  AuthLink(io::SubmissionQueue& ring, io::UniqueFd fd) : ring_(ring), fd_(std::move(fd)) {}

  // Encodes `request` into `buffer` (which the caller keeps alive until the
  // AuthSend completion) and submits the send. False: it did not encode.
  [[nodiscard]] bool send(OpSubmitter& submit, const auth::Request& request,
                          std::vector<std::byte>& buffer);

  // The worker-level receive of the next reply datagram.
  void arm_recv();
  // Decodes a received datagram; nullopt for errors and garbage.
  [[nodiscard]] std::optional<auth::Reply> on_recv(int res);

 private:
  io::SubmissionQueue& ring_;
  io::UniqueFd fd_;
  std::array<std::byte, auth::kMaxDatagramBytes> buffer_{};
};

}  // namespace ringftpd::server
