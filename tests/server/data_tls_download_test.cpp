// TlsDownload with fake completions and an in-memory TLS client: the test
// moves the ciphertext between the transfer's receive/send buffers and the
// client. Checks one listing batch per send, 451 for a listing cut short,
// the draft's required reuse, and a file sealed byte for byte.
#include "server/data_tls_download.hpp"

#include <cstring>

#include "tests/server/data_transfer_fixture.hpp"
#include "tls/credentials.hpp"

namespace ringftpd::server {
namespace {

namespace stdfs = std::filesystem;
using Result = ftp::TransferOutcome::Result;
using testing::TransferTest;

class TlsDownloadTest : public TransferTest {
 protected:
  static void SetUpTestSuite() {
    creds_ = new tls::Credentials(tls::generate_self_signed());
    server_tls_ = new tls::ServerContext(*creds_);
    client_tls_ = new tls::ClientContext();
  }
  static void TearDownTestSuite() {
    delete client_tls_;
    delete server_tls_;
    delete creds_;
  }

  TlsDownloadTest() { cfg_.data.require_session_reuse = false; }

  DataTlsLink::Setup setup() { return DataTlsLink::Setup{server_tls_, {}, "", nullptr}; }

  TlsDownload::Listing listing(const std::string& dir) {
    io::UniqueFd fd(::open(path(dir).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    return TlsDownload::Listing{fs::DirectoryLister(std::move(fd), fs::ListerOptions{}),
                                fs::ListFormat::Nlst};
  }

  // Plays the client until the transfer ends; `after_send` runs after each
  // send completed. Returns the plaintext the client opened.
  std::string play(
      TlsDownload& t, const std::function<void()>& after_send = [] {}) {
    tls::Session client = *tls::Session::client(*client_tls_);
    std::string got;
    std::size_t lines_at_last_send = 0;
    for (unsigned guard = 0; guard < 200000 && !t.core().has_ended(); ++guard) {
      if (!client.is_handshake_done()) {
        (void)client.handshake();
      } else {
        std::byte buf[16384];
        for (tls::IoResult r; (r = client.read_plaintext(buf)).status == tls::IoStatus::Ok;) {
          got.append(reinterpret_cast<const char*>(buf), r.bytes);
          if (r.status == tls::IoStatus::Closed) closed_ = true;
        }
        closed_ = closed_ || client.read_plaintext(buf).status == tls::IoStatus::Closed;
      }
      const auto lines = static_cast<std::size_t>(std::count(got.begin(), got.end(), '\n'));
      if (check_batches_) {
        EXPECT_LE(lines - lines_at_last_send, 256u) << "one listing batch per send";
      }
      if (auto s = kernel_.take(Op::DataSend)) {
        lines_at_last_send = lines;
        client.feed_ciphertext({reinterpret_cast<const std::byte*>(s->addr), s->len});
        ++sends_;
        complete(t, Op::DataSend, static_cast<int>(s->len));
        after_send();
        continue;
      }
      if (auto r = kernel_.take(Op::FileRead)) {
        const ssize_t n =
            ::pread(r->fd, reinterpret_cast<void*>(r->addr), r->len, static_cast<off_t>(r->off));
        complete(t, Op::FileRead, static_cast<int>(n));
        continue;
      }
      const auto ct = client.pending_ciphertext();
      if (kernel_.peek(Op::DataRecv) && !ct.empty()) {
        const auto r = kernel_.take(Op::DataRecv);
        const std::size_t n = std::min<std::size_t>(r->len, ct.size());
        std::memcpy(reinterpret_cast<void*>(r->addr), ct.data(), n);
        client.consume_ciphertext(n);
        complete(t, Op::DataRecv, static_cast<int>(n));
        continue;
      }
      housekeeping(t);  // a NOP turn
    }
    std::byte buf[16384];
    for (tls::IoResult r; (r = client.read_plaintext(buf)).status == tls::IoStatus::Ok;) {
      got.append(reinterpret_cast<const char*>(buf), r.bytes);
    }
    closed_ = closed_ || client.read_plaintext(buf).status == tls::IoStatus::Closed;
    return got;
  }

  static tls::Credentials* creds_;
  static tls::ServerContext* server_tls_;
  static tls::ClientContext* client_tls_;
  unsigned sends_ = 0;
  bool closed_ = false;
  bool check_batches_ = false;  // listings: at most one batch of lines per send
};

tls::Credentials* TlsDownloadTest::creds_ = nullptr;
tls::ServerContext* TlsDownloadTest::server_tls_ = nullptr;
tls::ClientContext* TlsDownloadTest::client_tls_ = nullptr;

void make_dir(const stdfs::path& p, unsigned entries) {
  stdfs::create_directory(p);
  for (unsigned i = 0; i < entries; ++i) std::ofstream(p / ("entry-" + std::to_string(10000 + i)));
}

TEST_F(TlsDownloadTest, ProtectedListingSealsOneBatchPerSend) {
  make_dir(path("d"), 1000);
  TlsDownload t(env(), data_, setup(), listing("d"));
  t.begin();
  check_batches_ = true;
  const std::string got = play(t);
  ASSERT_TRUE(t.core().end().has_value());
  EXPECT_EQ(t.core().end()->result, Result::Done);
  EXPECT_EQ(std::count(got.begin(), got.end(), '\n'), 1000);
  EXPECT_EQ(t.core().bytes(), got.size());
  EXPECT_TRUE(closed_) << "the listing ends with our close_notify";
  EXPECT_GE(sends_, 4u);
  retire(t);
  expect_fds_back();
}

TEST_F(TlsDownloadTest, ProtectedListingCutShortEndsIn451) {
  make_dir(path("d"), 4000);
  TlsDownload t(env(), data_, setup(), listing("d"));
  t.begin();
  bool removed = false;
  (void)play(t, [&] {
    if (removed || sends_ < 3) return;  // after the handshake's sends
    stdfs::remove_all(path("d"));
    removed = true;
  });
  ASSERT_TRUE(t.core().end().has_value());
  EXPECT_EQ(t.core().end()->result, Result::LocalError);
  EXPECT_EQ(t.core().end()->error, ENOENT);
  retire(t);
  expect_fds_back();
}

TEST_F(TlsDownloadTest, AFullHandshakeIsRefusedWhenReuseIsRequired) {
  cfg_.data.require_session_reuse = true;
  std::ofstream(path("f")) << "secret";
  TlsDownload t(env(), data_, setup(), TlsDownload::File{open_file("f", O_RDONLY), 0, 6, false});
  t.begin();
  const std::string got = play(t);
  ASSERT_TRUE(t.core().end().has_value());
  EXPECT_EQ(t.core().end()->result, Result::ReuseRequired);
  EXPECT_EQ(got, "") << "not one byte of the file";
  retire(t);
  expect_fds_back();
}

TEST_F(TlsDownloadTest, ProtectedFileIsSealedByteForByte) {
  const std::string data = testing::random_bytes((3u << 20) + 5, 7);
  std::ofstream(path("f"), std::ios::binary) << data;
  TlsDownload t(env(), data_, setup(),
                TlsDownload::File{open_file("f", O_RDONLY), 100, data.size() - 100, false});
  t.begin();
  const std::string got = play(t);
  ASSERT_TRUE(t.core().end().has_value());
  EXPECT_EQ(t.core().end()->result, Result::Done);
  EXPECT_TRUE(got == data.substr(100));
  EXPECT_TRUE(closed_);
  retire(t);
  expect_fds_back();
}

}  // namespace
}  // namespace ringftpd::server
