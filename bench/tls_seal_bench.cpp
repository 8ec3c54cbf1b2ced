// How fast one worker seals (and opens) full 16 KiB TLS records: the ceiling
// of a protected RETR (STOR) per core. A client and a server tls::Session are
// connected in memory; no sockets, no kernel.
//
//   BM_SealRecord/<suite>  server seals one 16 KiB plaintext record; the
//                          ciphertext is discarded (outbound buffer reset).
//   BM_OpenRecord/<suite>  client feeds and opens one pre-sealed record.
//
// Run: build/bench/tls_seal_bench --benchmark_min_time=0.2
#include <benchmark/benchmark.h>

#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <vector>

#include "tls/build_info.hpp"
#include "tls/context.hpp"
#include "tls/credentials.hpp"
#include "tls/library.hpp"
#include "tls/loopback.hpp"
#include "tls/session.hpp"

namespace {

using namespace ringftpd::tls;

constexpr std::size_t kRecordBytes = 16384;  // TLS's maximum plaintext per record

struct Suite {
  const char* label;
  Version version;
  const char* cipher;  // pinned on the client side
};

const Suite kSuites[] = {
    {"TLS13_AES128GCM", Version::Tls13, "TLS13-AES128-GCM-SHA256"},
    {"TLS13_AES256GCM", Version::Tls13, "TLS13-AES256-GCM-SHA384"},
    {"TLS13_CHACHA20", Version::Tls13, "TLS13-CHACHA20-POLY1305-SHA256"},
    {"TLS12_ECDHE_ECDSA_AES128GCM", Version::Tls12, "ECDHE-ECDSA-AES128-GCM-SHA256"},
};

const Credentials& credentials() {
  static const Credentials creds = generate_self_signed();
  return creds;
}

// A handshaken client/server pair using `suite`, with the contexts alive.
struct Pair {
  explicit Pair(const Suite& suite)
      : server_ctx(credentials(), ServerOptions{}), client_ctx(client_options(suite)) {
    server = Session::server(server_ctx);
    client = Session::client(client_ctx);
    if (!server || !client || !handshake_in_memory(*client, *server)) {
      std::fprintf(stderr, "handshake failed: %s / %s\n",
                   client ? client->last_error_text().c_str() : "no client",
                   server ? server->last_error_text().c_str() : "no server");
      std::abort();
    }
    // Let the client process what followed the handshake (TLS 1.3 tickets).
    std::byte scratch[64];
    (void)client->read_plaintext(scratch);
  }

  static ClientOptions client_options(const Suite& suite) {
    ClientOptions o;
    o.min_version = o.max_version = suite.version;
    (suite.version == Version::Tls13 ? o.tls13_ciphers : o.tls12_ciphers) = suite.cipher;
    return o;
  }

  ServerContext server_ctx;
  ClientContext client_ctx;
  std::optional<Session> server;
  std::optional<Session> client;
};

void BM_SealRecord(benchmark::State& state, const Suite& suite) {
  Pair pair(suite);
  Session& server = *pair.server;
  const std::vector<std::byte> plaintext(kRecordBytes, std::byte{0x5a});
  for (auto _ : state) {
    const IoResult r = server.write_plaintext(plaintext);
    if (r.status != IoStatus::Ok) {
      state.SkipWithError(server.last_error_text().c_str());
      break;
    }
    benchmark::DoNotOptimize(server.pending_ciphertext().data());
    server.consume_ciphertext(server.pending_ciphertext().size());
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * kRecordBytes));
  state.SetLabel(std::string(server.cipher_suite()));
}

void BM_OpenRecord(benchmark::State& state, const Suite& suite) {
  Pair pair(suite);
  Session& server = *pair.server;
  Session& client = *pair.client;
  const std::vector<std::byte> plaintext(kRecordBytes, std::byte{0x5a});
  std::vector<std::byte> out(kRecordBytes);

  // Records can be opened only once and in order, so seal them in batches
  // with the timer paused (4 MiB per batch keeps the pause cost negligible).
  constexpr std::size_t kBatch = 256;
  std::vector<std::byte> sealed;
  std::vector<std::size_t> ends;  // ends[i]: offset after record i in `sealed`
  std::size_t next = kBatch;
  for (auto _ : state) {
    if (next == kBatch) {
      state.PauseTiming();
      sealed.clear();
      ends.clear();
      for (std::size_t i = 0; i < kBatch; ++i) {
        (void)server.write_plaintext(plaintext);
        const auto bytes = server.pending_ciphertext();
        sealed.insert(sealed.end(), bytes.begin(), bytes.end());
        server.consume_ciphertext(bytes.size());
        ends.push_back(sealed.size());
      }
      next = 0;
      state.ResumeTiming();
    }
    const std::size_t begin = next == 0 ? 0 : ends[next - 1];
    client.feed_ciphertext(std::span<const std::byte>(sealed).subspan(begin, ends[next] - begin));
    ++next;
    std::size_t got = 0;
    while (got < kRecordBytes) {
      const IoResult r = client.read_plaintext(std::span<std::byte>(out).subspan(got));
      if (r.status != IoStatus::Ok) {
        state.SkipWithError(client.last_error_text().c_str());
        return;
      }
      got += r.bytes;
    }
    benchmark::DoNotOptimize(out.data());
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * kRecordBytes));
  state.SetLabel(std::string(client.cipher_suite()));
}

}  // namespace

int main(int argc, char** argv) {
  Library library;
  std::fprintf(stderr, "%s\n", describe(build_info()).c_str());
  for (const Suite& suite : kSuites) {
    benchmark::RegisterBenchmark((std::string("BM_SealRecord/") + suite.label).c_str(),
                                 BM_SealRecord, suite);
  }
  for (const Suite& suite : kSuites) {
    benchmark::RegisterBenchmark((std::string("BM_OpenRecord/") + suite.label).c_str(),
                                 BM_OpenRecord, suite);
  }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
