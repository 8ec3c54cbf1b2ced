#include "server/process/serving_snapshot.hpp"

#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <iterator>
#include <stdexcept>

#include "server/process/sandbox.hpp"

namespace ringftpd::server {
namespace {

tls::Credentials server_credentials(const config::Config& cfg, bool* generated) {
  if (!cfg.tls.certificate_file.empty()) {
    return tls::load_credentials(cfg.tls.certificate_file, cfg.tls.private_key_file);
  }
  const tls::CredentialPaths paths = tls::ensure_self_signed(cfg.state_dir);
  *generated = paths.generated;
  return tls::load_credentials(paths.cert, paths.key);
}

tls::ServerOptions server_tls_options(const config::Config& cfg) {
  const auto version = [](config::TlsVersion v) {
    return v == config::TlsVersion::V1_3 ? tls::Version::Tls13 : tls::Version::Tls12;
  };
  tls::ServerOptions o;
  o.min_version = version(cfg.tls.min_version);
  o.max_version = version(cfg.tls.max_version);
  o.tls12_ciphers = cfg.tls.cipher_list;
  o.tls13_ciphers = cfg.tls.ciphersuites;
  o.session_lifetime = std::chrono::seconds(cfg.tls.session_lifetime_seconds);
  if (cfg.tls.client_certs != config::ClientCerts::Off) {
    o.client_certs = cfg.tls.client_certs == config::ClientCerts::Required
                         ? tls::ServerOptions::ClientCertMode::Required
                         : tls::ServerOptions::ClientCertMode::Optional;
    std::ifstream in(cfg.tls.client_ca_file);
    o.client_ca_pem.assign(std::istreambuf_iterator<char>(in), {});
    if (!in && !in.eof()) throw std::runtime_error(cfg.tls.client_ca_file + ": cannot read");
  }
  return o;
}

}  // namespace

ServingSnapshot load_serving_snapshot(config::Snapshot config, const EmbeddedAccount* account) {
  ServingSnapshot s;
  s.credentials = std::make_shared<const tls::Credentials>(
      server_credentials(*config, &s.generated_certificate));
  s.tls_options = server_tls_options(*config);
  // Cipher names and the client CA are checked by wolfSSL itself.
  { const tls::ServerContext probe(*s.credentials, s.tls_options); }
  s.sandbox_roots = sandbox_roots(*config, load_users(*config, account));
  s.config = std::move(config);
  return s;
}

std::vector<config::User> load_users(const config::Config& config, const EmbeddedAccount* account) {
  if (account != nullptr) return {account->user};
  if (config.users.file.empty()) return {};
  return config::load_users_file(config.users.file);
}

std::uint32_t worker_count(const config::Config& config) {
  if (config.workers > 0) return config.workers;
  const long cpus = sysconf(_SC_NPROCESSORS_ONLN);
  // Every worker needs a passive port of its own.
  const long ports = static_cast<long>(config.passive.ports.size());
  return cpus > 0 ? static_cast<std::uint32_t>(std::min({cpus, 256L, ports})) : 1;
}

config::PortRange passive_slice(config::PortRange all, std::uint32_t slot, std::uint32_t workers) {
  // Slices differ in size by at most one port; config validation guarantees
  // at least one port per worker.
  const std::uint32_t size = all.size();
  const auto first = static_cast<std::uint32_t>(all.first) + size * slot / workers;
  const auto next = static_cast<std::uint32_t>(all.first) + size * (slot + 1) / workers;
  return config::PortRange{static_cast<std::uint16_t>(first), static_cast<std::uint16_t>(next - 1)};
}

}  // namespace ringftpd::server
