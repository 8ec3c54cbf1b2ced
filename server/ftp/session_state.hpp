// The protocol state of one control session, and the policy it runs under.
//
// Plain data, owned by the control session and changed only by the
// interpreter (interpreter.hpp). Nothing here refers to an fd, a ring or TLS.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "server/ftp/command.hpp"
#include "server/ftp/host_port.hpp"
#include "server/ftp/verb_table.hpp"

namespace ringftpd::server::ftp {

// What the interpreter needs of the configuration, fixed for the session.
struct Policy {
  config::ControlTls control_tls = config::ControlTls::RequiredForLogin;
  config::DataProtection data_protection = config::DataProtection::Required;
  std::vector<Verb> clear_allowed_for;  // under PerCommand
  bool tls_available = false;           // AUTH TLS can be served by this build
  bool allow_auth_ssl = false;
  bool allow_ccc = false;
  std::uint32_t max_failed_logins = 6;
  bool anonymous_enabled = false;
  config::AnonymousTls anonymous_tls = config::AnonymousTls::SameAsOthers;
  // EPSV names no address: the client connects to the control connection's.
  // Behind a balancer that is the balancer's, where no data port is
  // forwarded; PASV names this host's (passive.public_address), so EPSV is
  // refused and clients fall back to PASV.
  bool epsv_available = true;

  [[nodiscard]] static Policy from(const config::Config& cfg, bool tls_available);
};

// How the next data connection is to be made.
enum class DataMode : std::uint8_t { None, Passive, Active };

struct SessionState {
  LoginPhase phase = LoginPhase::Connected;
  std::string user;       // the name given to USER
  std::string cwd = "/";  // virtual, always absolute and normalised
  std::uint8_t permissions = 0;
  bool authenticating = false;  // PASS sent to the auth service, no answer yet
  std::uint32_t failed_logins = 0;

  TransferType type = TransferType::Ascii;  // RFC 959 default
  std::uint64_t restart_offset = 0;         // REST, consumed by the next transfer
  std::optional<std::string> rename_from;   // RNFR's virtual path, for RNTO

  DataMode data_mode = DataMode::None;
  std::optional<HostPort> active_target;  // PORT/EPRT, already checked
  bool epsv_all = false;                  // RFC 2428 §4: PASV/PORT/EPRT refused
  bool transfer_in_progress = false;
  // REIN arrived during a transfer: the transfer is being aborted, and the
  // reinitialisation happens once it has reported (its 426 comes first).
  bool rein_pending = false;
  // ABOR arrived during a transfer: its 226 follows the transfer's own final
  // reply, even if the transfer completed before the abort reached it.
  bool abort_pending = false;

  bool tls_active = false;  // the control connection is protected
  // The user a verified TLS client certificate names (configured field), or
  // empty; USER with this name logs in without PASS (draft §4.1.2 note, 232).
  std::string certificate_user;
  bool logged_in_by_certificate = false;
  bool pbsz_done = false;
  ProtLevel prot = ProtLevel::Clear;  // draft §9: initially Clear

  // The control connection's peer, for PORT/EPRT checks (RFC 2577).
  HostPort peer;

  [[nodiscard]] bool is_logged_in() const noexcept { return phase == LoginPhase::LoggedIn; }
  [[nodiscard]] bool is_anonymous() const noexcept;
};

}  // namespace ringftpd::server::ftp
