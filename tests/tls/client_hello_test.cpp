// peek_session_id: one row per rule, on ClientHellos built byte by byte.
#include "tls/client_hello.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

namespace ringftpd::tls {
namespace {

using Bytes = std::vector<std::uint8_t>;

void u16(Bytes& b, std::size_t v) {
  b.push_back(static_cast<std::uint8_t>(v >> 8));
  b.push_back(static_cast<std::uint8_t>(v));
}

Bytes ext(std::uint16_t type, const Bytes& data) {
  Bytes e;
  u16(e, type);
  u16(e, data.size());
  e.insert(e.end(), data.begin(), data.end());
  return e;
}

// A ClientHello in one record: version 1.2, `id`, two suites, `exts`.
Bytes hello(const Bytes& id, const std::vector<Bytes>& exts, bool with_ext_block = true) {
  Bytes body;
  u16(body, 0x0303);
  body.insert(body.end(), 32, 0xaa);  // random
  body.push_back(static_cast<std::uint8_t>(id.size()));
  body.insert(body.end(), id.begin(), id.end());
  u16(body, 4);
  body.insert(body.end(), {0xc0, 0x2b, 0xc0, 0x2f});
  body.push_back(1);
  body.push_back(0);  // null compression
  if (with_ext_block) {
    Bytes all;
    for (const auto& e : exts) all.insert(all.end(), e.begin(), e.end());
    u16(body, all.size());
    body.insert(body.end(), all.begin(), all.end());
  }
  Bytes hs = {1, 0, static_cast<std::uint8_t>(body.size() >> 8),
              static_cast<std::uint8_t>(body.size())};
  hs.insert(hs.end(), body.begin(), body.end());
  Bytes rec = {22, 3, 1};
  u16(rec, hs.size());
  rec.insert(rec.end(), hs.begin(), hs.end());
  return rec;
}

HelloPeek peek(const Bytes& b) {
  return peek_session_id(std::as_bytes(std::span<const std::uint8_t>(b)));
}

const Bytes kId(32, 0x42);
const Bytes kSni = ext(0x0000, {0, 4, 0, 0, 1, 'x'});

TEST(ClientHelloTest, ATls12HelloWithASessionIdGivesTheId) {
  const HelloPeek p = peek(hello(kId, {kSni}));
  ASSERT_EQ(p.kind, HelloPeek::Kind::SessionId);
  EXPECT_EQ(Bytes(p.id, p.id + p.id_len), kId);
  EXPECT_EQ(peek(hello(Bytes(8, 7), {}, false)).kind, HelloPeek::Kind::SessionId);  // no extensions
}

TEST(ClientHelloTest, EachRuleOfRefusal) {
  struct Row {
    std::string name;
    Bytes bytes;
    HelloPeek::Kind kind;
  };
  Bytes fragmented = hello(kId, {kSni});
  fragmented[8] += 1;  // the handshake claims more than the record holds
  Bytes not_handshake = hello(kId, {kSni});
  not_handshake[0] = 23;
  Bytes long_id = hello(Bytes(33, 1), {});
  Bytes bad_ext_total = hello(kId, {kSni});
  bad_ext_total[5 + 4 + 2 + 32 + 1 + 32 + 2 + 4 + 2 + 1] += 1;
  const Bytes full = hello(kId, {kSni});
  const std::vector<Row> rows = {
      {"no_session_id", hello({}, {kSni}), HelloPeek::Kind::NotApplicable},
      {"a_ticket_is_offered", hello(kId, {ext(0x0023, {1, 2, 3})}), HelloPeek::Kind::NotApplicable},
      {"an_empty_ticket_extension", hello(kId, {ext(0x0023, {})}), HelloPeek::Kind::SessionId},
      {"tls13_offered", hello(kId, {ext(0x002b, {4, 0x03, 0x04, 0x03, 0x03})}),
       HelloPeek::Kind::NotApplicable},
      {"tls12_only_versions", hello(kId, {ext(0x002b, {2, 0x03, 0x03})}),
       HelloPeek::Kind::SessionId},
      {"odd_versions_list", hello(kId, {ext(0x002b, {3, 0x03, 0x03, 0x03})}),
       HelloPeek::Kind::NotApplicable},
      {"fragmented_hello", fragmented, HelloPeek::Kind::NotApplicable},
      {"not_a_handshake_record", not_handshake, HelloPeek::Kind::NotApplicable},
      {"id_longer_than_32", long_id, HelloPeek::Kind::NotApplicable},
      {"extensions_length_wrong", bad_ext_total, HelloPeek::Kind::NotApplicable},
      {"cut_in_the_header", Bytes(full.begin(), full.begin() + 3), HelloPeek::Kind::NeedMore},
      {"cut_in_the_body", Bytes(full.begin(), full.end() - 1), HelloPeek::Kind::NeedMore},
      {"empty", {}, HelloPeek::Kind::NeedMore},
      {"plain_text", Bytes{'U', 'S', 'E', 'R', ' ', 'a'}, HelloPeek::Kind::NotApplicable},
  };
  for (const Row& r : rows) EXPECT_EQ(peek(r.bytes).kind, r.kind) << r.name;
}

TEST(ClientHelloTest, NoPrefixOfAHelloIsMisread) {
  const Bytes full = hello(kId, {kSni, ext(0x002b, {2, 0x03, 0x03})});
  for (std::size_t n = 0; n < full.size(); ++n) {
    EXPECT_EQ(peek(Bytes(full.begin(), full.begin() + static_cast<std::ptrdiff_t>(n))).kind,
              HelloPeek::Kind::NeedMore)
        << n;
  }
}

}  // namespace
}  // namespace ringftpd::tls
