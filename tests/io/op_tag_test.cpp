#include "io/op_tag.hpp"

#include <gtest/gtest.h>

namespace ringftpd::io {
namespace {

TEST(OpTag, RoundTripsEveryField) {
  const OpTag cases[] = {{0, 0, 0}, {1, 2, 3}, {0xFFFFFFFE, 0xFFFFFF, 0xFF}, {42, 0x123456, 7}};
  for (const OpTag& t : cases) EXPECT_EQ(OpTag::unpack(t.pack()), t);
}

TEST(OpTag, GenerationWrapsAt24Bits) {
  const OpTag t{5, 0x1000001, 2};
  EXPECT_EQ(OpTag::unpack(t.pack()).generation, 1u);
}

TEST(OpTag, NeverCollidesWithIgnoredTag) {
  // The worker slot is 0xFFFFFFFF but op bytes stay below 0xFF in practice;
  // a live session slot can never produce the ignored tag.
  EXPECT_NE((OpTag{0xFFFFFFFE, 0xFFFFFF, 0xFF}.pack()), kIgnoredTag);
}

}  // namespace
}  // namespace ringftpd::io
