#include "server/process/status_report.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "io/unique_fd.hpp"

namespace ringftpd::server {
namespace {

void line(std::string& out, std::string_view key, std::uint64_t value) {
  out.append(key).append(" ").append(std::to_string(value)).append("\n");
}

}  // namespace

std::string status_file_path(const std::string& state_dir) {
  return state_dir + "/ringftpd.status";
}

std::string format_status(pid_t master, pid_t authd, const std::vector<WorkerStatus>& workers,
                          const CounterValues& totals, const tls::SharedTlsStats& cache,
                          const AddressTableStats& addresses) {
  std::string out;
  line(out, "master_pid", static_cast<std::uint64_t>(master));
  line(out, "authd_pid", static_cast<std::uint64_t>(authd > 0 ? authd : 0));
  line(out, "workers", workers.size());
  for (const WorkerStatus& w : workers) {
    out.append("worker ")
        .append(std::to_string(w.counters.slot + 1))
        .append(" pid ")
        .append(std::to_string(w.counters.pid))
        .append(" generation ")
        .append(std::to_string(w.counters.generation))
        .append(w.retiring ? " retiring" : "")
        .append(":");
    for (std::size_t k = 0; k < kCounterCount; ++k) {
      out.append(" ")
          .append(counter_name(static_cast<Counter>(k)))
          .append("=")
          .append(std::to_string(w.counters.values[k]));
    }
    out.append("\n");
  }
  for (std::size_t k = 0; k < kCounterCount; ++k) {
    line(out, counter_name(static_cast<Counter>(k)), totals[k]);
  }
  line(out, "tls_cache_entries", cache.entries_in_use);
  line(out, "tls_cache_capacity", cache.capacity);
  line(out, "tls_cache_hits", cache.hits);
  line(out, "tls_cache_misses", cache.misses);
  line(out, "tls_cache_stores", cache.stores);
  line(out, "tls_cache_evictions", cache.evictions);
  line(out, "tls_cache_expired", cache.expired);
  line(out, "tls_cache_corrupt_dropped", cache.corrupt);
  line(out, "tls_cache_lock_recoveries", cache.lock_recoveries);
  line(out, "tls_ticket_keys_live", cache.ticket_keys_live);
  line(out, "tls_ticket_key_rotations", cache.rotations);
  line(out, "address_table_slots", addresses.slots);
  line(out, "address_table_pairs_in_use", addresses.pairs_in_use);
  line(out, "address_table_sessions", addresses.sessions);
  line(out, "address_table_full", addresses.table_full);
  line(out, "address_table_lock_recoveries", addresses.lock_recoveries);
  return out;
}

void write_status_file(const std::string& state_dir, const std::string& text, Log& log) noexcept {
  const std::string path = status_file_path(state_dir);
  const std::string tmp = path + ".tmp";
  io::UniqueFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644));
  if (!fd || ::write(fd.get(), text.data(), text.size()) != static_cast<ssize_t>(text.size()) ||
      ::rename(tmp.c_str(), path.c_str()) != 0) {
    log.warn("master", "cannot write " + path + ": " + std::strerror(errno));
  }
}

}  // namespace ringftpd::server
