#include "tls/loopback.hpp"

namespace ringftpd::tls {

std::size_t pump(Session& from, Session& to) noexcept {
  const auto bytes = from.pending_ciphertext();
  const std::size_t n = bytes.size();
  if (n == 0) return 0;
  to.feed_ciphertext(bytes);
  from.consume_ciphertext(n);
  return n;
}

bool handshake_in_memory(Session& client, Session& server, int max_rounds) noexcept {
  for (int round = 0; round < max_rounds; ++round) {
    const HandshakeStatus c = client.handshake();
    pump(client, server);
    const HandshakeStatus s = server.handshake();
    pump(server, client);
    if (c == HandshakeStatus::Failed || s == HandshakeStatus::Failed) return false;
    if (c == HandshakeStatus::Done && s == HandshakeStatus::Done) return true;
  }
  return false;
}

}  // namespace ringftpd::tls
