// TlsUpload with fake completions and an in-memory TLS client: the client's
// records arrive through the real provided-buffer ring (FakeKernel plays the
// multishot receive), file writes run for real. Only the client's
// close_notify ends an upload cleanly; a bare FIN is a truncation.
#include "server/data_tls_upload.hpp"

#include <cstring>

#include "tests/server/data_transfer_fixture.hpp"
#include "tls/credentials.hpp"

namespace ringftpd::server {
namespace {

using Result = ftp::TransferOutcome::Result;
using testing::FakeKernel;
using testing::TransferTest;

class TlsUploadTest : public TransferTest {
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
  TlsUploadTest() { cfg_.data.require_session_reuse = false; }

  // The client sends `data` (then its close_notify when `clean`), then FIN.
  void play(TlsUpload& t, const std::string& data, bool clean) {
    tls::Session client = *tls::Session::client(*client_tls_);
    bool data_written = false;
    bool fin_sent = false;
    for (unsigned guard = 0; guard < 200000 && !t.core().has_ended(); ++guard) {
      if (!client.is_handshake_done()) {
        (void)client.handshake();
      } else if (!data_written) {
        const auto* p = reinterpret_cast<const std::byte*>(data.data());
        ASSERT_EQ(client.write_plaintext({p, data.size()}).status, tls::IoStatus::Ok);
        if (clean) (void)client.shutdown();
        data_written = true;
      }
      if (auto s = kernel_.take(Op::DataSend)) {
        client.feed_ciphertext({reinterpret_cast<const std::byte*>(s->addr), s->len});
        complete(t, Op::DataSend, static_cast<int>(s->len));
        continue;
      }
      if (auto w = kernel_.take(Op::FileWrite)) {
        const std::size_t n = 1 + rng_() % w->len;  // short writes too
        EXPECT_EQ(::pwrite(w->fd, reinterpret_cast<void*>(w->addr), n, static_cast<off_t>(w->off)),
                  static_cast<ssize_t>(n));
        complete(t, Op::FileWrite, static_cast<int>(n));
        continue;
      }
      const auto ct = client.pending_ciphertext();
      if (auto r = kernel_.peek(Op::DataRecv); r && !ct.empty()) {
        if (!(r->flags & IOSQE_BUFFER_SELECT)) {  // the handshake's plain receive
          (void)kernel_.take(Op::DataRecv);
          const std::size_t n = std::min<std::size_t>(r->len, ct.size());
          std::memcpy(reinterpret_cast<void*>(r->addr), ct.data(), n);
          client.consume_ciphertext(n);
          complete(t, Op::DataRecv, static_cast<int>(n));
          continue;
        }
        if (const auto b = kernel_.pick_buffer(r->buf_group)) {
          const std::size_t n = std::min<std::size_t>({b->size, ct.size(), 1 + rng_() % 40000});
          std::memcpy(b->data, ct.data(), n);
          client.consume_ciphertext(n);
          complete(t, Op::DataRecv, static_cast<int>(n), FakeKernel::buffer_flags(b->id, true));
        } else {
          (void)kernel_.take(Op::DataRecv);
          complete(t, Op::DataRecv, -ENOBUFS);
        }
        continue;
      }
      if (auto r = kernel_.peek(Op::DataRecv);
          r && data_written && ct.empty() && !fin_sent && (r->flags & IOSQE_BUFFER_SELECT)) {
        (void)kernel_.take(Op::DataRecv);
        complete(t, Op::DataRecv, 0);  // FIN
        fin_sent = true;
        continue;
      }
      housekeeping(t);
    }
  }

  static tls::Credentials* creds_;
  static tls::ServerContext* server_tls_;
  static tls::ClientContext* client_tls_;
};

tls::Credentials* TlsUploadTest::creds_ = nullptr;
tls::ServerContext* TlsUploadTest::server_tls_ = nullptr;
tls::ClientContext* TlsUploadTest::client_tls_ = nullptr;

TEST_F(TlsUploadTest, CloseNotifyEndsACompleteUpload) {
  for (unsigned seed = 1; seed <= 4; ++seed) {
    rng_.seed(seed);
    const std::string data = testing::random_bytes((2u << 20) + seed * 1234, seed);
    TlsUpload t(env(), data_, DataTlsLink::Setup{server_tls_, {}, "", nullptr},
                open_file("up", O_WRONLY | O_CREAT | O_TRUNC), 0, false);
    t.begin();
    play(t, data, true);
    ASSERT_TRUE(t.core().end().has_value());
    EXPECT_EQ(t.core().end()->result, Result::Done) << seed << " error " << t.core().end()->error;
    EXPECT_EQ(t.core().bytes(), data.size());
    retire(t);
    EXPECT_TRUE(read_back("up") == data) << seed;
  }
  EXPECT_EQ(kernel_.groups_in_use(), 0u);
  expect_fds_back();
}

TEST_F(TlsUploadTest, ABareFinIsATruncation) {
  {
    TlsUpload t(env(), data_, DataTlsLink::Setup{server_tls_, {}, "", nullptr},
                open_file("up", O_WRONLY | O_CREAT | O_TRUNC), 0, false);
    t.begin();
    play(t, testing::random_bytes(300000, 3), false);
    ASSERT_TRUE(t.core().end().has_value());
    EXPECT_EQ(t.core().end()->result, Result::ConnectionLost);
    retire(t);
  }
  EXPECT_EQ(kernel_.groups_in_use(), 0u);
  expect_fds_back();
}

}  // namespace
}  // namespace ringftpd::server
