#include "tests/sim/net.hpp"

#include <linux/tcp.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstring>
#include <iterator>

namespace ringftpd::sim {
namespace {

using Clock = std::chrono::steady_clock;

// TCP states (include/net/tcp_states.h; not in linux/tcp.h).
enum : std::uint8_t {
  kEstablished = 1,
  kSynSent = 2,
  kFinWait1 = 4,
  kFinWait2 = 5,
  kTimeWait = 6,
  kClose = 7,
  kCloseWait = 8,
  kLastAck = 9,
  kClosing = 11,
};
constexpr auto kPatience = std::chrono::milliseconds(200);

bool get_info(int fd, struct tcp_info& info) {
  socklen_t len = sizeof info;
  std::memset(&info, 0, sizeof info);
  return getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &len) == 0;
}

bool same(const sockaddr_in& a, const sockaddr_in& b) {
  return a.sin_port == b.sin_port && a.sin_addr.s_addr == b.sin_addr.s_addr;
}

bool local_of(int fd, sockaddr_in& a) {
  socklen_t len = sizeof a;
  return getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0 && a.sin_family == AF_INET;
}

bool remote_of(int fd, sockaddr_in& a) {
  socklen_t len = sizeof a;
  return getpeername(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0 && a.sin_family == AF_INET;
}

template <class Done>
void wait_until(Done done) {
  const auto deadline = Clock::now() + kPatience;
  while (!done() && Clock::now() < deadline) usleep(20);
}

bool is_listener(int fd) {
  int v = 0;
  socklen_t len = sizeof v;
  return getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &v, &len) == 0 && v != 0;
}

}  // namespace

Net& Net::get() {
  static Net net;
  return net;
}

void Net::add(int fd) {
  int type = 0;
  socklen_t len = sizeof type;
  sockaddr_storage a{};
  socklen_t alen = sizeof a;
  if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) != 0 || type != SOCK_STREAM) return;
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&a), &alen) != 0 || a.ss_family != AF_INET) {
    return;
  }
  // No Nagle on any simulated connection: a small segment held back until
  // the peer's delayed ACK would make delivery depend on timers.
  const int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  fds_.insert(fd);
}

void Net::remove(int fd) {
  fds_.erase(fd);
  for (auto it = peers_.begin(); it != peers_.end();) {
    it = (it->first == fd || it->second == fd) ? peers_.erase(it) : std::next(it);
  }
}

int Net::cached_peer(int fd) {
  const auto it = peers_.find(fd);
  if (it != peers_.end()) return it->second;
  const int p = peer_of(fd);
  if (p >= 0) peers_[fd] = p;
  return p;
}

void Net::before_would_block(int fd) {
  if (fds_.count(fd) == 0) return;
  const int p = cached_peer(fd);
  if (p < 0) return;
  wait_until([p, fd] {
    // Landed: every byte the peer sent has been received here (acknowledged
    // or not: a delayed ACK is not in flight), and a FIN it sent is seen.
    struct tcp_info theirs, mine;
    if (!get_info(p, theirs) || !get_info(fd, mine)) return true;
    // (bytes_sent counts retransmissions, e.g. tail loss probes, twice)
    if (theirs.tcpi_bytes_sent - theirs.tcpi_bytes_retrans > mine.tcpi_bytes_received) {
      return false;
    }
    const std::uint8_t t = theirs.tcpi_state, m = mine.tcpi_state;
    const bool fin_sent =
        t == kFinWait1 || t == kFinWait2 || t == kClosing || t == kTimeWait || t == kLastAck;
    const bool fin_seen =
        m == kCloseWait || m == kLastAck || m == kClosing || m == kTimeWait || m == kClose;
    return !fin_sent || fin_seen;
  });
}

void Net::before_send_blocks(int fd) {
  if (fds_.count(fd) == 0) return;
  const int p = cached_peer(fd);
  if (p < 0) return;
  wait_until([p, fd] {
    struct tcp_info theirs, mine;
    if (!get_info(p, theirs) || !get_info(fd, mine)) return true;
    return mine.tcpi_bytes_sent - mine.tcpi_bytes_retrans <= theirs.tcpi_bytes_received;
  });
}

int Net::before_connect(const void* addr) const {
  const auto& to = *static_cast<const sockaddr_in*>(addr);
  for (int fd : fds_) {
    sockaddr_in l{};
    if (local_of(fd, l) && same(l, to) && is_listener(fd)) {
      struct tcp_info info;
      return get_info(fd, info) ? static_cast<int>(info.tcpi_unacked) : -1;
    }
  }
  return -1;
}

void Net::after_connect(int fd, const void* addr, int queue_before) {
  wait_until([fd] {
    struct tcp_info info;
    return !get_info(fd, info) || info.tcpi_state != kSynSent;
  });
  if (queue_before < 0) return;
  const auto& to = *static_cast<const sockaddr_in*>(addr);
  for (int l : fds_) {
    sockaddr_in la{};
    if (local_of(l, la) && same(la, to) && is_listener(l)) {
      wait_until([l, queue_before] {
        struct tcp_info info;
        return !get_info(l, info) || static_cast<int>(info.tcpi_unacked) > queue_before;
      });
      return;
    }
  }
}

int Net::peer_of(int fd) const {
  sockaddr_in mine{}, theirs{};
  if (!local_of(fd, mine) || !remote_of(fd, theirs)) return -1;
  for (int p : fds_) {
    if (p == fd) continue;
    sockaddr_in pl{}, pr{};
    if (local_of(p, pl) && remote_of(p, pr) && same(pl, theirs) && same(pr, mine)) return p;
  }
  return -1;
}

void Net::after_close(int peer) {
  if (peer < 0 || fds_.count(peer) == 0) return;
  wait_until([peer] {
    struct tcp_info info;
    if (!get_info(peer, info)) return true;
    int unread = 0;
    // A FIN queued behind unread data arrives when the peer reads.
    if (ioctl(peer, FIONREAD, &unread) == 0 && unread > 0) return true;
    return info.tcpi_state != kEstablished && info.tcpi_state != kFinWait1 &&
           info.tcpi_state != kFinWait2;
  });
}

}  // namespace ringftpd::sim
