// The listening sockets of one configuration: for each [[listen]] entry, one
// SO_REUSEPORT socket per worker slot, so the kernel spreads connections over
// the workers and no worker wakes for another's client.
//
// The master owns them for as long as the configuration's listeners stay the
// same: a worker that dies, or a generation that retires after SIGHUP, leaves
// its sockets (and the connections queued on them) to its successor on the
// same slot. Changing the listeners or the number of workers makes a new set.
#pragma once

#include <cstdint>
#include <vector>

#include "config/config.hpp"
#include "io/unique_fd.hpp"

namespace ringftpd::server {

struct ListenSocket;  // worker.hpp

class ListenerSet {
 public:
  // Binds listeners x workers sockets. Throws std::system_error /
  // std::runtime_error naming the address that failed.
  ListenerSet(const std::vector<config::Listener>& listeners, std::uint32_t workers);

  // Whether `listeners` and `workers` would make the same set.
  [[nodiscard]] bool matches(const std::vector<config::Listener>& listeners,
                             std::uint32_t workers) const;

  // Duplicates of the slot's sockets, for a worker being forked.
  [[nodiscard]] std::vector<ListenSocket> for_slot(std::uint32_t slot) const;
  // Every fd of the set (the fork hygiene needs to know which to close).
  [[nodiscard]] std::vector<int> fds() const;

 private:
  std::vector<config::Listener> listeners_;
  std::uint32_t workers_ = 0;
  std::vector<std::vector<io::UniqueFd>> sockets_;  // [listener][slot]
};

}  // namespace ringftpd::server
