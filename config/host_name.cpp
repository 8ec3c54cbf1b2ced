// Host-name syntax and the one blocking lookup the configuration makes.
#include "config/host_name.hpp"

#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <memory>

namespace ringftpd::config {
namespace {

constexpr std::size_t kMaxNameBytes = 253;
constexpr std::size_t kMaxLabelBytes = 63;

bool is_label(std::string_view label) {
  if (label.empty() || label.size() > kMaxLabelBytes) return false;
  if (label.front() == '-' || label.back() == '-') return false;
  return std::all_of(label.begin(), label.end(),
                     [](unsigned char ch) { return std::isalnum(ch) != 0 || ch == '-'; });
}

struct AddrinfoFree {
  void operator()(addrinfo* a) const noexcept { ::freeaddrinfo(a); }
};

}  // namespace

bool is_host_name(std::string_view text) {
  if (!text.empty() && text.back() == '.') text.remove_suffix(1);
  if (text.empty() || text.size() > kMaxNameBytes) return false;
  std::string_view last;
  for (std::size_t start = 0;;) {
    const std::size_t dot = text.find('.', start);
    last = text.substr(start, dot == std::string_view::npos ? dot : dot - start);
    if (!is_label(last)) return false;
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  return !std::all_of(last.begin(), last.end(),
                      [](unsigned char ch) { return std::isdigit(ch) != 0; });
}

Resolved resolve_ipv4(const std::string& name) {
  addrinfo hints{};
  hints.ai_family = AF_INET;  // a 227 reply can carry nothing else
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* raw = nullptr;
  const int rc = ::getaddrinfo(name.c_str(), nullptr, &hints, &raw);
  const std::unique_ptr<addrinfo, AddrinfoFree> list(raw);
  if (rc != 0) {
    return {std::nullopt, rc == EAI_SYSTEM ? std::strerror(errno) : ::gai_strerror(rc)};
  }
  for (const addrinfo* a = list.get(); a != nullptr; a = a->ai_next) {
    if (a->ai_family != AF_INET || a->ai_addrlen < sizeof(sockaddr_in)) continue;
    Ipv4Address out;
    std::memcpy(out.bytes.data(), &reinterpret_cast<const sockaddr_in*>(a->ai_addr)->sin_addr, 4);
    return {out, {}};
  }
  return {std::nullopt, "no IPv4 address"};
}

}  // namespace ringftpd::config
