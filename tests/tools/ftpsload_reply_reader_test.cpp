#include "tools/ftpsload/reply_reader.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace ringftpd::ftpsload {
namespace {

using Status = ReplyReader::Status;

std::vector<Reply> read_all(ReplyReader& r, Status* last = nullptr) {
  std::vector<Reply> out;
  Reply reply;
  Status st;
  while ((st = r.next(reply)) == Status::Ready) out.push_back(reply);
  if (last != nullptr) *last = st;
  return out;
}

TEST(ReplyReader, SingleLineReplies) {
  ReplyReader r;
  r.feed(std::string_view("220 ready\r\n331 password please\r\n"));
  const auto got = read_all(r);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].code, 220);
  EXPECT_EQ(got[0].text, "ready");
  EXPECT_EQ(got[1].code, 331);
  EXPECT_FALSE(r.has_buffered());
}

TEST(ReplyReader, BareLineFeedAndBareCode) {
  ReplyReader r;
  r.feed(std::string_view("200 ok\n221\r\n"));
  const auto got = read_all(r);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[1].code, 221);
  EXPECT_EQ(got[1].text, "");
}

TEST(ReplyReader, ByteAtATime) {
  ReplyReader r;
  const std::string text = "230-Welcome\r\n 230 not the end\r\n230 done\r\n";
  std::vector<Reply> got;
  for (const char c : text) {
    r.feed(std::string_view(&c, 1));
    auto more = read_all(r);
    got.insert(got.end(), more.begin(), more.end());
  }
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].code, 230);
  EXPECT_EQ(got[0].text, "Welcome\n 230 not the end\ndone");
}

TEST(ReplyReader, MultiLineEndsOnlyAtSameCodeAndSpace) {
  ReplyReader r;
  r.feed(std::string_view(
      "211-Features:\r\n EPSV\r\n211-still going\r\n212 other code\r\n211 End\r\n"));
  const auto got = read_all(r);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].code, 211);
  EXPECT_EQ(got[0].text, "Features:\n EPSV\n211-still going\n212 other code\nEnd");
}

TEST(ReplyReader, IncompleteReplyIsBuffered) {
  ReplyReader r;
  r.feed(std::string_view("150-opening\r\n"));
  Status st;
  EXPECT_TRUE(read_all(r, &st).empty());
  EXPECT_EQ(st, Status::NeedMore);
  EXPECT_TRUE(r.has_buffered());
  r.feed(std::string_view("150 ok\r\n226 done"));
  EXPECT_EQ(read_all(r).size(), 1u);
  EXPECT_TRUE(r.has_buffered());  // "226 done" without its line end
}

TEST(ReplyReader, GarbageIsMalformed) {
  for (const char* bad : {"hello\r\n", "22 short\r\n", "2200 long\r\n", "099 low\r\n",
                          "600 high\r\n", "220x\r\n", "\r\n", "SSH-2.0-OpenSSH\r\n"}) {
    ReplyReader r;
    r.feed(std::string_view(bad));
    Status st;
    EXPECT_TRUE(read_all(r, &st).empty()) << bad;
    EXPECT_EQ(st, Status::Malformed) << bad;
    r.feed(std::string_view("220 fine\r\n"));  // errors are sticky
    EXPECT_EQ(read_all(r, &st).size(), 0u);
    EXPECT_EQ(st, Status::Malformed);
  }
}

TEST(ReplyReader, EndlessLineIsTooLong) {
  ReplyReader r;
  const std::string chunk(1000, 'x');
  Status st = Status::NeedMore;
  r.feed(std::string_view("220 "));
  for (int i = 0; i < 20 && st == Status::NeedMore; ++i) {
    r.feed(chunk);
    Reply reply;
    st = r.next(reply);
  }
  EXPECT_EQ(st, Status::TooLong);
}

TEST(ReplyReader, EndlessMultiLineReplyIsTooLong) {
  ReplyReader r;
  r.feed(std::string_view("220-start\r\n"));
  Status st = Status::NeedMore;
  for (int i = 0; i < 100000 && st == Status::NeedMore; ++i) {
    r.feed(std::string_view("220-more text more text more text\r\n"));
    Reply reply;
    st = r.next(reply);
  }
  EXPECT_EQ(st, Status::TooLong);
}

TEST(ReplyReader, ResetStartsOver) {
  ReplyReader r;
  r.feed(std::string_view("garbage\r\n"));
  Reply reply;
  EXPECT_EQ(r.next(reply), Status::Malformed);
  r.reset();
  r.feed(std::string_view("220 ok\r\n"));
  EXPECT_EQ(r.next(reply), Status::Ready);
}

struct PortCase {
  const char* text;
  int port;  // -1: unparsable
};

TEST(ParsePasv, Table) {
  const PortCase cases[] = {
      {"Entering Passive Mode (127,0,0,1,195,80).", 50000},
      {"Entering Passive Mode (127,0,0,1,195,80)", 50000},
      {"Entering Passive Mode 127,0,0,1,4,1", 1025},
      {"=127,0,0,1,0,21", 21},
      {"Entering Passive Mode ( 10, 0, 0, 1, 1, 2 )", 258},
      {"Entering Passive Mode (127,0,0,1,256,1)", -1},
      {"Entering Passive Mode (127,0,0,1,195)", -1},
      {"Entering Passive Mode (127,0,0,1,0,0)", -1},
      {"Entering Passive Mode", -1},
      {"", -1},
  };
  for (const auto& c : cases) {
    const auto port = parse_pasv_port(c.text);
    if (c.port < 0) {
      EXPECT_FALSE(port) << c.text;
    } else {
      ASSERT_TRUE(port) << c.text;
      EXPECT_EQ(*port, c.port) << c.text;
    }
  }
}

TEST(ParseEpsv, Table) {
  const PortCase cases[] = {
      {"Entering Extended Passive Mode (|||6446|)", 6446},
      {"Entering Extended Passive Mode (!!!50001!)", 50001},
      {"ok (|||65535|)", 65535},
      {"(|||65536|)", -1},
      {"(|||0|)", -1},
      {"(||6446|)", -1},
      {"(|||6446)", -1},
      {"(111644461)", -1},
      {"(|||x|)", -1},
      {"no parenthesis |||6446|", -1},
  };
  for (const auto& c : cases) {
    const auto port = parse_epsv_port(c.text);
    if (c.port < 0) {
      EXPECT_FALSE(port) << c.text;
    } else {
      ASSERT_TRUE(port) << c.text;
      EXPECT_EQ(*port, c.port) << c.text;
    }
  }
}

TEST(ParseSize, Table) {
  EXPECT_EQ(parse_size_reply("1048576"), 1048576u);
  EXPECT_EQ(parse_size_reply(" 0"), 0u);
  EXPECT_EQ(parse_size_reply("18446744073709551615"), 18446744073709551615u);
  EXPECT_FALSE(parse_size_reply(""));
  EXPECT_FALSE(parse_size_reply("12 bytes"));
  EXPECT_FALSE(parse_size_reply("-1"));
  EXPECT_FALSE(parse_size_reply("18446744073709551616"));
}

}  // namespace
}  // namespace ringftpd::ftpsload
