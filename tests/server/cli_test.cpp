#include "server/cli.hpp"

#include <gtest/gtest.h>

namespace ringftpd::server {
namespace {

CliResult parse(std::vector<std::string_view> args) {
  return parse_cli(args);
}

TEST(Cli, NoArgumentsServesEmbeddedDefault) {
  const auto r = parse({});
  ASSERT_TRUE(r.options);
  EXPECT_EQ(r.options->action, CliAction::Serve);
  EXPECT_TRUE(r.options->config_file.empty());
  EXPECT_TRUE(r.options->serve_dir.empty());
}

TEST(Cli, ActionsAndValues) {
  struct Row {
    std::vector<std::string_view> args;
    CliAction action;
  };
  const Row rows[] = {
      {{"--version"}, CliAction::Version},
      {{"-V"}, CliAction::Version},
      {{"--help"}, CliAction::Help},
      {{"-h"}, CliAction::Help},
      {{"--check-config", "--config", "x.toml"}, CliAction::CheckConfig},
      {{"--hash-password", "--scheme", "bcrypt"}, CliAction::HashPassword},
      {{"-c", "x.toml"}, CliAction::Serve},
  };
  for (const Row& row : rows) {
    const auto r = parse(row.args);
    ASSERT_TRUE(r.options) << row.args[0] << ": " << r.error;
    EXPECT_EQ(r.options->action, row.action) << row.args[0];
  }
}

TEST(Cli, EmbeddedOptions) {
  const auto r = parse({"--port", "2999", "--state-dir", "/s", "/srv/pub"});
  ASSERT_TRUE(r.options) << r.error;
  EXPECT_EQ(r.options->port, 2999);
  EXPECT_EQ(r.options->state_dir, "/s");
  EXPECT_EQ(r.options->serve_dir, "/srv/pub");
}

TEST(Cli, Errors) {
  struct Row {
    std::vector<std::string_view> args;
    std::string_view says;
  };
  const Row rows[] = {
      {{"--config"}, "needs a file"},
      {{"--port", "0"}, "not a port"},
      {{"--port", "65536"}, "not a port"},
      {{"--port", "21x"}, "not a port"},
      {{"--bogus"}, "unknown option --bogus"},
      {{"a", "b"}, "more than one directory"},
      {{"--config", "x.toml", "/srv"}, "embedded default only"},
      {{"--config", "x.toml", "--port", "21"}, "embedded default only"},
  };
  for (const Row& row : rows) {
    const auto r = parse(row.args);
    EXPECT_FALSE(r.options) << row.args[0];
    EXPECT_NE(r.error.find(row.says), std::string::npos) << r.error;
  }
}

}  // namespace
}  // namespace ringftpd::server
