// server/json_line: JSON string escaping against hostile input (what a client
// puts in a user name or a path), and lines that never exceed their cap.
#include "server/json_line.hpp"

#include <gtest/gtest.h>

#include <random>
#include <string>

#include "tests/server/json_reader.hpp"

namespace ringftpd::server {
namespace {

using test_support::JsonReader;

std::string as_json(std::string_view text, std::size_t max = 1 << 20) {
  std::string out;
  append_json_string(out, text, max);
  return out;
}

std::optional<std::string> decoded(const std::string& json) {
  JsonReader r(json);
  auto s = r.string();
  if (!s || !r.at_end()) return std::nullopt;
  return s;
}

struct Row {
  std::string_view input;
  std::string_view json;
};

// One row per rule: what must be escaped, what stays, what is replaced.
const Row kRows[] = {
    {"", R"("")"},
    {"plain /pub/file.bin", R"("plain /pub/file.bin")"},
    {"say \"hi\"", R"("say \"hi\"")"},
    {"C:\\dir\\", R"("C:\\dir\\")"},
    {"a\nb\rc\td", R"("a\nb\rc\td")"},
    {"\b\f", R"("\b\f")"},
    {std::string_view("\0x", 2), R"("\u0000x")"},
    {"\x01\x1f\x7f", R"("\u0001\u001f\u007f")"},
    {"\x1b[31mred", R"("\u001b[31mred")"},  // a terminal escape stays inert
    {"/", R"("/")"},                        // '/' needs no escape
    {"caf\xc3\xa9", "\"caf\xc3\xa9\""},     // valid UTF-8 kept as is
    {"\xe2\x82\xac \xf0\x9f\x98\x80", "\"\xe2\x82\xac \xf0\x9f\x98\x80\""},
    {"\xe2\x80\xa8\xe2\x80\xa9", R"("\u2028\u2029")"},  // JavaScript line ends
    {"\xef\xbf\xbd", "\"\xef\xbf\xbd\""},               // U+FFFD itself is valid
    {"\xf4\x8f\xbf\xbf", "\"\xf4\x8f\xbf\xbf\""},       // U+10FFFF, the last
    // Every byte outside a well-formed sequence is one U+FFFD.
    {"\x80", R"("\ufffd")"},                                // stray continuation
    {"a\xffz", R"("a\ufffdz")"},                            // never valid
    {"\xc0\xaf", R"("\ufffd\ufffd")"},                      // overlong '/'
    {"\xe0\x80\xaf", R"("\ufffd\ufffd\ufffd")"},            // overlong, three bytes
    {"\xed\xa0\x80", R"("\ufffd\ufffd\ufffd")"},            // surrogate D800
    {"\xf4\x90\x80\x80", R"("\ufffd\ufffd\ufffd\ufffd")"},  // beyond U+10FFFF
    {"\xf5\x80\x80\x80", R"("\ufffd\ufffd\ufffd\ufffd")"},
    {"\xc3", R"("\ufffd")"},  // cut at the end
    {"\xe2\x82", R"("\ufffd\ufffd")"},
    {"\xe2\x82\"", R"("\ufffd\ufffd\"")"},  // a cut sequence cannot swallow the quote
    {"\xc3\n", R"("\ufffd\n")"},            // nor the line end
};

TEST(JsonLineTest, EscapesEveryRule) {
  for (const Row& row : kRows) {
    SCOPED_TRACE(std::string(row.json));
    EXPECT_EQ(as_json(row.input), row.json);
    EXPECT_TRUE(decoded(as_json(row.input)).has_value());
  }
}

// Valid UTF-8 decodes back to itself; anything decodes at all, and the
// output never holds a raw control character or line end.
TEST(JsonLineTest, RandomBytesAlwaysMakeOneValidString) {
  std::mt19937 rng(20261123);
  std::uniform_int_distribution<int> byte(0, 255);
  std::uniform_int_distribution<int> length(0, 64);
  for (int round = 0; round < 20000; ++round) {
    std::string input(static_cast<std::size_t>(length(rng)), '\0');
    for (char& c : input) c = static_cast<char>(byte(rng));
    const std::string json = as_json(input);
    for (char c : json) ASSERT_GE(static_cast<unsigned char>(c), 0x20) << json;
    const auto back = decoded(json);
    ASSERT_TRUE(back.has_value()) << json;
    if (back->find("\xef\xbf\xbd") == std::string::npos) {
      EXPECT_EQ(*back, input);
    }
  }
}

TEST(JsonLineTest, ValidTextSurvivesTheRoundTrip) {
  const std::string text =
      "/pub/\xe6\x97\xa5\xe6\x9c\xac/\"q\"\\\t\x01 \xf0\x90\x8d\x88 end\xe2\x80\xa8";
  EXPECT_EQ(decoded(as_json(text)), text);
}

TEST(JsonLineTest, LongTextIsCutOnACharacterBoundaryWithinItsCap) {
  const std::string euro = "\xe2\x82\xac";
  std::string text;
  for (int i = 0; i < 100; ++i) text += euro + "\n";
  for (std::size_t max = 5; max < 80; ++max) {
    std::string out = "prefix";
    EXPECT_FALSE(append_json_string(out, text, max));
    const std::string json = out.substr(6);
    EXPECT_LE(json.size(), max);
    ASSERT_GE(json.size(), 5U);
    EXPECT_EQ(json.substr(json.size() - 4), "...\"");
    const auto back = decoded(json);
    ASSERT_TRUE(back.has_value()) << json;
    const std::string kept = back->substr(0, back->size() - 3);
    EXPECT_EQ(text.compare(0, kept.size(), kept), 0);  // a prefix, no half character
  }
  std::string fits;
  EXPECT_TRUE(append_json_string(fits, "abc", 5));
  EXPECT_EQ(fits, R"("abc")");
}

TEST(JsonLineTest, EscapesAreNeverCutInHalf) {
  const std::string text(50, '\x01');  // each becomes six bytes
  for (std::size_t max = 5; max < 40; ++max) {
    const std::string json = as_json(text, max);
    EXPECT_LE(json.size(), max);
    EXPECT_TRUE(decoded(json).has_value()) << json;
  }
}

TEST(JsonLineTest, BuildsAFlatObjectLine) {
  JsonLine line(4096);
  line.text("user", "al\"ice");
  line.number("bytes", -12);
  line.number("big", 9007199254740993);
  line.boolean("ok", true);
  line.raw("level", "\"info\"");
  EXPECT_EQ(line.finish(),
            "{\"user\":\"al\\\"ice\",\"bytes\":-12,\"big\":9007199254740993,\"ok\":true,"
            "\"level\":\"info\"}\n");
  EXPECT_EQ(line.finish(), "{}\n");  // finish() leaves an empty object behind
}

TEST(JsonLineTest, HugeFieldsNeverOverflowTheLine) {
  const std::string hostile(10000, '\x7f');
  for (std::size_t max : {16, 64, 200, 1000, 4096}) {
    JsonLine line(max);
    line.text("a", hostile);
    line.number("n", 123456789);
    line.text("b", hostile);
    line.text("c", std::string(3000, 'x'));
    line.boolean("last", false);
    const std::string out = line.finish();
    EXPECT_LE(out.size(), max);
    const auto fields = JsonReader(out).flat_object_line();
    ASSERT_TRUE(fields.has_value()) << out;
    if (fields->count("a") != 0) {
      EXPECT_LE(fields->at("a").size(), JsonLine::kMaxTextBytes);
    }
  }
}

TEST(JsonLineTest, OneLongStringDoesNotCrowdOutTheOthers) {
  JsonLine line(4096);
  line.text("path", std::string(5000, 'p'));
  line.text("reason", "storage full");
  const auto fields = JsonReader(line.finish()).flat_object_line();
  ASSERT_TRUE(fields.has_value());
  EXPECT_EQ(fields->at("reason"), "storage full");
  EXPECT_EQ(fields->at("path").substr(fields->at("path").size() - 3), "...");
}

}  // namespace
}  // namespace ringftpd::server
