// The shared TLS state's costs per handshake: the TLS 1.2 session cache in
// shared memory (one robust-mutex lock, a memcpy and a checksum per call),
// and the ticket keys' per-ticket work (origin mask + AES-GCM).
//
//   BM_CachePut                  put a 200-byte session under a fresh id
//                                (a full table: each put evicts)
//   BM_CacheGetHit               look up a stored id, copy and verify it
//   BM_CacheGetMiss              look up an absent id (window scan only)
//   BM_CachePutGet/contended     put + get while another process does the
//                                same on the same table without pause
//   BM_TicketSeal, BM_TicketOpen TicketKeys: mask the origin and seal (open)
//                                a 200-byte ticket, as resumption.cpp does
//
// Run: build/bench/tls_shared_state_bench --benchmark_min_time=0.2
#include <benchmark/benchmark.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <random>
#include <vector>

#include "tls/build_info.hpp"
#include "tls/library.hpp"
#include "tls/shared_tls_state.hpp"
#include "tls/ticket_keys.hpp"

namespace {

using namespace ringftpd::tls;

constexpr std::size_t kSessions = 20000;  // config's default session_cache_entries
constexpr std::size_t kIds = 1 << 16;
constexpr std::size_t kSessionBytes = 200;  // a serialized wolfSSL session is ~120-400

using Id = std::array<std::uint8_t, 32>;

std::vector<Id> make_ids(std::uint32_t seed) {
  std::mt19937_64 gen(seed);
  std::vector<Id> ids(kIds);
  for (Id& id : ids) {
    for (auto& b : id) b = static_cast<std::uint8_t>(gen());
  }
  return ids;
}

std::shared_ptr<SharedTlsState> make_state() {
  return SharedTlsState::create(SharedTlsOptions{.max_sessions = kSessions});
}

SteadyTime now() {
  return std::chrono::steady_clock::now();
}

void BM_CachePut(benchmark::State& state) {
  const auto shared = make_state();
  const std::vector<Id> ids = make_ids(1);
  const std::vector<std::uint8_t> der(kSessionBytes, 0x5a);
  const SteadyTime t = now();
  std::size_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(
        shared->put_session(ids[i++ % kIds], der, 42, t + std::chrono::hours(1), t));
  }
  state.counters["evictions"] = static_cast<double>(shared->stats().evictions);
}

void BM_CacheGetHit(benchmark::State& state) {
  const auto shared = make_state();
  const std::vector<Id> ids = make_ids(2);
  const std::vector<std::uint8_t> der(kSessionBytes, 0x5a);
  const SteadyTime t = now();
  constexpr std::size_t kStored = kSessions / 2;  // half full: nearly every lookup hits
  for (std::size_t i = 0; i < kStored; ++i) {
    (void)shared->put_session(ids[i], der, 42, t + std::chrono::hours(1), t);
  }
  std::vector<std::uint8_t> out(shared->options().max_session_bytes);
  std::size_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(shared->get_session(ids[i++ % kStored], t, out));
  }
  const SharedTlsStats s = shared->stats();
  state.counters["hit_ratio"] =
      static_cast<double>(s.hits) / static_cast<double>(s.hits + s.misses);
}

void BM_CacheGetMiss(benchmark::State& state) {
  const auto shared = make_state();
  const std::vector<Id> stored = make_ids(3);
  const std::vector<Id> absent = make_ids(4);
  const std::vector<std::uint8_t> der(kSessionBytes, 0x5a);
  const SteadyTime t = now();
  for (std::size_t i = 0; i < kSessions; ++i) {
    (void)shared->put_session(stored[i], der, 42, t + std::chrono::hours(1), t);
  }
  std::vector<std::uint8_t> out(shared->options().max_session_bytes);
  std::size_t i = 0;
  for (auto _ : state) benchmark::DoNotOptimize(shared->get_session(absent[i++ % kIds], t, out));
}

