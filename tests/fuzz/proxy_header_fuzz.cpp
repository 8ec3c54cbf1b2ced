// libFuzzer target for the PROXY protocol header parser (server/proxy_header.cpp).
//
// The first input byte picks the versions the listener takes; the rest is what a
// balancer (or anyone who reaches a PROXY listener) sends. The intake parses again
// after every receive, so every prefix of the input is parsed, and the verdicts must
// agree with each other: a prefix found Invalid stays Invalid as bytes arrive, a
// Complete header stays the same header, and nothing is Incomplete past the cap
// (the intake would otherwise buffer without bound).
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <span>

#include "server/proxy_header.hpp"

namespace {

using ringftpd::server::kMaxProxyHeaderBytes;
using ringftpd::server::parse_proxy_header;
using ringftpd::server::ProxyParse;
using ringftpd::server::ProxyVersions;

#define CHECK(cond)                                                                 \
  do {                                                                              \
    if (!(cond)) {                                                                  \
      std::fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                 \
    }                                                                               \
  } while (false)

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const auto versions = static_cast<ProxyVersions>(data[0] % 3);
  const std::span<const std::byte> stream(reinterpret_cast<const std::byte*>(data + 1), size - 1);
  ProxyParse first_final;
  bool final_seen = false;
  for (std::size_t n = 0; n <= stream.size(); ++n) {
    const ProxyParse p = parse_proxy_header(stream.first(n), versions);
    if (p.status == ProxyParse::Status::Incomplete) {
      CHECK(!final_seen);
      CHECK(n < kMaxProxyHeaderBytes);
      continue;
    }
    if (p.status == ProxyParse::Status::Invalid) CHECK(!p.error.empty());
    if (p.status == ProxyParse::Status::Complete) {
      CHECK(p.header.length > 0 && p.header.length <= n);
      CHECK(p.header.version == 1 || p.header.version == 2);
      CHECK(p.header.source.has_value() == p.header.destination.has_value());
    }
    if (!final_seen) {
      first_final = p;
      final_seen = true;
      continue;
    }
    CHECK(p.status == first_final.status);
    if (p.status == ProxyParse::Status::Complete) {
      CHECK(p.header.length == first_final.header.length);
      CHECK(p.header.version == first_final.header.version);
    }
  }
  return 0;
}
