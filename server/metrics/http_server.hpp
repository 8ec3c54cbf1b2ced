// The scrape endpoint: libmicrohttpd on its own internal thread, on a
// listening socket made by the master (bind errors are start-up errors).
//
// GET (or HEAD) of /metrics answers 200 with render()'s text; any other path
// 404, any other method 405, each with a one-line body. Hostile clients are
// MHD's to cut: a request whose headers exceed kMemoryLimit gets its error
// and a close, a connection idle or slow for kTimeout is closed, and at most
// kConnectionLimit connections (kPerAddressLimit from one address) are open.
// Runs only in the metrics helper process, never in a worker.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "io/unique_fd.hpp"

struct MHD_Daemon;

namespace ringftpd::server::metrics {

inline constexpr char kMetricsPath[] = "/metrics";
inline constexpr unsigned kConnectionLimit = 32;
inline constexpr unsigned kPerAddressLimit = 8;
inline constexpr std::size_t kMemoryLimit = 16 * 1024;  // request line + headers
inline constexpr std::chrono::seconds kTimeout{5};

class HttpServer {
 public:
  using Render = std::function<std::string()>;

  // Takes a bound, listening socket; render() runs on MHD's thread. Throws
  // std::runtime_error if MHD cannot start.
  HttpServer(io::UniqueFd listen_fd, Render render);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

 private:
  struct StopDaemon {
    void operator()(MHD_Daemon* d) const noexcept;
  };
  io::UniqueFd listen_fd_;  // MHD uses it; closed after MHD has stopped
  Render render_;
  std::unique_ptr<MHD_Daemon, StopDaemon> daemon_;
};

}  // namespace ringftpd::server::metrics