// One put and one get per iteration; with `contended`, a second process
// hammers the same table meanwhile (the numbers then depend on how many cores
// the machine lends the two).
void BM_CachePutGet(benchmark::State& state, bool contended) {
  const auto shared = make_state();
  const std::vector<Id> ids = make_ids(5);
  const std::vector<std::uint8_t> der(kSessionBytes, 0x5a);
  auto* stop = static_cast<std::atomic<int>*>(
      ::mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0));
  new (stop) std::atomic<int>(0);
  pid_t child = -1;
  if (contended) {
    child = ::fork();
    if (child == 0) {
      std::vector<std::uint8_t> out(shared->options().max_session_bytes);
      const SteadyTime t = now();
      for (std::size_t i = kIds / 2; stop->load(std::memory_order_relaxed) == 0; ++i) {
        (void)shared->put_session(ids[i % kIds], der, 7, t + std::chrono::hours(1), t);
        (void)shared->get_session(ids[(i * 7) % kIds], t, out);
      }
      ::_exit(0);
    }
  }
  std::vector<std::uint8_t> out(shared->options().max_session_bytes);
  const SteadyTime t = now();
  std::size_t i = 0;
  for (auto _ : state) {
    (void)shared->put_session(ids[i % kIds], der, 42, t + std::chrono::hours(1), t);
    benchmark::DoNotOptimize(shared->get_session(ids[(i * 3) % kIds], t, out));
    ++i;
  }
  stop->store(1);
  if (child > 0) ::waitpid(child, nullptr, 0);
  ::munmap(stop, 4096);
  state.counters["corrupt"] = static_cast<double>(shared->stats().corrupt);
}

// A ticket as resumption.cpp seals it: the origin mask over key_name || iv,
// then AES-GCM over the ticket with a 40-byte AAD.
struct TicketBench {
  TicketBench() : shared(make_state()), keys(shared) {}
  std::shared_ptr<SharedTlsState> shared;
  TicketKeys keys;
  std::array<std::uint8_t, 40> aad{};
  std::array<std::uint8_t, TicketKeys::kNonceBytes> nonce{};
  std::array<std::uint8_t, TicketKeys::kTagBytes> tag{};
  std::vector<std::uint8_t> ticket = std::vector<std::uint8_t>(kSessionBytes, 0x33);
};

void BM_TicketSeal(benchmark::State& state) {
  TicketBench b;
  for (auto _ : state) {
    const TicketKeys::KeyId key = b.keys.current().value_or(0);
    benchmark::DoNotOptimize(b.keys.mask(key, std::span(b.aad).first(32)));
    benchmark::DoNotOptimize(b.keys.seal(key, b.ticket, b.nonce, b.aad, b.tag));
  }
}

void BM_TicketOpen(benchmark::State& state) {
  TicketBench b;
  const TicketKeys::KeyId key = b.keys.current().value_or(0);
  const std::vector<std::uint8_t> plain = b.ticket;
  (void)b.keys.seal(key, b.ticket, b.nonce, b.aad, b.tag);
  const std::vector<std::uint8_t> sealed = b.ticket;
  const SteadyTime t = now();
  for (auto _ : state) {
    std::memcpy(b.ticket.data(), sealed.data(), sealed.size());  // opened in place
    if (b.keys.open(key, t, b.ticket, b.nonce, b.aad, b.tag) != TicketKeys::Opened::WithCurrent) {
      state.SkipWithError("ticket did not open");
      break;
    }
    benchmark::DoNotOptimize(b.keys.mask(key, std::span(b.aad).first(32)));
  }
}

}  // namespace

BENCHMARK(BM_CachePut);
BENCHMARK(BM_CacheGetHit);
BENCHMARK(BM_CacheGetMiss);
BENCHMARK_CAPTURE(BM_CachePutGet, alone, false);
BENCHMARK_CAPTURE(BM_CachePutGet, contended, true);
BENCHMARK(BM_TicketSeal);
BENCHMARK(BM_TicketOpen);

int main(int argc, char** argv) {
  Library library;
  std::fprintf(stderr, "%s\n", describe(build_info()).c_str());
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
