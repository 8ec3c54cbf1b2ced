// server/log_queue: lines from several threads reach the process's Log whole,
// in each thread's order, and every line is either written or counted as
// dropped (the auth service's threads in authd log this way).
#include "server/log_queue.hpp"

#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "server/json_log.hpp"
#include "server/line_sink.hpp"
#include "server/log.hpp"

namespace ringftpd::server {
namespace {

using namespace std::chrono_literals;

bool is_readable(int fd) {
  pollfd p{fd, POLLIN, 0};
  return ::poll(&p, 1, 0) == 1 && (p.revents & POLLIN) != 0;
}

TEST(LogQueue, ReadyFdIsReadableExactlyWhileThereIsSomethingToTake) {
  LogQueue q;
  EXPECT_FALSE(is_readable(q.ready_fd()));
  q.push("one");
  q.push("two");
  EXPECT_TRUE(is_readable(q.ready_fd()));
  const LogQueue::Taken t = q.take();
  EXPECT_EQ(t.lines, (std::vector<std::string>{"one", "two"}));
  EXPECT_EQ(t.dropped, 0u);
  EXPECT_FALSE(is_readable(q.ready_fd()));
  q.push("three");
  EXPECT_TRUE(is_readable(q.ready_fd()));
  EXPECT_EQ(q.take().lines, (std::vector<std::string>{"three"}));
  EXPECT_FALSE(is_readable(q.ready_fd()));
}

TEST(LogQueue, AFullQueueDropsWholeNewLinesAndCountsThem) {
  LogQueue q(10);
  q.push("12345");
  q.push("67890");
  q.push("x");  // 11 bytes: over
  q.push("");   // fits
  const LogQueue::Taken t = q.take();
  EXPECT_EQ(t.lines, (std::vector<std::string>{"12345", "67890", ""}));
  EXPECT_EQ(t.dropped, 1u);
  EXPECT_FALSE(is_readable(q.ready_fd()));
  q.push(std::string(11, 'y'));  // too long even for an empty queue
  EXPECT_TRUE(is_readable(q.ready_fd())) << "a drop alone is something to take";
  const LogQueue::Taken u = q.take();
  EXPECT_TRUE(u.lines.empty());
  EXPECT_EQ(u.dropped, 1u);
}

TEST(LogQueue, ForwardWritesTheLinesAndOneWarningThatCountsTheDropped) {
  int p[2];
  ASSERT_EQ(::pipe2(p, O_CLOEXEC | O_NONBLOCK), 0);
  Log log(config::LogLevel::Info, LineSink(p[1], true, LineSink::Mode::Write));
  LogQueue q(8);
  q.push("first");
  q.push("second");  // dropped
  EXPECT_EQ(q.forward_to(log, "authd"), 1u);
  char buf[512];
  const ssize_t n = ::read(p[0], buf, sizeof buf);
  ::close(p[0]);
  ASSERT_GT(n, 0);
  const std::string out(buf, static_cast<std::size_t>(n));
  EXPECT_NE(out.find(" info [authd] first\n"), std::string::npos) << out;
  EXPECT_NE(out.find(" warn [authd] 1 log lines dropped"), std::string::npos) << out;
}

// Counts of what forward_to() passed on.
struct Forwarded {
  std::uint64_t queue_dropped = 0;
  std::uint64_t warnings = 0;  // one per forward_to() that reported drops
  void add(std::uint64_t dropped) {
    queue_dropped += dropped;
    if (dropped > 0) ++warnings;
  }
};

// Reads a non-blocking pipe slowly, so that the writer's queue fills.
class SlowReader {
 public:
  explicit SlowReader(int fd) : fd_(fd), thread_([this] { run(); }) {}
  // After the write end is closed: everything that was written.
  std::string finish() {
    stop_.store(true);
    thread_.join();
    return std::move(got_);
  }

 private:
  void run() {
    char buf[512];
    for (;;) {
      const ssize_t n = ::read(fd_, buf, sizeof buf);
      if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) return;  // write end closed
      if (n > 0) got_.append(buf, static_cast<std::size_t>(n));
      if (n < 0 && stop_.load()) return;
      std::this_thread::sleep_for(500us);
    }
  }

