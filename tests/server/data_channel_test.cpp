// DataChannel against the real kernel: a ring, a temporary root directory and
// a client on 127.0.0.1 in a thread (the active mode: the channel connects to
// the test's listener). Checks every byte, the outcome, and that a finished
// transfer leaves nothing behind: no operation in flight, no fd open, no
// temporary file, whatever was in flight when it ended (DESIGN.md §5).
#include "server/data_channel.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "io/ring.hpp"
#include "tests/tls/tls_test_support.hpp"
#include "tls/credentials.hpp"

namespace ringftpd::server {
namespace {

namespace fs = std::filesystem;
using Result = ftp::TransferOutcome::Result;
using ftp::effect::TransferKind;
constexpr std::size_t MiB = 1 << 20;

std::string random_text(std::size_t n, unsigned seed) {
  std::mt19937 gen(seed);
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(gen());
  return s;
}

std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

void write_file(const fs::path& p, const std::string& data) {
  std::ofstream(p, std::ios::binary) << data;
}

int open_fds() {
  int n = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator("/proc/self/fd")) ++n;
  return n;
}

bool send_all(int fd, std::string_view data) {
  while (!data.empty()) {
    const ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n <= 0) return false;
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

// The client side of one TLS data connection over a blocking socket.
class TlsClient {
 public:
  TlsClient(const tls::ClientContext& ctx, int fd) : fd_(fd), s_(*tls::Session::client(ctx)) {}
  bool handshake() {
    for (;;) {
      const tls::HandshakeStatus hs = s_.handshake();
      if (!flush() || hs == tls::HandshakeStatus::Failed) return false;
      if (hs == tls::HandshakeStatus::Done) return true;
      if (!receive()) return false;
    }
  }
  bool flush() {
    const auto ct = s_.pending_ciphertext();
    const bool ok = send_all(fd_, {reinterpret_cast<const char*>(ct.data()), ct.size()});
    s_.consume_ciphertext(ct.size());
    return ok;
  }
  bool receive() {
    char buf[65536];
    const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    if (n <= 0) return false;
    s_.feed_ciphertext({reinterpret_cast<const std::byte*>(buf), static_cast<std::size_t>(n)});
    return true;
  }
  // Everything up to the server's close_notify; false on a bare EOF.
  bool read_all(std::string& out) {
    std::byte buf[16384];
    for (;;) {
      const tls::IoResult r = s_.read_plaintext(buf);
      if (r.status == tls::IoStatus::Ok) {
        out.append(reinterpret_cast<const char*>(buf), r.bytes);
      } else if (r.status == tls::IoStatus::Closed) {
        return true;
      } else if (r.status == tls::IoStatus::Failed || !flush() || !receive()) {
        return false;
      }
    }
  }
  bool write(std::string_view data) {
    for (std::size_t off = 0; off < data.size(); off += 256 * 1024) {
      const auto chunk = data.substr(off, 256 * 1024);
      const auto* p = reinterpret_cast<const std::byte*>(chunk.data());
      if (s_.write_plaintext({p, chunk.size()}).status != tls::IoStatus::Ok || !flush()) {
        return false;
      }
    }
    return true;
  }
  bool close_notify() { return s_.shutdown() == tls::IoStatus::Ok && flush(); }

 private:
  int fd_;
  tls::Session s_;
};

class DataChannelTest : public ::testing::Test {
 protected:
  DataChannelTest() : root_(::open(dir_.path().c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC)) {
    cfg_.data.require_session_reuse = false;  // no control connection here
    cfg_.transfer.atomic_uploads = true;
    listener_ = io::UniqueFd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(listener_.get(), reinterpret_cast<sockaddr*>(&a), sizeof a);
    ::listen(listener_.get(), 4);
    target_ = *io::local_address(listener_.get());
    fds_at_start_ = open_fds();
  }

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

  fs::path path(const std::string& name) const { return dir_.path() / name; }

  // Starts a transfer; the client runs `client(fd)` on the accepted data
  // connection in a thread.
  void start(TransferKind kind, const std::string& name, bool protect,
             std::function<void(int)> client, std::uint64_t offset = 0,
             ftp::TransferType type = ftp::TransferType::Image) {
    client_ = std::thread([this, client = std::move(client)] {
      io::UniqueFd fd(::accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC));
      timeval tv{10, 0};
      setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
      setsockopt(fd.get(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
      if (fd) client(fd.get());
    });
    ch_.set_active(target_);
    EXPECT_TRUE(ch_.is_idle_for_transfer());
    ASSERT_TRUE(ch_.start(root_.get(), 0xFF,
                          ftp::effect::Transfer{kind, "/" + name, name, offset, type, protect}, {},
                          ""));
    EXPECT_FALSE(ch_.is_idle_for_transfer());
    collect(ch_.next_event());
  }

  void collect(DataEvent e) {
    for (; e.kind != DataEvent::Kind::None; e = ch_.next_event()) {
      if (e.kind == DataEvent::Kind::Finished) outcome_ = e.outcome;
      if (e.kind == DataEvent::Kind::Starting) ++starting_;
    }
  }

  // Runs the loop until `done` or the time is up.
  void drive(const std::function<bool()>& done,
             std::chrono::milliseconds limit = std::chrono::seconds(20)) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (!done() && std::chrono::steady_clock::now() < deadline) {
      ring_.submit_and_wait(50);
      ring_.for_each_completion([this](std::uint64_t data, int res, std::uint32_t flags) {
        if (data == io::kIgnoredTag) return;
        submit_.completed(flags);
        collect(ch_.on_completion(static_cast<Op>(io::OpTag::unpack(data).op), res, flags));
      });
    }
  }

  // Waits for Finished and the client thread; checks nothing is left behind.
  ftp::TransferOutcome finish() {
    drive([this] { return outcome_.has_value(); });
    if (client_.joinable()) client_.join();
    EXPECT_TRUE(outcome_.has_value());
    EXPECT_EQ(submit_.in_flight(), 0u);
    EXPECT_TRUE(ch_.is_idle());
    EXPECT_FALSE(ch_.is_transferring());
    EXPECT_EQ(open_fds(), fds_at_start_);
    for (const auto& e : fs::directory_iterator(dir_.path())) {
      EXPECT_EQ(e.path().filename().string().find(".ringftpd-"), std::string::npos) << e.path();
    }
    return outcome_.value_or(ftp::TransferOutcome{Result::LocalError, 0, 0, {}});
  }

  static tls::Credentials* creds_;
  static tls::ServerContext* server_tls_;
  static tls::ClientContext* client_tls_;

  tls::testing::TempDir dir_;
  io::UniqueFd root_;
  config::Config cfg_;
  io::Ring ring_{256};
  OpSubmitter submit_{ring_, io::OpTag{1, 1, 0}};
  PassivePorts ports_{config::PortRange{40000, 40001}};
  Log log_{config::LogLevel::Error, ""};
  std::string who_ = "test";
  DataChannel ch_{submit_, cfg_, ports_, log_, who_, server_tls_};
  io::UniqueFd listener_;
  io::SocketAddress target_;
  std::thread client_;
  std::optional<ftp::TransferOutcome> outcome_;
  int starting_ = 0;
  int fds_at_start_ = 0;
};

tls::Credentials* DataChannelTest::creds_ = nullptr;
tls::ServerContext* DataChannelTest::server_tls_ = nullptr;
tls::ClientContext* DataChannelTest::client_tls_ = nullptr;

// ---------------------------------------------------------------- clear

TEST_F(DataChannelTest, ClearDownloadSendsEveryByteThroughTheSplicePipeline) {
  const std::string data = random_text(5 * MiB + 123, 1);
  write_file(path("f.bin"), data);
  std::string got;
  start(TransferKind::Retr, "f.bin", false, [&](int fd) {
    char buf[65536];
    for (ssize_t n; (n = ::recv(fd, buf, sizeof buf, 0)) > 0;) got.append(buf, n);
  });
  const auto out = finish();
  EXPECT_EQ(out.result, Result::Done);
  EXPECT_EQ(out.bytes, data.size());
  EXPECT_EQ(got, data);
  EXPECT_EQ(starting_, 1);
}

TEST_F(DataChannelTest, ClearDownloadFromARestOffset) {
  const std::string data = random_text(3 * MiB + 5, 2);
  write_file(path("f.bin"), data);
  std::string got;
  start(
      TransferKind::Retr, "f.bin", false,
      [&](int fd) {
        char buf[65536];
        for (ssize_t n; (n = ::recv(fd, buf, sizeof buf, 0)) > 0;) got.append(buf, n);
      },
      1234567);
  EXPECT_EQ(finish().result, Result::Done);
  EXPECT_EQ(got, data.substr(1234567));
}

TEST_F(DataChannelTest, ClearUploadIsCompleteAndReplacesTheTargetAtTheEnd) {
  write_file(path("up.bin"), "old");
  const std::string data = random_text(6 * MiB + 7, 3);
  start(TransferKind::Stor, "up.bin", false, [&](int fd) { send_all(fd, data); });
  const auto out = finish();
  EXPECT_EQ(out.result, Result::Done);
  EXPECT_EQ(out.bytes, data.size());
  EXPECT_EQ(read_file(path("up.bin")), data);
}

TEST_F(DataChannelTest, ClearAppendContinuesTheFile) {
  write_file(path("log.bin"), "head:");
  const std::string data = random_text(MiB + 1, 4);
  start(TransferKind::Appe, "log.bin", false, [&](int fd) { send_all(fd, data); });
  EXPECT_EQ(finish().result, Result::Done);
  EXPECT_EQ(read_file(path("log.bin")), "head:" + data);
}

TEST_F(DataChannelTest, EmptyUploadAndEmptyDownload) {
  write_file(path("empty.bin"), "");
  start(TransferKind::Retr, "empty.bin", false, [](int fd) {
    char c;
    (void)::recv(fd, &c, 1, 0);
  });
  EXPECT_EQ(finish().result, Result::Done);
  outcome_.reset();
  start(TransferKind::Stor, "new.bin", false, [](int) {});
  EXPECT_EQ(finish().result, Result::Done);
  EXPECT_EQ(read_file(path("new.bin")), "");
}

TEST_F(DataChannelTest, AbortMidDownloadWaitsForEveryOperationInFlight) {
  write_file(path("f.bin"), random_text(16 * MiB, 5));
  std::atomic<bool> stop{false};
  start(TransferKind::Retr, "f.bin", false, [&](int fd) {
    char buf[4096];
    (void)::recv(fd, buf, sizeof buf, 0);  // then stall: the splices block
    while (!stop) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  });
  drive([] { return false; }, std::chrono::milliseconds(300));  // cannot finish
  ch_.abort();
  collect(ch_.next_event());
  drive([this] { return outcome_.has_value(); });
  stop = true;
  const auto out = finish();
  EXPECT_EQ(out.result, Result::Aborted);
}

TEST_F(DataChannelTest, AbortMidUploadKeepsThePreviousFile) {
  write_file(path("up.bin"), "previous");
  std::atomic<bool> stop{false};
  start(TransferKind::Stor, "up.bin", false, [&](int fd) {
    send_all(fd, random_text(2 * MiB, 6));
    while (!stop) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  });
  drive([] { return false; }, std::chrono::milliseconds(300));
  ch_.abort();
  collect(ch_.next_event());
  drive([this] { return outcome_.has_value(); });
  stop = true;
  EXPECT_EQ(finish().result, Result::Aborted);
  EXPECT_EQ(read_file(path("up.bin")), "previous");
}

// ---------------------------------------------------------------- protected

TEST_F(DataChannelTest, ProtectedDownloadSealsEveryByte) {
  const std::string data = random_text(7 * MiB + 999, 7);
  write_file(path("f.bin"), data);
  std::string got;
  bool clean = false;
  start(TransferKind::Retr, "f.bin", true, [&](int fd) {
    TlsClient c(*client_tls_, fd);
    clean = c.handshake() && c.read_all(got);
  });
  const auto out = finish();
  EXPECT_EQ(out.result, Result::Done);
  EXPECT_EQ(out.bytes, data.size());
  EXPECT_TRUE(clean);
  EXPECT_EQ(got, data);
}

TEST_F(DataChannelTest, ProtectedAsciiDownloadConvertsLineEnds) {
  std::string text;
  for (int i = 0; i < 40000; ++i) text += "line " + std::to_string(i) + "\n";
  write_file(path("t.txt"), text);
  std::string got;
  start(
      TransferKind::Retr, "t.txt", true,
      [&](int fd) {
        TlsClient c(*client_tls_, fd);
        (void)(c.handshake() && c.read_all(got));
      },
      0, ftp::TransferType::Ascii);
  EXPECT_EQ(finish().result, Result::Done);
  std::string expected;
  for (char ch : text) expected += ch == '\n' ? std::string("\r\n") : std::string(1, ch);
  EXPECT_EQ(got, expected);
}

TEST_F(DataChannelTest, ProtectedUploadsAreCompleteEveryTime) {
  // Several runs: where the last record lands relative to a full plaintext
  // buffer varies with timing.
  for (unsigned run = 0; run < 4; ++run) {
    const std::string data = random_text(5 * MiB + 321 * run, 8 + run);
    bool clean = false;
    outcome_.reset();
    start(TransferKind::Stor, "up.bin", true, [&](int fd) {
      TlsClient c(*client_tls_, fd);
      std::string rest;
      clean = c.handshake() && c.write(data) && c.close_notify() && c.read_all(rest);
    });
    const auto out = finish();
    EXPECT_EQ(out.result, Result::Done) << run;
    EXPECT_EQ(out.bytes, data.size());
    EXPECT_TRUE(clean) << "the server answers close_notify with its own";
    EXPECT_EQ(read_file(path("up.bin")), data) << run;
  }
}

TEST_F(DataChannelTest, ProtectedUploadEndingInCloseNotifyAndFinAtOnce) {
  // curl sends its close_notify and closes at once: the FIN may be seen while
  // records (and the close_notify) still wait inside TLS for buffer room.
  for (unsigned run = 0; run < 8; ++run) {
    const std::string data = random_text(2 * MiB + 16384 * run + 100, 20 + run);
    outcome_.reset();
    start(TransferKind::Stor, "up.bin", true, [&](int fd) {
      TlsClient c(*client_tls_, fd);
      if (c.handshake() && c.write(data) && c.close_notify()) ::shutdown(fd, SHUT_WR);
      char buf[256];
      while (::recv(fd, buf, sizeof buf, 0) > 0) {
      }
    });
    const auto out = finish();
    EXPECT_EQ(out.result, Result::Done) << run;
    EXPECT_EQ(read_file(path("up.bin")), data) << run;
  }
}

TEST_F(DataChannelTest, ProtectedAsciiUploadConvertsLineEnds) {
  std::string text;
  for (int i = 0; i < 30000; ++i) text += "row " + std::to_string(i) + "\r\n";
  text += "\r";  // a lone CR at the very end stays
  start(
      TransferKind::Stor, "t.txt", true,
      [&](int fd) {
        TlsClient c(*client_tls_, fd);
        std::string rest;
        (void)(c.handshake() && c.write(text) && c.close_notify() && c.read_all(rest));
      },
      0, ftp::TransferType::Ascii);
  EXPECT_EQ(finish().result, Result::Done);
  std::string expected;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (!(text[i] == '\r' && i + 1 < text.size() && text[i + 1] == '\n')) expected += text[i];
  }
  EXPECT_EQ(read_file(path("t.txt")), expected);
}

TEST_F(DataChannelTest, ProtectedUploadEndingInABareFinIsATruncation) {
  write_file(path("up.bin"), "previous");
  start(TransferKind::Stor, "up.bin", true, [&](int fd) {
    TlsClient c(*client_tls_, fd);
    if (c.handshake()) (void)c.write(random_text(3 * MiB, 9));
    ::shutdown(fd, SHUT_WR);  // no close_notify
    char buf[256];
    while (::recv(fd, buf, sizeof buf, 0) > 0) {
    }
  });
  EXPECT_EQ(finish().result, Result::ConnectionLost);
  EXPECT_EQ(read_file(path("up.bin")), "previous");
}

TEST_F(DataChannelTest, AbortMidProtectedDownload) {
  write_file(path("f.bin"), random_text(16 * MiB, 10));
  std::atomic<bool> stop{false};
  start(TransferKind::Retr, "f.bin", true, [&](int fd) {
    TlsClient c(*client_tls_, fd);
    (void)c.handshake();
    while (!stop) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  });
  drive([] { return false; }, std::chrono::milliseconds(300));
  ch_.abort();
  collect(ch_.next_event());
  drive([this] { return outcome_.has_value(); });
  stop = true;
  EXPECT_EQ(finish().result, Result::Aborted);
}

}  // namespace
}  // namespace ringftpd::server
