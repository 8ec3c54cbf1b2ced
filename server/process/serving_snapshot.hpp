// What the master reads from disk to serve one configuration: the validated
// config, the certificate and key, and the TLS options (the client CA bundle
// already read, since workers run unprivileged and may not be able to read it).
// Made at start-up and again at each reload (SIGHUP); a reload that fails to
// make one leaves the running snapshot in place.
#pragma once

#include <memory>
#include <vector>

#include "config/config.hpp"
#include "server/embedded_default.hpp"
#include "server/process/landlock.hpp"
#include "tls/context.hpp"
#include "tls/credentials.hpp"

namespace ringftpd::server {

struct ServingSnapshot {
  config::Snapshot config;
  std::shared_ptr<const tls::Credentials> credentials;
  tls::ServerOptions tls_options;
  bool generated_certificate = false;  // first-run self-signed certificate made now
  // Every account's root and whether it is writable, for the workers'
  // Landlock rules: the users file stays authd's, hashes never reach a worker.
  std::vector<SandboxRoot> sandbox_roots;
};

// Loads and checks everything (certificate, key, client CA, cipher names by
// building a throwaway TLS context, the users file). Throws
// config::ConfigError, tls::TlsError, std::runtime_error or std::system_error.
[[nodiscard]] ServingSnapshot load_serving_snapshot(config::Snapshot config,
                                                    const EmbeddedAccount* account);

// The accounts the auth service serves: the embedded one, or the users file.
// Throws config::ConfigError.
[[nodiscard]] std::vector<config::User> load_users(const config::Config& config,
                                                   const EmbeddedAccount* account);

// Workers to run: the configured number, or one per online CPU.
[[nodiscard]] std::uint32_t worker_count(const config::Config& config);

// Worker `slot`'s share of the passive range (DESIGN.md §2).
[[nodiscard]] config::PortRange passive_slice(config::PortRange all, std::uint32_t slot,
                                              std::uint32_t workers);

}  // namespace ringftpd::server
