// Command-line parsing for the ringftpd binary. Pure: no I/O, testable.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ringftpd::server {

enum class CliAction { Serve, CheckConfig, Status, Version, Help, HashPassword };

struct CliOptions {
  CliAction action = CliAction::Serve;
  std::string config_file;            // empty = the embedded default
  std::string serve_dir;              // embedded default: the directory served read-only
  std::string state_dir;              // embedded default: override of the state directory
  std::optional<std::uint16_t> port;  // embedded default: override of 2121
  std::string hash_scheme = "yescrypt";
};

struct CliResult {
  std::optional<CliOptions> options;
  std::string error;  // set when options is empty
};

[[nodiscard]] CliResult parse_cli(const std::vector<std::string_view>& args);

[[nodiscard]] std::string usage_text();

}  // namespace ringftpd::server
