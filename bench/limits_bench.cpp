// What the limits cost on the accept path and per log line:
//   - AddressTable admit + release (the per-address check at accept and its
//     undo at session end), alone and with a second process hammering the
//     same table (the lock contended across processes, as with 2 workers);
//   - LineSink::write_line to /dev/null (the common case: the line is
//     written at once) and to a pipe nobody reads (queue full: the line is
//     dropped and counted);
//   - count_open_fds (once per worker start).
// Run: build/bench/limits_bench
#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>

#include "server/fd_budget.hpp"
#include "server/line_sink.hpp"
#include "server/process/address_table.hpp"

namespace ringftpd::server {
namespace {

AddressKey key_of(std::uint32_t i) {
  AddressKey k{};
  k[10] = 0xff;
  k[11] = 0xff;
  k[12] = 10;
  k[13] = static_cast<std::uint8_t>(i >> 16);
  k[14] = static_cast<std::uint8_t>(i >> 8);
  k[15] = static_cast<std::uint8_t>(i);
  return k;
}

// A table as the default config makes it (max_sessions 4000), with `live`
// addresses already holding a session.
void fill(AddressTable& t, std::uint32_t live) {
  for (std::uint32_t i = 0; i < live; ++i) (void)t.admit(key_of(i + 100000), 64, 1);
}

void BM_AddressAdmitRelease(benchmark::State& state) {
  AddressTable t(AddressTable::slots_for(4000));
  fill(t, static_cast<std::uint32_t>(state.range(0)));
  std::uint32_t i = 0;
  for (auto _ : state) {
    const AddressKey k = key_of(i++ & 1023);
    benchmark::DoNotOptimize(t.admit(k, 64, 2));
    t.release(k, 2);
  }
}
BENCHMARK(BM_AddressAdmitRelease)->Arg(0)->Arg(2000)->Arg(3900);

void BM_AddressAdmitReleaseContended(benchmark::State& state) {
  AddressTable t(AddressTable::slots_for(4000));
  fill(t, 2000);
  const pid_t other = fork();
  if (other == 0) {
    // The other worker: same addresses, its own pid.
    for (std::uint32_t i = 0;; ++i) {
      const AddressKey k = key_of(i & 1023);
      if (t.admit(k, 64, getpid()) == Admission::Admitted) t.release(k, getpid());
    }
  }
  std::uint32_t i = 0;
  for (auto _ : state) {
    const AddressKey k = key_of(i++ & 1023);
    benchmark::DoNotOptimize(t.admit(k, 64, 2));
    t.release(k, 2);
  }
  kill(other, SIGKILL);
  waitpid(other, nullptr, 0);
}
BENCHMARK(BM_AddressAdmitReleaseContended);

const std::string kLine =
    "2026-12-02T03:28:34Z debug [127.0.0.1:40404] > RETR /pub/some/file/name.iso\n";

void BM_LogLineToDevNull(benchmark::State& state) {
  LineSink sink = LineSink::open_append("/dev/null");
  for (auto _ : state) sink.write_line(kLine);
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * kLine.size()));
}
BENCHMARK(BM_LogLineToDevNull);

void BM_LogLineDroppedAtFullQueue(benchmark::State& state) {
  int p[2];
  if (pipe2(p, O_CLOEXEC | O_NONBLOCK) != 0) {
    state.SkipWithError("pipe2");
    return;
  }
  LineSink sink(p[1], true, LineSink::Mode::Write);
  // Fill the pipe and the queue first: every measured line is then dropped.
  for (std::size_t n = 0; n < (LineSink::kQueueBytes + (1 << 20)) / kLine.size(); ++n) {
    sink.write_line(kLine);
  }
  (void)sink.take_dropped();
  for (auto _ : state) sink.write_line(kLine);
  state.counters["dropped"] = static_cast<double>(sink.take_dropped());
  close(p[0]);
}
BENCHMARK(BM_LogLineDroppedAtFullQueue);

void BM_CountOpenFds(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(count_open_fds());
}
BENCHMARK(BM_CountOpenFds);

}  // namespace
}  // namespace ringftpd::server

BENCHMARK_MAIN();
