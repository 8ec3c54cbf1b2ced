// libFuzzer target for the ClientHello peek (tls/client_hello.cpp), which
// reads the first TLS record a client sends before wolfSSL does.
//
// Every prefix of the input is peeked, as bytes arriving in pieces would be:
// a verdict other than NeedMore never changes as more bytes arrive (the
// record is complete by then), an ID is never longer than 32 bytes, and
// nothing is NeedMore past one whole record (the caller would hold bytes
// without bound otherwise).
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <span>

#include "tls/client_hello.hpp"

namespace {

using ringftpd::tls::HelloPeek;
using ringftpd::tls::peek_session_id;

#define CHECK(cond)                                                                 \
  do {                                                                              \
    if (!(cond)) {                                                                  \
      std::fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                 \
    }                                                                               \
  } while (false)

constexpr std::size_t kMaxRecordBytes = 5 + 16384;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto bytes = std::as_bytes(std::span<const std::uint8_t>(data, size));
  bool settled = false;
  HelloPeek first{};
  for (std::size_t n = 0; n <= size; ++n) {
    const HelloPeek p = peek_session_id(bytes.first(n));
    CHECK(p.id_len <= sizeof p.id);
    if (p.kind == HelloPeek::Kind::SessionId) CHECK(p.id_len >= 1);
    if (p.kind == HelloPeek::Kind::NeedMore) {
      CHECK(!settled);
      CHECK(n < kMaxRecordBytes);
      continue;
    }
    if (!settled) {
      settled = true;
      first = p;
      continue;
    }
    CHECK(p.kind == first.kind);
    CHECK(p.id_len == first.id_len);
    CHECK(std::memcmp(p.id, first.id, p.id_len) == 0);
  }
  return 0;
}
