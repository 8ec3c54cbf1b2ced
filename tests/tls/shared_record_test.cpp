// Sealed records in Redis: what one host seals, another with the same secret
// opens; anything else (another secret, another name, a flipped bit, a cut,
// another version) is refused with its reason.
#include "tls/shared_record.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <vector>

#include "tests/tls/tls_test_support.hpp"
#include "tls/error.hpp"

namespace ringftpd::tls {
namespace {

const std::vector<std::uint8_t> kSecret(32, 0x5a);
const std::array<std::uint8_t, 12> kNonce = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
constexpr char kName[] = "ringftpd:tls:ticket-keys/0badf00d";

SharedTicketKey sample_key() {
  SharedTicketKey k;
  k.id = 0x0badf00d;
  k.not_before_unix_ms = 1'767'000'000'123;
  for (std::size_t i = 0; i < sizeof k.aes_key; ++i) k.aes_key[i] = static_cast<std::uint8_t>(i);
  for (std::size_t i = 0; i < sizeof k.mask_key; ++i) {
    k.mask_key[i] = static_cast<std::uint8_t>(0xff - i);
  }
  return k;
}

class SharedRecordTest : public ::testing::Test {
 protected:
  RecordSealer sealer_{kSecret};

  std::vector<std::uint8_t> sealed() {
    auto r = sealer_.seal_key(sample_key(), kName, kNonce);
    EXPECT_TRUE(r.has_value());
    return r.value_or(std::vector<std::uint8_t>{});
  }
  RecordError refused(const std::vector<std::uint8_t>& record, std::string_view name = kName) {
    SharedTicketKey out;
    RecordError why = RecordError::Crypto;
    EXPECT_FALSE(sealer_.open_key(record, name, out, why));
    return why;
  }
};

TEST_F(SharedRecordTest, AKeyRoundTrips) {
  const auto record = sealed();
  ASSERT_EQ(record.size(), 2u + 12 + 12 + 64 + 16 + 32);
  SharedTicketKey out;
  RecordError why{};
  ASSERT_TRUE(RecordSealer(kSecret).open_key(record, kName, out, why));  // another host
  const SharedTicketKey in = sample_key();
  EXPECT_EQ(out.id, in.id);
  EXPECT_EQ(out.not_before_unix_ms, in.not_before_unix_ms);
  EXPECT_EQ(std::memcmp(out.aes_key, in.aes_key, sizeof in.aes_key), 0);
  EXPECT_EQ(std::memcmp(out.mask_key, in.mask_key, sizeof in.mask_key), 0);
}

TEST_F(SharedRecordTest, TheKeyMaterialIsNotInTheRecord) {
  const auto record = sealed();
  const SharedTicketKey in = sample_key();
  const auto at = std::search(record.begin(), record.end(), in.aes_key, in.aes_key + 8);
  EXPECT_EQ(at, record.end());  // encrypted: reading Redis does not give the keys
}

TEST_F(SharedRecordTest, EveryFlippedBitIsRefused) {
  const auto record = sealed();
  for (std::size_t i = 0; i < record.size(); ++i) {
    auto bad = record;
    bad[i] ^= 0x01;
    const RecordError why = refused(bad);
    if (i == 0) {
      EXPECT_EQ(why, RecordError::Version) << i;
    } else if (i == 1) {
      EXPECT_EQ(why, RecordError::Malformed) << i;  // another kind
    } else {
      EXPECT_EQ(why, RecordError::Mac) << i;
    }
  }
}

TEST_F(SharedRecordTest, AnotherSecretOrNameIsRefused) {
  const auto record = sealed();
  SharedTicketKey out;
  RecordError why{};
  EXPECT_FALSE(RecordSealer(std::vector<std::uint8_t>(32, 0x5b)).open_key(record, kName, out, why));
  EXPECT_EQ(why, RecordError::Mac);
  // A record copied under another field (claiming to be another key).
  EXPECT_EQ(refused(record, "ringftpd:tls:ticket-keys/00000001"), RecordError::Mac);
}

TEST_F(SharedRecordTest, CutOrGarbageRecordsAreMalformed) {
  const auto record = sealed();
  EXPECT_EQ(refused({}), RecordError::Malformed);
  EXPECT_EQ(refused(std::vector<std::uint8_t>(record.begin(), record.begin() + 40)),
            RecordError::Malformed);
  auto cut = record;
  cut.pop_back();
  EXPECT_EQ(refused(cut), RecordError::Mac);
  EXPECT_EQ(refused(std::vector<std::uint8_t>(137, 0x01)), RecordError::Mac);  // version 1, junk
}

TEST_F(SharedRecordTest, AValidRecordOfAnotherVersionIsRefused) {
  auto record = sealed();
  record[0] = 2;
  EXPECT_EQ(refused(record), RecordError::Version);
}

TEST_F(SharedRecordTest, ASessionRoundTripsAndIsBoundToItsName) {
  SharedSession in;
  in.origin = 0x1122334455667788;
  in.expires_unix_ms = 1'767'000'999'000;
  in.der.assign(300, 0x42);
  const auto record = sealer_.seal_session(in, "p:tls:session/abcd", kNonce);
  ASSERT_TRUE(record.has_value());
  SharedSession out;
  RecordError why{};
  ASSERT_TRUE(sealer_.open_session(*record, "p:tls:session/abcd", out, why));
  EXPECT_EQ(out.origin, in.origin);
  EXPECT_EQ(out.expires_unix_ms, in.expires_unix_ms);
  EXPECT_EQ(out.der, in.der);
  EXPECT_FALSE(sealer_.open_session(*record, "p:tls:session/abce", out, why));
  EXPECT_EQ(why, RecordError::Mac);
  // A key record is not a session record.
  EXPECT_FALSE(sealer_.open_session(sealed(), kName, out, why));
  EXPECT_EQ(why, RecordError::Malformed);
  SharedSession empty;
  EXPECT_FALSE(sealer_.seal_session(empty, "x", kNonce).has_value());
}

TEST_F(SharedRecordTest, AShortSecretIsRefused) {
  EXPECT_THROW(RecordSealer(std::vector<std::uint8_t>(31, 1)), TlsError);
}

}  // namespace
}  // namespace ringftpd::tls
