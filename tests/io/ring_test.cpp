// io::Ring and io::BufferRing against the real kernel: socketpairs, multishot
// receive into provided buffers, cancellation, full submission queues.
#include "io/ring.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <optional>
#include <string>
#include <system_error>
#include <vector>

#include "io/buffer_ring.hpp"
#include "io/unique_fd.hpp"

namespace ringftpd::io {
namespace {

struct Completion {
  std::uint64_t data;
  int res;
  std::uint32_t flags;
};

std::vector<Completion> wait_for(Ring& ring, std::size_t at_least) {
  std::vector<Completion> out;
  for (int rounds = 0; rounds < 100 && out.size() < at_least; ++rounds) {
    ring.submit_and_wait(100);
    ring.for_each_completion([&](std::uint64_t d, int r, std::uint32_t f) {
      out.push_back({d, r, f});
    });
  }
  return out;
}

std::pair<UniqueFd, UniqueFd> socket_pair() {
  int fds[2];
  EXPECT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
  return {UniqueFd(fds[0]), UniqueFd(fds[1])};
}

TEST(Ring, ProbesAllRequiredOperations) {
  Ring ring(64);
  EXPECT_TRUE(missing_ops(ring.raw()).empty());
  EXPECT_FALSE(required_ops().empty());
}

TEST(Ring, SqeNeverNullWhenQueueIsFull) {
  Ring ring(8);
  for (int i = 0; i < 100; ++i) io_uring_prep_nop(ring.sqe(static_cast<std::uint64_t>(i)));
  const auto done = wait_for(ring, 100);
  ASSERT_EQ(done.size(), 100u);
  std::vector<bool> seen(100);
  for (const auto& c : done) seen.at(c.data) = true;
  for (bool s : seen) EXPECT_TRUE(s);
}

TEST(Ring, SubmitAndWaitTimesOut) {
  Ring ring(8);
  const int rc = ring.submit_and_wait(20);
  EXPECT_TRUE(rc == -ETIME || rc == 0) << rc;
}

TEST(BufferRing, RejectsCountThatIsNotPowerOfTwo) {
  Ring ring(8);
  EXPECT_THROW(BufferRing(ring, 1, 3, 64), std::system_error);
}

TEST(BufferRing, MultishotReceiveDeliversEveryByteInOrder) {
  Ring ring(64);
  BufferRing buffers(ring, 7, 8, 16);  // small buffers: many completions
  auto [a, b] = socket_pair();
  io_uring_sqe* sqe = ring.sqe(1);
  io_uring_prep_recv_multishot(sqe, b.get(), nullptr, 0, 0);
  sqe->flags |= IOSQE_BUFFER_SELECT;
  sqe->buf_group = buffers.group_id();

  std::string sent;
  for (int i = 0; i < 50; ++i) sent += "line " + std::to_string(i) + "\r\n";
  ASSERT_EQ(write(a.get(), sent.data(), sent.size()), static_cast<ssize_t>(sent.size()));
  a.reset();  // EOF ends the multishot receive with res 0

  std::string got;
  bool eof = false;
  for (int rounds = 0; rounds < 200 && !eof; ++rounds) {
    ring.submit_and_wait(100);
    bool rearm = false;
    ring.for_each_completion([&](std::uint64_t, int res, std::uint32_t flags) {
      if (res > 0) {
        const auto id = buffers.buffer_id(flags);
        ASSERT_TRUE(id.has_value());
        const auto bytes = buffers.bytes(*id, static_cast<std::size_t>(res));
        got.append(reinterpret_cast<const char*>(bytes.data()), bytes.size());
        buffers.recycle(*id);
      } else if (res == 0) {
        eof = true;
      }
      if (!(flags & IORING_CQE_F_MORE) && res != 0) rearm = true;  // -ENOBUFS or kernel's choice
    });
    if (rearm && !eof) {
      io_uring_sqe* again = ring.sqe(1);
      io_uring_prep_recv_multishot(again, b.get(), nullptr, 0, 0);
      again->flags |= IOSQE_BUFFER_SELECT;
      again->buf_group = buffers.group_id();
    }
  }
  EXPECT_TRUE(eof);
  EXPECT_EQ(got, sent);
}

TEST(BufferRing, MakeReportsErrorsInsteadOfThrowing) {
  Ring ring(8);
  std::error_code error;
  EXPECT_EQ(BufferRing::make(ring, 300, 3, 64, error), nullptr);
  EXPECT_EQ(error, std::make_error_code(std::errc::invalid_argument));
  error.clear();
  const auto buffers = BufferRing::make(ring, 300, 4, 64, error);
  ASSERT_NE(buffers, nullptr);
  EXPECT_FALSE(error);
  EXPECT_EQ(buffers->count(), 4u);
  EXPECT_EQ(buffers->data(2), buffers->bytes(2, 64).data());
  // The group id is taken on this ring until the buffer ring is gone.
  EXPECT_EQ(BufferRing::make(ring, 300, 4, 64, error), nullptr);
  EXPECT_TRUE(error);
}

TEST(Ring, BufferGroupsAreDistinctAndComeBack) {
  Ring ring(8);
  std::vector<bool> seen(65536);
  unsigned taken = 0;
  while (const auto id = ring.acquire_buffer_group()) {
    ASSERT_GE(*id, Ring::kFirstDynamicBufferGroup);
    ASSERT_FALSE(seen[*id]) << *id;
    seen[*id] = true;
    ++taken;
  }
  EXPECT_EQ(taken, 65536u - Ring::kFirstDynamicBufferGroup);
  ring.release_buffer_group(1000);
  EXPECT_EQ(ring.acquire_buffer_group(), std::optional<std::uint16_t>(1000));
  EXPECT_EQ(ring.acquire_buffer_group(), std::nullopt);
  ring.release_buffer_group(7);  // below the dynamic range: never handed out, ignored
  EXPECT_EQ(ring.acquire_buffer_group(), std::nullopt);
}

TEST(Ring, BufferGroupsAreNotReusedAtOnce) {
  Ring ring(8);
  const auto a = ring.acquire_buffer_group();
  ASSERT_TRUE(a);
  ring.release_buffer_group(*a);
  const auto b = ring.acquire_buffer_group();
  ASSERT_TRUE(b);
  EXPECT_NE(*a, *b);  // a late completion naming the old group finds no ring
}

TEST(BufferRing, RunsDryWithENOBUFSAndResumesAfterRecycle) {
  // The upload path's backpressure: buffers held back end the multishot
  // receive with -ENOBUFS; the bytes wait in the socket until a re-arm.
  Ring ring(16);
  BufferRing buffers(ring, 9, 2, 8);
  auto [a, b] = socket_pair();
  const int b_fd = b.get();  // clang 14 cannot capture a structured binding
  const auto arm = [&] {
    io_uring_sqe* sqe = ring.sqe(1);
    io_uring_prep_recv_multishot(sqe, b_fd, nullptr, 0, 0);
    sqe->flags |= IOSQE_BUFFER_SELECT;
    sqe->buf_group = buffers.group_id();
  };
  const std::string sent = "0123456789abcdefghijklmnopqrstuvwxyz";
  ASSERT_EQ(write(a.get(), sent.data(), sent.size()), static_cast<ssize_t>(sent.size()));
  a.reset();
  std::string got;
  std::vector<std::uint16_t> held;
  bool eof = false;
  int dry = 0;
  arm();
  for (int rounds = 0; rounds < 100 && !eof; ++rounds) {
    bool armed = true;
    for (const auto& c : wait_for(ring, 1)) {
      if (!(c.flags & IORING_CQE_F_MORE)) armed = false;
      if (c.res > 0) {
        const auto id = buffers.buffer_id(c.flags);
        ASSERT_TRUE(id);
        const auto bytes = buffers.bytes(*id, static_cast<std::size_t>(c.res));
        got.append(reinterpret_cast<const char*>(bytes.data()), bytes.size());
        held.push_back(*id);
      } else if (c.res == 0) {
        eof = true;
      } else {
        ASSERT_EQ(c.res, -ENOBUFS);
        ++dry;
      }
    }
    if (!armed && !eof) {
      for (const auto id : held) buffers.recycle(id);
      held.clear();
      arm();
    }
  }
  EXPECT_TRUE(eof);
  EXPECT_GT(dry, 0);
  EXPECT_EQ(got, sent);
}

TEST(Ring, CancelFdEndsPendingReceiveWithECANCELED) {
  Ring ring(16);
  BufferRing buffers(ring, 2, 4, 64);
  auto [a, b] = socket_pair();
  io_uring_sqe* sqe = ring.sqe(5);
  io_uring_prep_recv_multishot(sqe, b.get(), nullptr, 0, 0);
  sqe->flags |= IOSQE_BUFFER_SELECT;
  sqe->buf_group = buffers.group_id();
  ring.submit_and_wait(10);
  io_uring_prep_cancel_fd(ring.sqe(6), b.get(), IORING_ASYNC_CANCEL_ALL);
  const auto done = wait_for(ring, 2);
  bool cancelled = false;
  for (const auto& c : done) {
    if (c.data == 5) {
      EXPECT_EQ(c.res, -ECANCELED);
      EXPECT_FALSE(c.flags & IORING_CQE_F_MORE);
      cancelled = true;
    }
  }
  EXPECT_TRUE(cancelled);
}

// ---------------------------------------------------------------- restrictions

RingRestrictions nop_and_read_only() {
  RingRestrictions r;
  r.sqe_ops = {IORING_OP_NOP, IORING_OP_READ};
  r.register_ops = {IORING_REGISTER_PBUF_RING, IORING_UNREGISTER_PBUF_RING};
  r.sqe_flags = IOSQE_IO_HARDLINK;
  return r;
}

int result_of(Ring& ring, std::uint64_t data) {
  for (const auto& c : wait_for(ring, 1)) {
    if (c.data == data) return c.res;
  }
  return 1;  // no completion: not a result any operation here can have
}

TEST(RestrictedRing, RunsAllowedOpsAndRefusesOthersWithEACCES) {
  Ring ring(8, nop_and_read_only());
  EXPECT_TRUE(ring.is_restricted());
  int fds[2];
  ASSERT_EQ(pipe2(fds, O_CLOEXEC), 0);
  UniqueFd r(fds[0]);
  UniqueFd w(fds[1]);
  ASSERT_EQ(write(w.get(), "x", 1), 1);
  char c = 0;
  io_uring_prep_read(ring.sqe(1), r.get(), &c, 1, 0);
  EXPECT_EQ(result_of(ring, 1), 1);
  EXPECT_EQ(c, 'x');
  // WRITE is not on the list: the kernel refuses it, the byte never moves.
  io_uring_prep_write(ring.sqe(2), w.get(), "y", 1, 0);
  EXPECT_EQ(result_of(ring, 2), -EACCES);
  io_uring_prep_openat(ring.sqe(3), AT_FDCWD, "/", O_PATH | O_DIRECTORY | O_CLOEXEC, 0);
  EXPECT_EQ(result_of(ring, 3), -EACCES);
  io_uring_prep_close(ring.sqe(4), r.get());
  EXPECT_EQ(result_of(ring, 4), -EACCES);
  EXPECT_EQ(fcntl(r.get(), F_GETFD), FD_CLOEXEC);  // still open
}

TEST(RestrictedRing, RefusesSqeFlagsNotAllowed) {
  Ring ring(8, nop_and_read_only());
  io_uring_sqe* a = ring.sqe(1);
  a->flags |= IOSQE_IO_HARDLINK;  // allowed
  io_uring_prep_nop(ring.sqe(2));
  io_uring_sqe* b = ring.sqe(3);
  b->flags |= IOSQE_ASYNC;  // not allowed
  const auto done = wait_for(ring, 3);
  ASSERT_EQ(done.size(), 3u);
  for (const auto& d : done) EXPECT_EQ(d.res, d.data == 3 ? -EACCES : 0) << d.data;
}

TEST(RestrictedRing, AllowsListedRegistrationsOnly) {
  Ring ring(8, nop_and_read_only());
  {
    BufferRing buffers(ring, 3, 4, 64);  // PBUF_RING and its removal are listed
  }
  int fds[2];
  ASSERT_EQ(pipe2(fds, O_CLOEXEC), 0);
  UniqueFd r(fds[0]);
  UniqueFd w(fds[1]);
  EXPECT_EQ(io_uring_register_files(ring.raw(), fds, 2), -EACCES);
  RingRestrictions none;
  none.sqe_ops = {IORING_OP_NOP};
  Ring bare(8, none);
  EXPECT_THROW(BufferRing(bare, 3, 4, 64), std::system_error);
}

TEST(RestrictedRing, UnrestrictedRingIsNotAffected) {
  Ring ring(8);
  EXPECT_FALSE(ring.is_restricted());
  io_uring_prep_openat(ring.sqe(1), AT_FDCWD, "/", O_PATH | O_DIRECTORY | O_CLOEXEC, 0);
  const int fd = result_of(ring, 1);
  ASSERT_GE(fd, 0);
  close(fd);
}

// ---------------------------------------------------------------- submission failures

TEST(Ring, FullQueueHandsOutPendingSlotsWithoutEnteringTheKernel) {
  Ring ring(8);
  for (int i = 0; i < 20; ++i) io_uring_prep_nop(ring.sqe(static_cast<std::uint64_t>(i)));
  EXPECT_EQ(ring.pending(), 12u);
  // Nothing reached the kernel yet: no completion can be there.
  EXPECT_EQ(ring.for_each_completion([](std::uint64_t, int, std::uint32_t) {}), 0u);
  const auto done = wait_for(ring, 20);
  EXPECT_EQ(done.size(), 20u);
  EXPECT_EQ(ring.pending(), 0u);
  EXPECT_EQ(ring.fatal_error(), 0);
}

TEST(Ring, LinkChainAcrossAFullQueueIsSubmittedWhole) {
  // The 8th SQE starts a chain (a read that fails, linked to a nop) and the
  // queue is full when the nop is asked for. Split in two submissions, the
  // nop would run (res 0); kept whole, the failed read cancels it.
  Ring ring(8);
  for (int i = 0; i < 7; ++i) io_uring_prep_nop(ring.sqe(100));
  char c = 0;
  io_uring_sqe* head = ring.sqe(1);
  io_uring_prep_read(head, -1, &c, 1, 0);
  head->flags |= IOSQE_IO_LINK;
  io_uring_prep_nop(ring.sqe(2));
  EXPECT_EQ(ring.pending(), 2u);  // the chain's head moved out of the full queue
  const auto done = wait_for(ring, 9);
  ASSERT_EQ(done.size(), 9u);
  for (const auto& d : done) {
    const int want = d.data == 1 ? -EBADF : d.data == 2 ? -ECANCELED : 0;
    EXPECT_EQ(d.res, want) << d.data;
  }
}

TEST(Ring, EveryCompletionArrivesWhenTheCompletionQueueOverflows) {
  // CQ of 32 entries, 600 operations submitted before anything is reaped:
  // the kernel keeps the overflow (NODROP) and reaping brings it all back.
  Ring ring(8);
  constexpr std::size_t kOps = 600;
  for (std::size_t i = 0; i < kOps; ++i) io_uring_prep_nop(ring.sqe(i));
  const int first = ring.submit_and_wait(0);
  ASSERT_TRUE(first == 0 || first == -ETIME) << first;
  std::vector<int> seen(kOps);
  std::size_t total = 0;
  for (int rounds = 0; rounds < 100 && total < kOps; ++rounds) {
    ring.for_each_completion([&](std::uint64_t d, int res, std::uint32_t) {
      EXPECT_EQ(res, 0);
      ++seen.at(d);
      ++total;
    });
    if (total < kOps) {
      const int rc = ring.submit_and_wait(100);
      ASSERT_TRUE(rc == 0 || rc == -ETIME || rc == -EINTR) << rc;
    }
  }
  EXPECT_EQ(total, kOps);
  for (int n : seen) EXPECT_EQ(n, 1);
  EXPECT_EQ(ring.fatal_error(), 0);
}

TEST(Ring, OverflowingThePendingListBreaksTheRing) {
  Ring ring(8);
  const std::size_t limit = 8 + Ring::kMaxPendingSqes;
  for (std::size_t i = 0; i < limit; ++i) io_uring_prep_nop(ring.sqe(1));
  EXPECT_EQ(ring.fatal_error(), 0);
  // One more cannot be kept: the ring is broken, the caller still gets a slot.
  io_uring_sqe* extra = ring.sqe(2);
  ASSERT_NE(extra, nullptr);
  io_uring_prep_nop(extra);
  EXPECT_EQ(ring.fatal_error(), -ENOBUFS);
  EXPECT_EQ(ring.submit_and_wait(0), -ENOBUFS);
  EXPECT_EQ(ring.submit_and_wait(0), -ENOBUFS);  // sticky
}

TEST(UniqueFd, ClosesOnceAndMovesOwnership) {
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  UniqueFd r(fds[0]);
  UniqueFd w(fds[1]);
  UniqueFd moved = std::move(w);
  EXPECT_FALSE(w.valid());
  EXPECT_TRUE(moved.valid());
  moved.reset();
  char c;
  EXPECT_EQ(read(r.get(), &c, 1), 0);  // the writer is closed: EOF
}

}  // namespace
}  // namespace ringftpd::io
