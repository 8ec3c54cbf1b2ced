// server/line_sink: whole lines, never blocking, bounded, counted drops.
#include "server/line_sink.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace ringftpd::server {
namespace {

using namespace std::chrono_literals;

struct Pipe {
  int r = -1, w = -1;
  Pipe() {
    int p[2];
    EXPECT_EQ(pipe2(p, O_CLOEXEC), 0);
    r = p[0];
    w = p[1];
  }
  ~Pipe() {
    if (r >= 0) close(r);
    if (w >= 0) close(w);
  }
};

// Everything readable now (the read end is made non-blocking).
std::string read_all(int fd) {
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
  std::string out;
  char buf[65536];
  for (;;) {
    const ssize_t n = read(fd, buf, sizeof buf);
    if (n <= 0) break;
    out.append(buf, static_cast<std::size_t>(n));
  }
  return out;
}

std::string numbered(int i, std::size_t width) {
  std::string line = "line " + std::to_string(i) + " ";
  line.resize(width - 1, 'x');
  return line + "\n";
}

// Every line of `text` is one of the lines written, whole, in order.
void expect_whole_lines_in_order(const std::string& text, std::size_t width) {
  int last = -1;
  std::size_t start = 0;
  while (start < text.size()) {
    const std::size_t end = text.find('\n', start);
    ASSERT_NE(end, std::string::npos) << "a cut line at the end";
    const std::string line = text.substr(start, end - start + 1);
    ASSERT_EQ(line.size(), width) << line;
    const int n = std::stoi(line.substr(5));
    ASSERT_EQ(line, numbered(n, width));
    ASSERT_GT(n, last) << "lines out of order";
    last = n;
    start = end + 1;
  }
}

TEST(LineSink, APipeNobodyReadsNeverBlocksAndDropsAreCounted) {
  Pipe p;
  // The sink owns a fresh non-blocking description of the pipe's write end
  // (as for_stderr makes one), the test keeps the blocking one.
  const int fd =
      open(("/proc/self/fd/" + std::to_string(p.w)).c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  LineSink sink(fd, true, LineSink::Mode::Write);
  const int pipe_bytes = fcntl(p.w, F_GETPIPE_SZ);
  ASSERT_GT(pipe_bytes, 0);
  constexpr std::size_t kWidth = 100;
  // Far more than the pipe and the queue hold; a blocking write would hang
  // here forever (nobody reads). The bound is the test's timeout.
  const int lines = static_cast<int>((pipe_bytes + LineSink::kQueueBytes) / kWidth) + 5000;
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < lines; ++i) sink.write_line(numbered(i, kWidth));
  EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
  EXPECT_GT(sink.queued_bytes(), LineSink::kQueueBytes - kWidth);
  EXPECT_LE(sink.queued_bytes(), LineSink::kQueueBytes);
  const std::uint64_t dropped = sink.take_dropped();
  const std::uint64_t queued = sink.queued_bytes() / kWidth;
  EXPECT_GT(dropped, 0u);
  EXPECT_EQ(sink.take_dropped(), 0u);  // taken once

  // The reader drains: what the pipe held, what was queued, and what is
  // written after arrive whole and in order.
  std::string got = read_all(p.r);
  const std::uint64_t in_pipe = got.size() / kWidth;
  // Every line was in the pipe, in the queue, or counted as dropped.
  EXPECT_EQ(in_pipe + queued + dropped, static_cast<std::uint64_t>(lines));
  // The pipe takes 64 KiB at a time: flush and read until the queue is empty
  // (bounded: each round moves a pipe's worth).
  const auto drain_by_reading = [&] {
    for (int round = 0; round < 100 && sink.queued_bytes() > 0; ++round) {
      sink.flush();
      got += read_all(p.r);
    }
  };
  drain_by_reading();
  for (int i = lines; i < lines + 10; ++i) sink.write_line(numbered(i, kWidth));
  drain_by_reading();
  got += read_all(p.r);
  EXPECT_EQ(sink.queued_bytes(), 0u);
  expect_whole_lines_in_order(got, kWidth);
  EXPECT_EQ(got.size() / kWidth, in_pipe + queued + 10);
  EXPECT_EQ(got.substr(got.size() - kWidth), numbered(lines + 9, kWidth));
  EXPECT_EQ(sink.take_dropped(), 0u);
  // The test's own (shared) description never became non-blocking.
  EXPECT_EQ(fcntl(p.w, F_GETFL) & O_NONBLOCK, 0);
}

TEST(LineSink, StderrOnAPipeIsReopenedWithoutTouchingTheSharedDescription) {
  Pipe p;
  const int saved = dup(STDERR_FILENO);
  ASSERT_GE(saved, 0);
  ASSERT_EQ(dup2(p.w, STDERR_FILENO), STDERR_FILENO);
  {
    LineSink sink = LineSink::for_stderr();
    EXPECT_EQ(sink.mode(), LineSink::Mode::Write);
    EXPECT_NE(sink.fd(), STDERR_FILENO);
    EXPECT_NE(fcntl(sink.fd(), F_GETFL) & O_NONBLOCK, 0);
    EXPECT_EQ(fcntl(STDERR_FILENO, F_GETFL) & O_NONBLOCK, 0);
    sink.write_line("to stderr\n");
    sink.write_line("no newline");
  }
  ASSERT_EQ(dup2(saved, STDERR_FILENO), STDERR_FILENO);
  close(saved);
  EXPECT_EQ(read_all(p.r), "to stderr\nno newline\n");
}

TEST(LineSink, StderrOnASocketUsesSendWithoutBlocking) {
  int sv[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
  const int saved = dup(STDERR_FILENO);
  ASSERT_EQ(dup2(sv[0], STDERR_FILENO), STDERR_FILENO);
  std::uint64_t dropped = 0;
  {
    LineSink sink = LineSink::for_stderr();
    EXPECT_EQ(sink.mode(), LineSink::Mode::Send);
    EXPECT_EQ(sink.fd(), STDERR_FILENO);
    // Nobody reads the other end: the socket buffer fills, then the queue.
    for (int i = 0; i < 20000; ++i) sink.write_line(numbered(i, 200));
    dropped = sink.take_dropped();
  }
  ASSERT_EQ(dup2(saved, STDERR_FILENO), STDERR_FILENO);
  close(saved);
  EXPECT_GT(dropped, 0u);
  EXPECT_EQ(fcntl(sv[0], F_GETFL) & O_NONBLOCK, 0);
  close(sv[0]);
  close(sv[1]);
}

TEST(LineSink, LongLinesAreCutAndABrokenPipeCountsDrops) {
  Pipe p;
  const int fd =
      open(("/proc/self/fd/" + std::to_string(p.w)).c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  LineSink sink(fd, true, LineSink::Mode::Write);
  sink.write_line(std::string(10000, 'a') + "\n");
  const std::string got = read_all(p.r);
  ASSERT_EQ(got.size(), LineSink::kMaxLineBytes);
  EXPECT_EQ(got.substr(got.size() - 4), "...\n");
  // The reader goes away: lines fail with EPIPE (SIGPIPE blocked, as in the
  // server) and are counted, never retried forever.
  sigset_t pipe_set;
  sigemptyset(&pipe_set);
  sigaddset(&pipe_set, SIGPIPE);
  sigset_t old;
  ASSERT_EQ(pthread_sigmask(SIG_BLOCK, &pipe_set, &old), 0);
  close(p.r);
  p.r = -1;
  sink.write_line("lost\n");
  sink.write_line("lost too\n");
  EXPECT_EQ(sink.take_dropped(), 2u);
  // Consume the pending SIGPIPE before unblocking.
  timespec zero{};
  while (sigtimedwait(&pipe_set, nullptr, &zero) == SIGPIPE) {
  }
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
}

TEST(LineSink, DrainWaitsForTheReaderThenCountsWhatIsLeft) {
  Pipe p;
  const int fd =
      open(("/proc/self/fd/" + std::to_string(p.w)).c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  LineSink sink(fd, true, LineSink::Mode::Write);
  const int pipe_bytes = fcntl(p.w, F_GETPIPE_SZ);
  const int lines = pipe_bytes / 64 + 10;
  for (int i = 0; i < lines; ++i) sink.write_line(numbered(i, 64));
  const std::uint64_t queued = sink.queued_bytes() / 64;
  ASSERT_GT(queued, 0u);
  EXPECT_FALSE(sink.drain(50ms));  // nobody reads
  EXPECT_EQ(sink.take_dropped(), queued);
  EXPECT_EQ(sink.queued_bytes(), 0u);
}

TEST(LineSink, AfterForkForgetsTheParentsQueue) {
  Pipe p;
  const int fd =
      open(("/proc/self/fd/" + std::to_string(p.w)).c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC);
  LineSink sink(fd, true, LineSink::Mode::Write);
  const int pipe_bytes = fcntl(p.w, F_GETPIPE_SZ);
  for (int i = 0; i < pipe_bytes / 64 + 3; ++i) sink.write_line(numbered(i, 64));
  ASSERT_GT(sink.queued_bytes(), 0u);
  sink.after_fork();
  EXPECT_EQ(sink.queued_bytes(), 0u);
  EXPECT_EQ(sink.take_dropped(), 0u);
}

TEST(LineSink, AFileIsAppendedTo) {
  const auto dir =
      std::filesystem::temp_directory_path() / ("line-sink-" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  const std::string path = (dir / "log").string();
  {
    LineSink a = LineSink::open_append(path);
    a.write_line("one\n");
  }
  {
    LineSink b = LineSink::open_append(path);
    b.write_line("two\n");
  }
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  EXPECT_EQ(read_all(fd), "one\ntwo\n");
  close(fd);
  // A FIFO nobody reads opens without waiting.
  const std::string fifo = (dir / "fifo").string();
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  {
    LineSink f = LineSink::open_append(fifo);
    f.write_line("into the fifo\n");
    EXPECT_EQ(f.take_dropped(), 0u);
  }
  EXPECT_THROW((void)LineSink::open_append((dir / "no" / "such").string()), std::system_error);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace ringftpd::server
