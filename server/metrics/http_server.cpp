#include "server/metrics/http_server.hpp"

#include <microhttpd.h>

#include <cstring>
#include <stdexcept>
#include <string_view>

namespace ringftpd::server::metrics {
namespace {

constexpr char kTextFormat[] = "text/plain; version=0.0.4; charset=utf-8";

MHD_Result reply(MHD_Connection* c, unsigned status, std::string_view body,
                 const char* content_type) {
  MHD_Response* r = MHD_create_response_from_buffer(body.size(), const_cast<char*>(body.data()),
                                                    MHD_RESPMEM_MUST_COPY);
  if (r == nullptr) return MHD_NO;  // MHD closes the connection
  MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
  if (status == MHD_HTTP_METHOD_NOT_ALLOWED) MHD_add_response_header(r, "Allow", "GET, HEAD");
  const MHD_Result ok = MHD_queue_response(c, status, r);
  MHD_destroy_response(r);
  return ok;
}

MHD_Result on_request(void* cls, MHD_Connection* c, const char* url, const char* method,
                      const char* /*version*/, const char* /*upload_data*/,
                      size_t* /*upload_data_size*/, void** /*req_cls*/) {
  // Answered on the first call, before any body is read: a body on a scrape
  // is never wanted, and MHD closes a connection whose body was not consumed.
  const auto& render = *static_cast<const HttpServer::Render*>(cls);
  const bool get = std::strcmp(method, MHD_HTTP_METHOD_GET) == 0 ||
                   std::strcmp(method, MHD_HTTP_METHOD_HEAD) == 0;
  if (!get) return reply(c, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed\n", "text/plain");
  if (std::strcmp(url, kMetricsPath) != 0)
    return reply(c, MHD_HTTP_NOT_FOUND, "not found\n", "text/plain");
  try {
    return reply(c, MHD_HTTP_OK, render(), kTextFormat);
  } catch (...) {  // bad_alloc: no exception crosses MHD's C callback
    return MHD_NO;
  }
}

}  // namespace

void HttpServer::StopDaemon::operator()(MHD_Daemon* d) const noexcept {
  MHD_stop_daemon(d);
}

HttpServer::HttpServer(io::UniqueFd listen_fd, Render render)
    : listen_fd_(std::move(listen_fd)), render_(std::move(render)) {
  MHD_Daemon* d = MHD_start_daemon(
      MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL, 0, nullptr, nullptr, &on_request, &render_,
      MHD_OPTION_LISTEN_SOCKET, static_cast<MHD_socket>(listen_fd_.get()),
      MHD_OPTION_CONNECTION_LIMIT, kConnectionLimit, MHD_OPTION_PER_IP_CONNECTION_LIMIT,
      kPerAddressLimit, MHD_OPTION_CONNECTION_MEMORY_LIMIT, kMemoryLimit,
      MHD_OPTION_CONNECTION_TIMEOUT, static_cast<unsigned>(kTimeout.count()), MHD_OPTION_END);
  if (d == nullptr) throw std::runtime_error("libmicrohttpd could not start");
  daemon_.reset(d);
}

HttpServer::~HttpServer() = default;  // daemon_ goes first (declared last), then the socket

}  // namespace ringftpd::server::metrics
