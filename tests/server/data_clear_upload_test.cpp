// ClearUpload with fake completions: the test plays the kernel's multishot
// receive through the real provided-buffer ring (FakeKernel::pick_buffer) and
// runs the writev for real, with short writes and -ENOBUFS chosen by a seed.
#include "server/data_clear_upload.hpp"

#include <sys/uio.h>

#include <cstring>

#include "tests/server/data_transfer_fixture.hpp"

namespace ringftpd::server {
namespace {

using Result = ftp::TransferOutcome::Result;
using testing::FakeKernel;
using testing::TransferTest;

class ClearUploadTest : public TransferTest {
 protected:
  // Receives `data` through the buffers, then the client's FIN; writes run
  // for real, some of them short.
  void run(ClearUpload& t, const std::string& data) {
    std::size_t sent = 0;
    bool fin = false;
    for (unsigned guard = 0; guard < 100000 && !t.core().has_ended(); ++guard) {
      const bool receive_first = (rng_() % 3) != 0;
      auto recv = kernel_.peek(Op::DataRecv);
      if (recv && (receive_first || kernel_.count(Op::FileWrite) == 0) && !fin) {
        if (sent == data.size()) {
          (void)kernel_.take(Op::DataRecv);
          complete(t, Op::DataRecv, 0);  // FIN ends the multishot receive
          fin = true;
          continue;
        }
        const auto b = kernel_.pick_buffer(recv->buf_group);
        if (!b) {
          (void)kernel_.take(Op::DataRecv);
          complete(t, Op::DataRecv, -ENOBUFS);
          continue;
        }
        const std::size_t n =
            std::min<std::size_t>({b->size, data.size() - sent, 1 + rng_() % (70 * 1024)});
        std::memcpy(b->data, data.data() + sent, n);
        sent += n;
        complete(t, Op::DataRecv, static_cast<int>(n), FakeKernel::buffer_flags(b->id, true));
        continue;
      }
      const auto w = kernel_.take(Op::FileWrite);
      ASSERT_TRUE(w.has_value()) << "neither a receive nor a write in flight";
      EXPECT_EQ(kernel_.count(Op::FileWrite), 0u) << "one writev at a time";
      const auto* iov = reinterpret_cast<const iovec*>(w->addr);
      std::size_t total = 0;
      for (unsigned i = 0; i < w->len; ++i) total += iov[i].iov_len;
      // A short write now and then: the rest must follow at the right offset.
      const std::size_t want = (rng_() % 4 == 0) ? 1 + rng_() % total : total;
      std::size_t done = 0;
      for (unsigned i = 0; i < w->len && done < want; ++i) {
        const std::size_t part = std::min(iov[i].iov_len, want - done);
        EXPECT_EQ(::pwrite(w->fd, iov[i].iov_base, part, static_cast<off_t>(w->off + done)),
                  static_cast<ssize_t>(part));
        done += part;
      }
      complete(t, Op::FileWrite, static_cast<int>(done));
    }
  }
};

TEST_F(ClearUploadTest, EveryByteIsWrittenInOrderWhateverTheOrderOfCompletions) {
  for (unsigned seed = 1; seed <= 10; ++seed) {
    rng_.seed(seed);
    const std::string data = testing::random_bytes((1u << 20) + seed * 777, seed);
    ClearUpload t(env(), data_, open_file("up", O_WRONLY | O_CREAT | O_TRUNC), 0);
    t.begin();
    EXPECT_GE(t.memory_bytes(), UploadReceiver::kBuffers * UploadReceiver::kBufferBytes);
    run(t, data);
    ASSERT_TRUE(t.core().end().has_value());
    EXPECT_EQ(t.core().end()->result, Result::Done) << seed;
    EXPECT_EQ(t.core().bytes(), data.size());
    retire(t);
    EXPECT_EQ(read_back("up"), data) << seed;
  }
  EXPECT_EQ(kernel_.groups_in_use(), 0u) << "every buffer group is given back";
  expect_fds_back();
}

TEST_F(ClearUploadTest, AFullDiskEndsWithStorageFullAndCancelsTheReceive) {
  ClearUpload t(env(), data_, open_file("up", O_WRONLY | O_CREAT | O_TRUNC), 0);
  t.begin();
  const auto recv = kernel_.peek(Op::DataRecv);
  ASSERT_TRUE(recv.has_value());
  const auto b = kernel_.pick_buffer(recv->buf_group);
  ASSERT_TRUE(b.has_value());
  complete(t, Op::DataRecv, 1000, FakeKernel::buffer_flags(b->id, true));
  ASSERT_TRUE(kernel_.take(Op::FileWrite).has_value());
  complete(t, Op::FileWrite, -ENOSPC);
  ASSERT_TRUE(t.core().has_ended());
  EXPECT_EQ(t.core().end()->result, Result::StorageFull);
  EXPECT_FALSE(t.core().is_drained()) << "the multishot receive is still armed";
  retire(t);
  expect_fds_back();
}

TEST_F(ClearUploadTest, NoBufferGroupLeftIsALocalError) {
  std::vector<std::uint16_t> taken;
  while (auto g = kernel_.acquire_buffer_group()) taken.push_back(*g);
  ClearUpload t(env(), data_, open_file("up", O_WRONLY | O_CREAT | O_TRUNC), 0);
  t.begin();
  ASSERT_TRUE(t.core().has_ended());
  EXPECT_EQ(t.core().end()->result, Result::LocalError);
  retire(t);
  for (auto g : taken) kernel_.release_buffer_group(g);
  expect_fds_back();
}

}  // namespace
}  // namespace ringftpd::server
