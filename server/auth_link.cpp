#include "server/auth_link.hpp"

#include <sys/socket.h>

namespace ringftpd::server {

bool AuthLink::send(OpSubmitter& submit, const auth::Request& request,
                    std::vector<std::byte>& buffer) {
  buffer.clear();
  if (!auth::encode(request, buffer)) return false;
  io_uring_prep_send(submit.sqe(Op::AuthSend), fd_.get(), buffer.data(), buffer.size(),
                     MSG_NOSIGNAL);
  return true;
}

void AuthLink::arm_recv() {
  const io::OpTag tag{kWorkerSlot, 0, static_cast<std::uint8_t>(Op::AuthRecv)};
  io_uring_prep_recv(ring_.sqe(tag.pack()), fd_.get(), buffer_.data(), buffer_.size(), 0);
}

std::optional<auth::Reply> AuthLink::on_recv(int res) {
  if (res <= 0) return std::nullopt;
  return auth::decode_reply(
      std::span<const std::byte>(buffer_.data(), static_cast<std::size_t>(res)));
}

}  // namespace ringftpd::server
