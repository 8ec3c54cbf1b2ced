#include "tools/ftpsload/report.hpp"

#include <gtest/gtest.h>

#include <string>

#include "tools/ftpsload/stats.hpp"

namespace ringftpd::ftpsload {
namespace {

Options download_options() {
  Options o;
  o.mode = Mode::Download;
  o.path = "f1m.bin";
  o.port = 2121;
  o.user = "demo";
  o.concurrency = 4;
  o.expect_size = 1048576;
  return o;
}

Totals sample_totals() {
  Totals t;
  t.counts.transfers_ok = 100;
  t.counts.transfers_failed = 3;
  t.counts.bytes_ok = 100 * 1048576;
  t.counts.bytes_moved = 101 * 1048576;
  t.counts.sessions_started = 7;
  t.counts.sessions_up = 6;
  t.counts.sessions_failed = 3;
  t.counts.errors = 6;
  t.errors["reply 530 to PASS"] = 3;
  t.errors["connect refused"] = 2;
  t.errors["timeout (data of RETR)"] = 1;
  t.reply_codes["530"] = 3;
  t.control_full = 6;
  t.data_resumed = 100;
  t.tls_protocol = "TLSv1.3";
  t.tls_cipher = "TLS13-AES128-GCM-SHA256";
  for (int i = 1; i <= 100; ++i) t.transfer.record(static_cast<std::uint64_t>(i) * 1000000);
  return t;
}

TEST(Report, TextHasTheFiguresAndErrorsMostFirst) {
  const std::string r =
      text_report(download_options(), sample_totals(), RunFacts{10.0, -1, false, 1});
  EXPECT_NE(r.find("10.00 transfers/s"), std::string::npos) << r;
  EXPECT_NE(r.find("10.49 MB/s"), std::string::npos) << r;
  EXPECT_NE(r.find("100 ok, 3 failed"), std::string::npos) << r;
  EXPECT_NE(r.find("checked: size"), std::string::npos) << r;
  EXPECT_NE(r.find("data 0 full, 100 resumed"), std::string::npos) << r;
  EXPECT_NE(r.find("errors: 6"), std::string::npos) << r;
  const auto p530 = r.find("reply 530 to PASS");
  const auto refused = r.find("connect refused");
  const auto timeout = r.find("timeout (data of RETR)");
  ASSERT_NE(p530, std::string::npos);
  EXPECT_LT(p530, refused);
  EXPECT_LT(refused, timeout);
  EXPECT_NE(r.find("530 x3"), std::string::npos) << r;
  EXPECT_NE(r.find("transfer"), std::string::npos);
  EXPECT_NE(r.find(" 50."), std::string::npos) << r;  // p50 of 1..100 ms, to 1/64
}

TEST(Report, JsonCarriesTheSameFigures) {
  const std::string j =
      json_report(download_options(), sample_totals(), RunFacts{10.0, -1, false, 1});
  EXPECT_EQ(j.front(), '{');
  EXPECT_EQ(j.back(), '}');
  for (const char* part :
       {"\"mode\":\"download\"", "\"elapsed_s\":10.000", "\"transfers\":{\"ok\":100,\"failed\":3",
        "\"mb_per_s\":10.486", "\"data_resumed\":100", "\"errors_total\":6",
        "\"reply 530 to PASS\":3", "\"reply_codes\":{\"530\":3}", "\"p50\":50."}) {
    EXPECT_NE(j.find(part), std::string::npos) << part << "\n" << j;
  }
}

TEST(Report, JsonStringEscapes) {
  EXPECT_EQ(json_string("a\"b\\c\n"), "\"a\\\"b\\\\c\\u000a\"");
}

TEST(Report, Durations) {
  EXPECT_EQ(format_duration_ns(850e3), "850us");
  EXPECT_EQ(format_duration_ns(12.345e6), "12.35ms");
  EXPECT_EQ(format_duration_ns(1.5e9), "1.500s");
}

TEST(Report, ProgressLinePerMode) {
  Options o = download_options();
  LiveSample before, now;
  now.transfers_ok = 50;
  now.bytes_moved = 50000000;
  EXPECT_NE(progress_line(o, now, before, 2.0, 1.0).find("50.0 MB/s"), std::string::npos);
  o.mode = Mode::Idle;
  now.sessions_open = 20000;
  EXPECT_NE(progress_line(o, now, before, 2.0, 1.0).find("20000 logged in"), std::string::npos);
}

}  // namespace
}  // namespace ringftpd::ftpsload
