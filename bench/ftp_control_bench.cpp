// The control path's pure work per command, per core: splitting lines out of
// received bytes, parsing them, resolving paths, formatting listing lines.
// None of it should show next to a TLS record or a syscall; these numbers say
// by how much.
//
//   BM_SplitAndParse/<n>   feed a 4 KiB receive buffer of n-command pipelines
//                          and parse every line (per command)
//   BM_ResolvePath/<case>  resolve() of typical client arguments against a cwd
//   BM_ListLine            one `ls -l` line (LIST)
//   BM_MlsdLine            one MLSD facts line
//
// Run: build/bench/ftp_control_bench --benchmark_min_time=0.2
#include <benchmark/benchmark.h>

#include <sys/stat.h>

#include <span>
#include <string>
#include <vector>

#include "server/fs/listing_format.hpp"
#include "server/fs/virtual_path.hpp"
#include "server/ftp/command.hpp"
#include "server/ftp/line_splitter.hpp"

namespace {

using namespace ringftpd::server;

// What FileZilla sends around a transfer, repeated to fill a buffer.
const char* const kCommands[] = {
    "TYPE I\r\n",
    "PASV\r\n",
    "RETR /pub/releases/ringftpd-0.1.0.tar.gz\r\n",
    "NOOP\r\n",
    "CWD /pub/releases\r\n",
    "MLSD\r\n",
    "SIZE ringftpd-0.1.0.tar.gz\r\n",
    "MDTM ringftpd-0.1.0.tar.gz\r\n",
};

void BM_SplitAndParse(benchmark::State& state) {
  std::string input;
  std::size_t commands = 0;
  while (input.size() < 4096 - 64) {
    input += kCommands[commands % std::size(kCommands)];
    ++commands;
  }
  for (auto _ : state) {
    ftp::LineSplitter splitter;
    std::span<const char> in(input.data(), input.size());
    std::size_t parsed = 0;
    while (!in.empty()) {
      in = in.subspan(splitter.feed(in));
      for (auto r = splitter.next(); r.kind != ftp::LineSplitter::Kind::NeedMore;
           r = splitter.next()) {
        const ftp::Command c = ftp::parse(r.line);
        benchmark::DoNotOptimize(c);
        ++parsed;
      }
    }
    if (parsed != commands) state.SkipWithError("lost a command");
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * commands));
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * input.size()));
}
BENCHMARK(BM_SplitAndParse);

void BM_ResolvePath(benchmark::State& state, const char* cwd, const char* argument) {
  for (auto _ : state) {
    fs::ResolvedPath r = fs::resolve(cwd, argument);
    benchmark::DoNotOptimize(r);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK_CAPTURE(BM_ResolvePath, relative_name, "/pub/releases", "ringftpd-0.1.0.tar.gz");
BENCHMARK_CAPTURE(BM_ResolvePath, absolute_deep, "/", "/pub/releases/2026/11/ringftpd.tar.gz");
BENCHMARK_CAPTURE(BM_ResolvePath, dot_dot_escape, "/pub", "../../../../etc/passwd");

fs::EntryStat sample_entry() {
  fs::EntryStat st;
  st.mode = S_IFREG | 0644;
  st.size = 268435456;
  st.mtime_sec = 1'795'000'000;
  st.nlink = 1;
  st.inode = 1234567;
  st.dev = 2049;
  return st;
}

void BM_ListLine(benchmark::State& state) {
  const fs::EntryStat st = sample_entry();
  std::string out;
  for (auto _ : state) {
    out.clear();
    benchmark::DoNotOptimize(fs::format_list_line(out, "ringftpd-0.1.0.tar.gz", st, 1'795'100'000));
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ListLine);

void BM_MlsdLine(benchmark::State& state) {
  const fs::EntryStat st = sample_entry();
  std::string out;
  for (auto _ : state) {
    out.clear();
    benchmark::DoNotOptimize(fs::format_mlsx_facts(out, "ringftpd-0.1.0.tar.gz", st, 0xFF, false));
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_MlsdLine);

}  // namespace

BENCHMARK_MAIN();
