// What a TLS handshake costs, client and server together on one core: a full
// handshake (what a control connection pays) against a resumed one (what a
// protected data connection pays under required session reuse). Both sides
// run in this thread through memory, so the time per iteration is the CPU
// time of server plus client; the server's share is roughly half of a full
// handshake (it signs, the client verifies) and half of a resumed one.
//
//   BM_Handshake/TLS13/Full            ECDHE + ECDSA P-256 signature, one ticket
//   BM_Handshake/TLS13/ResumedTicket   PSK with (EC)DHE, no certificate, no ticket
//   BM_Handshake/TLS12/Full            ECDHE + ECDSA, one ticket
//   BM_Handshake/TLS12/ResumedTicket   abbreviated handshake, ticket
//   BM_Handshake/TLS12/ResumedSessionId abbreviated handshake, session cache
//
// Run: build/bench/tls_handshake_bench --benchmark_min_time=0.5
#include <benchmark/benchmark.h>

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <optional>
#include <string>

#include "tls/build_info.hpp"
#include "tls/context.hpp"
#include "tls/credentials.hpp"
#include "tls/library.hpp"
#include "tls/loopback.hpp"
#include "tls/session.hpp"

namespace {

using namespace ringftpd::tls;

enum class Mode { Full, ResumedTicket, ResumedSessionId };

struct Case {
  const char* label;
  Version version;
  Mode mode;
};

const Case kCases[] = {
    {"TLS13/Full", Version::Tls13, Mode::Full},
    {"TLS13/ResumedTicket", Version::Tls13, Mode::ResumedTicket},
    {"TLS12/Full", Version::Tls12, Mode::Full},
    {"TLS12/ResumedTicket", Version::Tls12, Mode::ResumedTicket},
    {"TLS12/ResumedSessionId", Version::Tls12, Mode::ResumedSessionId},
};

const Credentials& credentials() {
  static const Credentials creds = generate_self_signed();
  return creds;
}

ClientOptions client_options(const Case& c) {
  ClientOptions o;
  o.min_version = o.max_version = c.version;
  o.tls12_session_tickets = c.mode != Mode::ResumedSessionId;
  return o;
}

// Handshakes and lets the client read what follows (TLS 1.3 tickets).
bool complete(Session& client, Session& server) {
  if (!handshake_in_memory(client, server)) return false;
  std::byte scratch[64];
  return client.read_plaintext(scratch).status == IoStatus::WantIO;
}

void BM_Handshake(benchmark::State& state, const Case& c) {
  const ServerContext server_ctx(credentials());
  const ClientContext client_ctx(client_options(c));

  // The control connection whose session the data connections resume.
  std::optional<Session> control = Session::server(server_ctx);
  std::optional<Session> control_client = Session::client(client_ctx);
  if (!control || !control_client) std::abort();
  control->set_origin(server_ctx.new_origin());
  if (!complete(*control_client, *control)) {
    state.SkipWithError("control handshake failed");
    return;
  }
  const SslSessionPtr saved = control_client->saved_session();
  const ExpectedOrigin expected = control->data_origin();

  for (auto _ : state) {
    std::optional<Session> server;
    if (c.mode == Mode::Full) {
      server = Session::server(server_ctx);  // a control connection: issues a ticket
      if (server) server->set_origin(server_ctx.new_origin());
    } else {
      server = Session::server_data(server_ctx, expected);
    }
    std::optional<Session> client = Session::client(client_ctx);
    if (!server || !client) std::abort();
    if (c.mode != Mode::Full && !client->resume_from(saved.get())) {
      state.SkipWithError("wolfSSL refused the saved session");
      break;
    }
    if (!complete(*client, *server)) {
      state.SkipWithError(server->last_error_text().c_str());
      break;
    }
    const bool want_resumed = c.mode != Mode::Full;
    if (server->is_resumed() != want_resumed ||
        (want_resumed && server->check_resumption() != ResumeCheck::Ok)) {
      state.SkipWithError("unexpected resumption state");
      break;
    }
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}

}  // namespace

int main(int argc, char** argv) {
  Library library;
  std::fprintf(stderr, "%s\n", describe(build_info()).c_str());
  for (const Case& c : kCases) {
    benchmark::RegisterBenchmark((std::string("BM_Handshake/") + c.label).c_str(), BM_Handshake, c)
        ->Unit(benchmark::kMicrosecond);
  }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
