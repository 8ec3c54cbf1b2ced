// BufferedTransfer with fake completions: ASCII conversions in both
// directions with short sends, reads and writes chosen by a seed; one
// operation in flight at a time; errors end the transfer with the right
// result. (Listings through a whole DataChannel: data_channel_fake_ring_test.)
#include "server/data_buffered_transfer.hpp"

#include <cstring>

#include "tests/server/data_transfer_fixture.hpp"

namespace ringftpd::server {
namespace {

using Result = ftp::TransferOutcome::Result;
using testing::TransferTest;

class BufferedTransferTest : public TransferTest {
 protected:
  std::string text(unsigned lines) {
    std::string s;
    for (unsigned i = 0; i < lines; ++i) s += "line " + std::to_string(i) + "\n";
    return s;
  }
};

TEST_F(BufferedTransferTest, AsciiDownloadSendsCrlfLines) {
  const std::string t_in = text(20000);
  std::ofstream(path("t.txt"), std::ios::binary) << t_in;
  BufferedTransfer t(env(), data_,
                     BufferedTransfer::AsciiDownload{open_file("t.txt", O_RDONLY), 0, t_in.size()});
  t.begin();
  std::string got;
  for (unsigned guard = 0; guard < 100000 && !t.core().has_ended(); ++guard) {
    ASSERT_EQ(kernel_.in_flight(), 1u) << "one operation at a time";
    if (auto r = kernel_.take(Op::FileRead)) {
      const ssize_t n =
          ::pread(r->fd, reinterpret_cast<void*>(r->addr), r->len, static_cast<off_t>(r->off));
      complete(t, Op::FileRead, static_cast<int>(n));
    } else if (auto s = kernel_.take(Op::DataSend)) {
      const std::size_t n = 1 + rng_() % s->len;  // short sends
      got.append(reinterpret_cast<const char*>(s->addr), n);
      complete(t, Op::DataSend, static_cast<int>(n));
    } else {
      FAIL() << "nothing in flight";
    }
  }
  ASSERT_TRUE(t.core().end().has_value());
  EXPECT_EQ(t.core().end()->result, Result::Done);
  EXPECT_EQ(t.core().bytes(), t_in.size()) << "RETR counts file bytes";
  std::string want;
  append_ascii_download(want, t_in);
  EXPECT_EQ(got, want);
  retire(t);
  expect_fds_back();
}

TEST_F(BufferedTransferTest, AsciiUploadStoresLfLinesAndALoneFinalCr) {
  std::string sent_text;
  for (int i = 0; i < 10000; ++i) sent_text += "row " + std::to_string(i) + "\r\n";
  sent_text += "\r";
  BufferedTransfer t(env(), data_,
                     BufferedTransfer::AsciiUpload{open_file("u.txt", O_WRONLY | O_CREAT), 0});
  t.begin();
  std::size_t sent = 0;
  for (unsigned guard = 0; guard < 100000 && !t.core().has_ended(); ++guard) {
    ASSERT_EQ(kernel_.in_flight(), 1u);
    if (auto r = kernel_.take(Op::DataRecv)) {
      // Chunks that split CRLF pairs at random places.
      const std::size_t n =
          std::min<std::size_t>({r->len, sent_text.size() - sent, 1 + rng_() % 997});
      std::memcpy(reinterpret_cast<void*>(r->addr), sent_text.data() + sent, n);
      sent += n;
      complete(t, Op::DataRecv, static_cast<int>(n));
    } else if (auto w = kernel_.take(Op::FileWrite)) {
      const std::size_t n = 1 + rng_() % w->len;
      EXPECT_EQ(::pwrite(w->fd, reinterpret_cast<void*>(w->addr), n, static_cast<off_t>(w->off)),
                static_cast<ssize_t>(n));
      complete(t, Op::FileWrite, static_cast<int>(n));
    } else {
      FAIL() << "nothing in flight";
    }
  }
  ASSERT_TRUE(t.core().end().has_value());
  EXPECT_EQ(t.core().end()->result, Result::Done);
  std::string want;
  for (std::size_t i = 0; i < sent_text.size(); ++i) {
    if (!(sent_text[i] == '\r' && i + 1 < sent_text.size() && sent_text[i + 1] == '\n')) {
      want += sent_text[i];
    }
  }
  retire(t);
  EXPECT_EQ(read_back("u.txt"), want);
  expect_fds_back();
}

TEST_F(BufferedTransferTest, ErrorsMapToTheirReplies) {
  struct Row {
    Op op;
    int res;
    Result want;
  };
  for (const Row& row : {Row{Op::FileWrite, -ENOSPC, Result::StorageFull},
                         Row{Op::FileWrite, -EDQUOT, Result::StorageFull},
                         Row{Op::FileWrite, -EIO, Result::LocalError},
                         Row{Op::DataRecv, -ECONNRESET, Result::ConnectionLost}}) {
    BufferedTransfer t(env(), data_,
                       BufferedTransfer::AsciiUpload{open_file("e.txt", O_WRONLY | O_CREAT), 0});
    t.begin();
    const auto r = kernel_.take(Op::DataRecv);
    ASSERT_TRUE(r.has_value());
    if (row.op == Op::FileWrite) {
      std::memcpy(reinterpret_cast<void*>(r->addr), "x", 1);
      complete(t, Op::DataRecv, 1);
      ASSERT_TRUE(kernel_.take(Op::FileWrite).has_value());
    }
    complete(t, row.op, row.res);
    ASSERT_TRUE(t.core().has_ended());
    EXPECT_EQ(t.core().end()->result, row.want);
    retire(t);
  }
  expect_fds_back();
}

}  // namespace
}  // namespace ringftpd::server