  int fd_;
  std::atomic<bool> stop_{false};
  std::string got_;
  std::thread thread_;
};

// Several threads log at once, as the auth service's loop and pool threads
// do in authd; this thread forwards into a Log whose text log is a pipe read
// slowly (so the Log's own queue fills and drops too) and whose JSON log is a
// file (which never drops).
TEST(LogQueue, ConcurrentLinesComeOutWholeInOrderAndCounted) {
  constexpr int kThreads = 4;
  constexpr int kLinesPerThread = 5000;
  constexpr std::uint64_t kLogged = kThreads * kLinesPerThread;
  const std::string padding(60, 'x');

  char json_path[] = "/tmp/ringftpd-log-queue-XXXXXX";
  const int json_fd = ::mkstemp(json_path);
  ASSERT_GE(json_fd, 0);
  ::close(json_fd);
  int p[2];
  ASSERT_EQ(::pipe2(p, O_CLOEXEC | O_NONBLOCK), 0);
  SlowReader reader(p[0]);

  Forwarded fwd;
  std::uint64_t log_dropped = 0;
  {
    Log log(config::LogLevel::Info, LineSink(p[1], true, LineSink::Mode::Write),
            JsonLog(LineSink::open_append(json_path)));
    LogQueue q(16 * 1024);  // small, so that it fills now and then
    std::atomic<int> running{kThreads};
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        for (int i = 0; i < kLinesPerThread; ++i) {
          q.push("thread " + std::to_string(t) + " line " + std::to_string(i) + " " + padding);
          if (i % 4 == 0) std::this_thread::sleep_for(10us);  // bursts, as from a real pool
        }
        running.fetch_sub(1);
      });
    }
    while (running.load() > 0) {
      pollfd pfd{q.ready_fd(), POLLIN, 0};
      ::poll(&pfd, 1, 10);
      fwd.add(q.forward_to(log, "authd"));
    }
    for (auto& th : threads) th.join();
    fwd.add(q.forward_to(log, "authd"));
    EXPECT_TRUE(log.drain(10s));
    log_dropped = log.take_dropped();
  }  // closes the pipe's write end
  const std::string text = reader.finish();
  ::close(p[0]);
  std::printf(
      "logged %llu: the queue dropped %llu (%llu warnings), the Log %llu\n",
      static_cast<unsigned long long>(kLogged), static_cast<unsigned long long>(fwd.queue_dropped),
      static_cast<unsigned long long>(fwd.warnings), static_cast<unsigned long long>(log_dropped));

  // What the Log was given: the lines the queue passed on, and its warnings.
  const std::uint64_t given = kLogged - fwd.queue_dropped + fwd.warnings;

  // Text log: "<time> info [authd] thread T line I xxx...", or a warning.
  std::vector<int> next(kThreads, 0);  // per thread: the lowest index not seen yet
  std::uint64_t text_lines = 0;
  std::uint64_t text_warnings = 0;
  std::uint64_t warned_drops = 0;
  ASSERT_TRUE(text.empty() || text.back() == '\n');
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    const std::size_t at = line.find(" [authd] ");
    ASSERT_NE(at, std::string::npos) << "not a whole line: " << line;
    const std::string body = line.substr(at + 9);
    unsigned long long n = 0;
    if (std::sscanf(body.c_str(), "%llu log lines dropped", &n) == 1) {
      ++text_warnings;
      warned_drops += n;
      continue;
    }
    int t = -1;
    int i = -1;
    int used = 0;
    ASSERT_EQ(std::sscanf(body.c_str(), "thread %d line %d %n", &t, &i, &used), 2) << line;
    ASSERT_TRUE(t >= 0 && t < kThreads) << line;
    EXPECT_EQ(body.substr(static_cast<std::size_t>(used)), padding) << "cut: " << line;
    EXPECT_GE(i, next[static_cast<std::size_t>(t)]) << "repeated or reordered: " << line;
    next[static_cast<std::size_t>(t)] = i + 1;
    ++text_lines;
  }

  // JSON log: a file, so every line the Log was given is there, whole.
  std::ifstream json(json_path);
  std::uint64_t json_lines = 0;
  std::uint64_t json_warnings = 0;
  for (std::string line; std::getline(json, line);) {
    ASSERT_TRUE(line.starts_with("{\"time\":\"") && line.ends_with("\"}")) << line;
    if (line.find("\"msg\":\"thread ") != std::string::npos) {
      EXPECT_TRUE(line.ends_with(padding + "\"}")) << "cut: " << line;
      ++json_lines;
    } else if (line.find(" log lines dropped") != std::string::npos) {
      ++json_warnings;
    }
  }
  ::unlink(json_path);

  // Every line logged was written or counted as dropped, in both logs; the
  // file dropped nothing, so all of the Log's drops are the pipe's.
  EXPECT_EQ(json_lines + fwd.queue_dropped, kLogged);
  EXPECT_EQ(json_warnings, fwd.warnings);
  EXPECT_EQ(text_lines + text_warnings + log_dropped, given);
  EXPECT_LE(warned_drops, fwd.queue_dropped);
  if (text_warnings == fwd.warnings) {
    EXPECT_EQ(warned_drops, fwd.queue_dropped);
  }
}

}  // namespace
}  // namespace ringftpd::server
