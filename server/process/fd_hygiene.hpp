// A forked child keeps only the descriptors it was given: everything else the
// master holds (other workers' listeners and auth sockets, the signalfd, the
// pid file) is closed, so no process pins a socket that is not its own.
#pragma once

#include <vector>

namespace ringftpd::server {

// Closes every fd >= 3 that is not in `keep`. Throws std::system_error.
void close_all_fds_except(std::vector<int> keep);

}  // namespace ringftpd::server
