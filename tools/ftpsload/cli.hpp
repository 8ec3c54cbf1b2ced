// ftpsload's command line: what to run, against what, how hard, and how to
// check it. parse_cli is pure (no I/O): it validates every option and their
// combinations, and reports the first problem as one line.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "tools/ftpsload/sha256.hpp"

namespace ringftpd::ftpsload {

enum class Mode : std::uint8_t { Download, Upload, Append, List, Mlsd, Sessions, Idle };
enum class TlsVersions : std::uint8_t { Any, Tls12, Tls13 };
// How a data connection is made: passive (the server listens: EPSV, PASV) or
// active (ftpsload listens and the server connects back: EPRT, PORT).
enum class DataCommand : std::uint8_t { Epsv, Pasv, Eprt, Port };

[[nodiscard]] std::string_view data_command_name(DataCommand command) noexcept;
[[nodiscard]] inline bool is_active(DataCommand command) noexcept {
  return command == DataCommand::Eprt || command == DataCommand::Port;
}

[[nodiscard]] std::string_view mode_name(Mode mode) noexcept;

struct Options {
  Mode mode = Mode::Download;

  // Target.
  std::string host = "127.0.0.1";
  std::uint16_t port = 21;
  std::string user = "anonymous";
  std::string password = "ftpsload@";
  std::string path;

  // Load.
  unsigned concurrency = 1;
  double duration_s = 0;    // 0: none
  std::uint64_t count = 0;  // 0: none
  unsigned threads = 1;
  unsigned per_session = 0;       // transfers per control session, 0 = unlimited
  unsigned ramp = 32;             // sessions being set up at once, at most
  std::vector<std::string> bind;  // source addresses, round robin
  std::uint64_t upload_size = 1024 * 1024;
  std::uint64_t rest = 0;  // REST offset before each RETR / STOR (0: no REST)

  // Protocol.
  bool tls = true;
  bool implicit_tls = false;  // TLS from the first byte, no AUTH TLS (port 990 style)
  TlsVersions tls_versions = TlsVersions::Any;
  bool prot_private = true;
  bool reuse = true;
  DataCommand data_command = DataCommand::Epsv;
  std::string tls12_ciphers;  // --ciphers, split by version; empty: tls/'s defaults
  std::string tls13_ciphers;

  // Verification.
  std::optional<std::uint64_t> expect_size;
  std::optional<Digest> expect_sha256;
  std::optional<std::uint64_t> expect_entries;  // mlsd: entries in every listing
  std::string verify_file;                      // computed into expect_* at start-up

  // Output and limits.
  bool json = false;
  bool quiet = false;
  bool trace = false;  // log the first connection's commands and replies to stderr
  double timeout_s = 10;
  double keepalive_s = 0;  // idle: NOOP every so often; 0 = never
};

struct CliResult {
  std::optional<Options> options;  // set when the command line is valid
  bool help = false;               // --help was given
  std::string error;               // otherwise: what is wrong, one line
};

[[nodiscard]] CliResult parse_cli(std::span<const std::string_view> args);
[[nodiscard]] std::string_view usage() noexcept;

// "1048576", "64K", "1M", "2G" (binary multiples) -> bytes.
[[nodiscard]] std::optional<std::uint64_t> parse_bytes(std::string_view text);
// "127.0.0.1", "127.0.0.1,127.0.0.2" or a last-octet range "127.0.0.1-127.0.0.8".
[[nodiscard]] std::optional<std::vector<std::string>> parse_bind_list(std::string_view text);

}  // namespace ringftpd::ftpsload
