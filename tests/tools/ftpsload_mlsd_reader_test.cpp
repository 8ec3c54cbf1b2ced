#include "tools/ftpsload/mlsd_reader.hpp"

#include <gtest/gtest.h>

#include <string>

namespace ringftpd::ftpsload {
namespace {

struct EntryCase {
  std::string_view line;  // without the LF
  const char* problem;    // nullptr: a valid entry
};

// RFC 3659 §7.2: entry = [facts] SP pathname CRLF; facts = 1*(fact ";");
// fact = factname "=" value.
TEST(MlsdReader, EntryRules) {
  const EntryCase cases[] = {
      {"type=file;size=3;modify=20240101000000;perm=r; a.txt\r", nullptr},
      {"type=cdir;unique=801U2A; .\r", nullptr},
      {" no-facts\r", nullptr},                        // facts may be absent
      {"type=file; name with  spaces \r", nullptr},    // the name is all after the first space
      {"type=file;x.y-z=; empty-value\r", nullptr},    // an empty value
      {"Type=FILE;Size=1; Mixed\r", nullptr},          // names are case-insensitive
      {"type=file;size=3; a;b=c.txt\r", nullptr},      // ';' and '=' inside the name
      {"type=file; a.txt", "line not ended by CRLF"},  // bare LF
      {"", "line not ended by CRLF"},
      {"\r", "no space before the name"},  // an empty line
      {"type=file;size=3;a.txt\r", "no space before the name"},
      {"type=file;size=3 a.txt\r", "facts not ended by ';'"},
      {"type=file;size; a.txt\r", "fact without '='"},
      {"=file; a.txt\r", "fact without a name"},
      {"ty\x01pe=file; a.txt\r", "bad character in a fact name"},
      {";; a.txt\r", "fact without '='"},
      {"type=file; \r", "empty name"},
      {"type=file; a\rb\r", "control character in the name"},
      {std::string_view("type=file; a\0b\r", 15), "control character in the name"},
  };
  for (const auto& c : cases) {
    const std::string line(c.line);
    const char* got = mlsd_entry_problem(line);
    if (c.problem == nullptr) {
      EXPECT_EQ(got, nullptr) << line << ": " << got;
    } else {
      ASSERT_NE(got, nullptr) << line;
      EXPECT_STREQ(got, c.problem) << line;
    }
  }
}

constexpr const char* kListing =
    "type=cdir;modify=20240101000000; .\r\n"
    "type=file;size=3;perm=r; a b.txt\r\n"
    "type=dir;perm=el; sub\r\n";

TEST(MlsdReader, CountsEntriesFedWhole) {
  MlsdReader r;
  r.feed(std::string_view(kListing));
  EXPECT_TRUE(r.finish());
  EXPECT_EQ(r.entries(), 3u);
  EXPECT_EQ(r.problem(), "");
}

TEST(MlsdReader, CountsEntriesFedByteByByte) {
  MlsdReader r;
  for (const char c : std::string_view(kListing)) r.feed(std::string_view(&c, 1));
  EXPECT_TRUE(r.finish());
  EXPECT_EQ(r.entries(), 3u);
}

TEST(MlsdReader, EmptyListingIsFine) {
  MlsdReader r;
  EXPECT_TRUE(r.finish());
  EXPECT_EQ(r.entries(), 0u);
}

TEST(MlsdReader, UnfinishedLastLine) {
  MlsdReader r;
  r.feed(std::string_view(kListing));
  r.feed(std::string_view("type=file; cut"));
  EXPECT_TRUE(r.ok());  // it may yet end
  EXPECT_FALSE(r.finish());
  EXPECT_EQ(r.problem(), "listing ends inside a line");
  EXPECT_EQ(r.entries(), 3u);
}

TEST(MlsdReader, FirstBadLineSticks) {
  MlsdReader r;
  r.feed(std::string_view("type=file; a\r\nbroken\r\ntype=file; b\r\n"));
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.problem(), "no space before the name");
  EXPECT_EQ(r.entries(), 1u);
  r.feed(std::string_view("type=file; c\r\n"));
  EXPECT_EQ(r.entries(), 1u);
  EXPECT_FALSE(r.finish());
  r.reset();
  EXPECT_TRUE(r.ok());
  EXPECT_EQ(r.entries(), 0u);
}

TEST(MlsdReader, LineLengthIsCapped) {
  MlsdReader r;
  const std::string name(MlsdReader::kMaxLineBytes - 12, 'n');
  r.feed("type=file; " + name + "\r\n");  // exactly at the cap with its CR
  EXPECT_TRUE(r.ok()) << r.problem();
  const std::string chunk(1000, 'x');
  for (int i = 0; i < 9 && r.ok(); ++i) r.feed(chunk);  // no LF ever
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.problem(), "line too long");
  EXPECT_EQ(r.entries(), 1u);
}

}  // namespace
}  // namespace ringftpd::ftpsload
