// sim::Net: makes loopback TCP deterministic enough to replay a seed.
//
// On a busy machine the kernel hands loopback segments to ksoftirqd, so a
// byte sent, a connection made or a FIN may reach its peer only later, and a
// non-blocking syscall would see EAGAIN or data depending on the load. The
// simulation therefore waits, after each network action, until what it set
// in motion has landed: sent bytes acknowledged, a connection queued on its
// listener, a close seen by the peer (each bounded, so a real stall is still
// a stall). Nagle is switched off on every simulated socket (a segment held
// for a delayed ACK would make delivery depend on a timer). Every in-process TCP socket, client or
// server side, is registered so a peer can be found by address.
#pragma once

#include <map>
#include <set>

namespace ringftpd::sim {

class Net {
 public:
  static Net& get();

  void add(int fd);
  void remove(int fd);
  [[nodiscard]] bool has(int fd) const { return fds_.count(fd) != 0; }

  // Before deciding that a receive on fd would block: if the in-process peer
  // has bytes or a FIN in flight toward fd, wait until they have landed.
  void before_would_block(int fd);
  // Before deciding that a send on fd would block: wait for its own bytes in
  // flight to be acknowledged (the peer's window update follows them).
  void before_send_blocks(int fd);
  // Before a connect on fd to a listener in this process: the listener's
  // queue length (pass it to after_connect).
  [[nodiscard]] int before_connect(const void* addr) const;
  // After the connect: the connection is established and queued.
  void after_connect(int fd, const void* addr, int queue_before);
  // Call before close(fd) / shutdown(fd): returns the in-process peer (or -1);
  // after_close then waits until that peer has seen the FIN or RST.
  [[nodiscard]] int peer_of(int fd) const;
  void after_close(int peer);

 private:
  [[nodiscard]] int cached_peer(int fd);
  std::set<int> fds_;
  std::map<int, int> peers_;  // fd -> in-process peer, once found
};

}  // namespace ringftpd::sim
