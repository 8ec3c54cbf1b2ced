#include "server/auth/messages.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "config/config.hpp"

namespace ringftpd::server::auth {
namespace {

std::vector<std::byte> bytes_of(std::initializer_list<int> v) {
  std::vector<std::byte> out;
  for (int b : v) out.push_back(static_cast<std::byte>(b));
  return out;
}

Request sample_request() {
  Request r;
  r.request_id = 0x0102030405060708ull;
  r.kind = Kind::VerifyPassword;
  r.user = "alice";
  r.password = "correct horse";
  r.peer_ip = "192.0.2.7";
  return r;
}

Reply sample_reply() {
  Reply r;
  r.request_id = 42;
  r.result = Result::Allowed;
  r.root = "/srv/ftp/alice";
  r.permissions = config::kPermAll;
  r.max_sessions = 3;
  r.bandwidth_bytes_per_second = 1'000'000;
  return r;
}

std::vector<std::byte> encoded(const Request& r) {
  std::vector<std::byte> out;
  EXPECT_TRUE(encode(r, out));
  return out;
}

std::vector<std::byte> encoded(const Reply& r) {
  std::vector<std::byte> out;
  EXPECT_TRUE(encode(r, out));
  return out;
}

TEST(AuthMessages, SizesAreFixed) {
  EXPECT_EQ(kRequestHeaderBytes, 17u);
  EXPECT_EQ(kReplyHeaderBytes, 32u);
  EXPECT_EQ(kMaxRequestBytes, 17u + 64 + 512 + 45);
  EXPECT_EQ(kMaxReplyBytes, 32u + 4096);
  EXPECT_EQ(kMaxDatagramBytes, kMaxReplyBytes);
}

TEST(AuthMessages, RequestLayoutIsLittleEndian) {
  Request r;
  r.request_id = 0x1122334455667788ull;
  r.kind = Kind::VerifyPassword;
  r.user = "u";
  r.password = "pw";
  r.peer_ip = "::1";
  EXPECT_EQ(encoded(r), bytes_of({0x02, 0x51, 0x41, 0x52,                          // magic
                                  0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11,  // id
                                  0x01, 0x01, 0x02, 0x00, 0x03,                    // kind, lens
                                  'u',  'p',  'w',  ':',  ':',  '1'}));
}

TEST(AuthMessages, ReplyLayoutIsLittleEndian) {
  Reply r;
  r.request_id = 7;
  r.result = Result::Denied;
  r.retry_after_ms = 0x030201;
  EXPECT_EQ(encoded(r), bytes_of({
                            0x02, 0x52, 0x41, 0x52,              // magic
                            7,    0,    0,    0,    0, 0, 0, 0,  // id
                            0x02, 0x00,                          // result, permissions
                            0x01, 0x02, 0x03, 0x00,              // retry_after_ms
                            0x00, 0x00, 0x00, 0x00,              // max_sessions
                            0,    0,    0,    0,    0, 0, 0, 0,  // bandwidth
                            0x00, 0x00,                          // root_len
                        }));
  Reply allowed = sample_reply();
  allowed.max_sessions = 0x0201;
  allowed.bandwidth_bytes_per_second = 0x050403;
  const auto bytes = encoded(allowed);
  EXPECT_EQ(bytes[18], std::byte{0x01});
  EXPECT_EQ(bytes[19], std::byte{0x02});
  EXPECT_EQ(bytes[22], std::byte{0x03});
  EXPECT_EQ(bytes[23], std::byte{0x04});
  EXPECT_EQ(bytes[24], std::byte{0x05});
}

TEST(AuthMessages, RequestsRoundTrip) {
  std::vector<Request> rows;
  rows.push_back(sample_request());
  Request longest = sample_request();
  longest.user = std::string(kMaxUserBytes, 'u');
  longest.password = std::string(kMaxPasswordBytes, '\xff');  // any byte but NUL
  longest.peer_ip = std::string(kMaxPeerIpBytes, '1');
  longest.request_id = ~0ull;
  rows.push_back(longest);
  Request empty;  // empty strings encode; the service judges them
  rows.push_back(empty);
  Request lookup = sample_request();
  lookup.kind = Kind::LookupUser;
  lookup.password.clear();
  rows.push_back(lookup);
  for (const Request& r : rows) {
    const auto bytes = encoded(r);
    const auto back = decode_request(bytes);
    ASSERT_TRUE(back) << r.user;
    EXPECT_EQ(*back, r);
    EXPECT_EQ(peek_request_id(bytes), r.request_id);
  }
  EXPECT_EQ(encoded(longest).size(), kMaxRequestBytes);
}

TEST(AuthMessages, RepliesRoundTrip) {
  std::vector<Reply> rows{sample_reply()};
  Reply longest = sample_reply();
  longest.root = "/" + std::string(kMaxRootBytes - 1, 'r');
  rows.push_back(longest);
  for (Result res : {Result::Denied, Result::Throttled, Result::Malformed, Result::Unavailable}) {
    Reply r;
    r.request_id = 99;
    r.result = res;
    r.retry_after_ms = kMaxRetryAfterMs;
    rows.push_back(r);
  }
  for (const Reply& r : rows) {
    const auto back = decode_reply(encoded(r));
    ASSERT_TRUE(back);
    EXPECT_EQ(*back, r);
  }
  EXPECT_EQ(encoded(longest).size(), kMaxReplyBytes);
}

TEST(AuthMessages, EncodeRefusesWhatDecodeWouldRefuse) {
  std::vector<Request> bad_requests;
  auto add = [&](auto change) {
    Request r = sample_request();
    change(r);
    bad_requests.push_back(r);
  };
  add([](Request& r) { r.user = std::string(kMaxUserBytes + 1, 'u'); });
  add([](Request& r) { r.password = std::string(kMaxPasswordBytes + 1, 'p'); });
  add([](Request& r) { r.peer_ip = std::string(kMaxPeerIpBytes + 1, '1'); });
  add([](Request& r) { r.user = std::string("al\0ce", 5); });
  add([](Request& r) { r.password = std::string("pw\0", 3); });
  add([](Request& r) { r.peer_ip = std::string("\0", 1); });
  add([](Request& r) { r.kind = static_cast<Kind>(0); });
  add([](Request& r) { r.kind = static_cast<Kind>(3); });
  add([](Request& r) { r.kind = Kind::LookupUser; });  // with a password
  for (const Request& r : bad_requests) {
    std::vector<std::byte> out{std::byte{1}};
    EXPECT_FALSE(encode(r, out)) << r.user.size() << " " << r.password.size();
    EXPECT_TRUE(out.empty());
  }

  std::vector<Reply> bad_replies;
  auto add_reply = [&](auto change) {
    Reply r = sample_reply();
    change(r);
    bad_replies.push_back(r);
  };
  add_reply([](Reply& r) { r.root = "/" + std::string(kMaxRootBytes, 'r'); });
  add_reply([](Reply& r) { r.root = std::string("/a\0b", 4); });
  add_reply([](Reply& r) { r.root.clear(); });        // Allowed needs a root
  add_reply([](Reply& r) { r.retry_after_ms = 5; });  // Allowed is not delayed
  add_reply([](Reply& r) { r.permissions = 0x80; });  // unknown permission bit
  add_reply([](Reply& r) { r.max_sessions = config::kMaxUserSessions + 1; });
  add_reply(
      [](Reply& r) { r.bandwidth_bytes_per_second = config::kMaxBandwidthBytesPerSecond + 1; });
  add_reply([](Reply& r) { r.result = static_cast<Result>(0); });
  add_reply([](Reply& r) { r.result = static_cast<Result>(6); });
  add_reply([](Reply& r) { r.result = Result::Denied; });  // with root and permissions
  add_reply([](Reply& r) {
    r.result = Result::Throttled;
    r.root.clear();
    r.permissions = 0;
    r.retry_after_ms = kMaxRetryAfterMs + 1;
  });
  for (const Reply& r : bad_replies) {
    std::vector<std::byte> out;
    EXPECT_FALSE(encode(r, out)) << static_cast<int>(r.result);
  }
}

TEST(AuthMessages, EveryTruncationIsRejected) {
  const auto req = encoded(sample_request());
  for (std::size_t n = 0; n < req.size(); ++n) {
    EXPECT_FALSE(decode_request(std::span(req).first(n))) << n;
  }
  const auto rep = encoded(sample_reply());
  for (std::size_t n = 0; n < rep.size(); ++n) {
    EXPECT_FALSE(decode_reply(std::span(rep).first(n))) << n;
  }
}

TEST(AuthMessages, TrailingBytesAreRejected) {
  for (std::byte extra : {std::byte{0}, std::byte{'x'}}) {
    auto req = encoded(sample_request());
    req.push_back(extra);
    EXPECT_FALSE(decode_request(req));
    auto rep = encoded(sample_reply());
    rep.push_back(extra);
    EXPECT_FALSE(decode_reply(rep));
  }
}

TEST(AuthMessages, OverlongDatagramsAreRejected) {
  std::vector<std::byte> req = encoded(sample_request());
  req.resize(kMaxRequestBytes + 1, std::byte{'a'});
  EXPECT_FALSE(decode_request(req));
  std::vector<std::byte> rep = encoded(sample_reply());
  rep.resize(kMaxReplyBytes + 1, std::byte{'a'});
  EXPECT_FALSE(decode_reply(rep));
}

TEST(AuthMessages, WrongMagicOrDirectionIsRejected) {
  const auto req = encoded(sample_request());
  const auto rep = encoded(sample_reply());
  EXPECT_FALSE(decode_reply(req));
  EXPECT_FALSE(decode_request(rep));
  EXPECT_FALSE(peek_request_id(rep));
  for (std::size_t i = 0; i < 4; ++i) {
    auto bad = req;
    bad[i] ^= std::byte{0x01};  // includes another version in the low byte
    EXPECT_FALSE(decode_request(bad)) << i;
    EXPECT_FALSE(peek_request_id(bad)) << i;
    auto bad_rep = rep;
    bad_rep[i] ^= std::byte{0x80};
    EXPECT_FALSE(decode_reply(bad_rep)) << i;
  }
}

TEST(AuthMessages, BadKindsAndResultsAreRejected) {
  for (int kind : {0, 3, 0x81, 0xff}) {
    auto req = encoded(sample_request());
    req[12] = static_cast<std::byte>(kind);
    EXPECT_FALSE(decode_request(req)) << kind;
  }
  for (int result : {0, 6, 0xff}) {
    Reply r;
    r.result = Result::Denied;
    auto rep = encoded(r);
    rep[12] = static_cast<std::byte>(result);
    EXPECT_FALSE(decode_reply(rep)) << result;
  }
}

// Lengths that disagree with the datagram, or exceed their bound while the
// total still adds up, are refused.
TEST(AuthMessages, LengthFieldsAreChecked) {
  const auto good = encoded(sample_request());  // user 5, password 13, ip 9
  auto shift = [&](std::size_t at, int delta) {
    auto b = good;
    b[at] = static_cast<std::byte>(static_cast<int>(b[at]) + delta);
    return b;
  };
  EXPECT_FALSE(decode_request(shift(13, +1)));  // user_len too long
  EXPECT_FALSE(decode_request(shift(13, -1)));  // user_len too short
  EXPECT_FALSE(decode_request(shift(14, +1)));  // password_len
  EXPECT_FALSE(decode_request(shift(15, +1)));  // password_len high byte
  EXPECT_FALSE(decode_request(shift(16, -1)));  // peer_ip_len

  // user_len 65 with the datagram grown to match: over the bound.
  Request r = sample_request();
  r.user = std::string(kMaxUserBytes, 'u');
  auto over = encoded(r);
  over[13] = std::byte{kMaxUserBytes + 1};
  over.insert(over.begin() + kRequestHeaderBytes, std::byte{'u'});
  EXPECT_FALSE(decode_request(over));
  // peer_ip_len 46, likewise.
  r = sample_request();
  r.peer_ip = std::string(kMaxPeerIpBytes, '1');
  over = encoded(r);
  over[16] = std::byte{kMaxPeerIpBytes + 1};
  over.push_back(std::byte{'1'});
  EXPECT_FALSE(decode_request(over));

  auto rep = encoded(sample_reply());
  rep[30] = static_cast<std::byte>(static_cast<int>(rep[30]) + 1);  // root_len
  EXPECT_FALSE(decode_reply(rep));
}

TEST(AuthMessages, NulInAnyStringIsRejected) {
  const auto good = encoded(sample_request());
  // Every byte of user, password and peer_ip in turn.
  for (std::size_t i = kRequestHeaderBytes; i < good.size(); ++i) {
    auto bad = good;
    bad[i] = std::byte{0};
    EXPECT_FALSE(decode_request(bad)) << i;
    EXPECT_EQ(peek_request_id(bad), sample_request().request_id);  // still answerable
  }
  const auto rep = encoded(sample_reply());
  for (std::size_t i = kReplyHeaderBytes; i < rep.size(); ++i) {
    auto bad = rep;
    bad[i] = std::byte{0};
    EXPECT_FALSE(decode_reply(bad)) << i;
  }
}

TEST(AuthMessages, ReplyGrantsNothingUnlessAllowed) {
  Reply r;
  r.request_id = 1;
  r.result = Result::Denied;
  auto bytes = encoded(r);
  bytes[13] = std::byte{config::kPermRead};  // permissions on a Denied
  EXPECT_FALSE(decode_reply(bytes));
  bytes = encoded(r);
  bytes[18] = std::byte{1};  // a session limit on a Denied
  EXPECT_FALSE(decode_reply(bytes));
  bytes = encoded(r);
  bytes[22] = std::byte{1};  // a bandwidth on a Denied
  EXPECT_FALSE(decode_reply(bytes));
}

TEST(AuthMessages, LookupWithPasswordIsRejected) {
  Request r = sample_request();
  auto bytes = encoded(r);
  bytes[12] = static_cast<std::byte>(Kind::LookupUser);
  EXPECT_FALSE(decode_request(bytes));
}

TEST(AuthMessages, PeekNeedsMagicAndId) {
  const auto req = encoded(sample_request());
  EXPECT_FALSE(peek_request_id(std::span(req).first(11)));
  EXPECT_EQ(peek_request_id(std::span(req).first(12)), sample_request().request_id);
  EXPECT_FALSE(peek_request_id({}));
}

TEST(AuthMessages, WipeClears) {
  std::string s = "a rather long password, well beyond the small-string buffer";
  wipe(s);
  EXPECT_TRUE(s.empty());
  std::vector<std::byte> v(100, std::byte{7});
  wipe(v);
  EXPECT_TRUE(v.empty());
  v.resize(100);  // within capacity: the wiped bytes
  for (std::byte b : v) EXPECT_EQ(b, std::byte{0});
}

}  // namespace
}  // namespace ringftpd::server::auth
