#include "tools/ftpsload/cli.hpp"

#include <gtest/gtest.h>

#include <initializer_list>
#include <string>
#include <vector>

namespace ringftpd::ftpsload {
namespace {

CliResult parse(std::initializer_list<const char*> args) {
  std::vector<std::string_view> v(args.begin(), args.end());
  return parse_cli(v);
}

TEST(Cli, FullDownloadCommandLine) {
  const std::string sha(64, 'a');
  const auto r = parse({"download",
                        "--host",
                        "localhost",
                        "--port=2121",
                        "--user",
                        "u",
                        "--password",
                        "p",
                        "--path",
                        "f1m.bin",
                        "-c",
                        "8",
                        "-d",
                        "2.5",
                        "-t",
                        "2",
                        "--tls",
                        "1.3",
                        "--prot",
                        "P",
                        "--reuse",
                        "off",
                        "--pasv",
                        "--expect-size",
                        "1048576",
                        "--expect-sha256",
                        sha.c_str(),
                        "--json",
                        "--timeout",
                        "3s",
                        "--per-session",
                        "10"});
  ASSERT_TRUE(r.options) << r.error;
  const Options& o = *r.options;
  EXPECT_EQ(o.mode, Mode::Download);
  EXPECT_EQ(o.host, "localhost");
  EXPECT_EQ(o.port, 2121);
  EXPECT_EQ(o.user, "u");
  EXPECT_EQ(o.path, "f1m.bin");
  EXPECT_EQ(o.concurrency, 8u);
  EXPECT_DOUBLE_EQ(o.duration_s, 2.5);
  EXPECT_EQ(o.threads, 2u);
  EXPECT_EQ(o.tls_versions, TlsVersions::Tls13);
  EXPECT_TRUE(o.prot_private);
  EXPECT_FALSE(o.reuse);
  EXPECT_EQ(o.data_command, DataCommand::Pasv);
  EXPECT_EQ(o.expect_size, 1048576u);
  ASSERT_TRUE(o.expect_sha256);
  EXPECT_EQ((*o.expect_sha256)[0], 0xaa);
  EXPECT_TRUE(o.json);
  EXPECT_DOUBLE_EQ(o.timeout_s, 3);
  EXPECT_EQ(o.per_session, 10u);
}

TEST(Cli, Defaults) {
  const auto r = parse({"sessions", "--path", "f", "-n", "100"});
  ASSERT_TRUE(r.options) << r.error;
  const Options& o = *r.options;
  EXPECT_EQ(o.host, "127.0.0.1");
  EXPECT_EQ(o.port, 21);
  EXPECT_EQ(o.concurrency, 1u);
  EXPECT_EQ(o.count, 100u);
  EXPECT_TRUE(o.tls);
  EXPECT_TRUE(o.prot_private);
  EXPECT_TRUE(o.reuse);
  EXPECT_EQ(o.data_command, DataCommand::Epsv);
  EXPECT_FALSE(o.implicit_tls);
  EXPECT_EQ(o.rest, 0u);
  EXPECT_EQ(o.tls_versions, TlsVersions::Any);
  EXPECT_DOUBLE_EQ(o.timeout_s, 10);
}

TEST(Cli, CiphersSplitByVersion) {
  const auto r =
      parse({"list", "-n", "1", "--ciphers",
             "TLS13-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:TLS_AES_128_GCM_SHA256"});
  ASSERT_TRUE(r.options) << r.error;
  EXPECT_EQ(r.options->tls13_ciphers, "TLS13-AES256-GCM-SHA384:TLS_AES_128_GCM_SHA256");
  EXPECT_EQ(r.options->tls12_ciphers, "ECDHE-RSA-AES256-GCM-SHA384");
}

TEST(Cli, NewWorkloads) {
  const auto r = parse({"download", "--path", "f", "-n", "1", "--implicit", "--port", "990",
                        "--data", "port", "--rest", "1K"});
  ASSERT_TRUE(r.options) << r.error;
  EXPECT_TRUE(r.options->implicit_tls);
  EXPECT_TRUE(r.options->tls);
  EXPECT_EQ(r.options->port, 990);
  EXPECT_EQ(r.options->data_command, DataCommand::Port);
  EXPECT_EQ(r.options->rest, 1024u);

  const auto a = parse({"append", "--path", "up/a{}.bin", "-n", "3", "--size", "64K", "--eprt"});
  ASSERT_TRUE(a.options) << a.error;
  EXPECT_EQ(a.options->mode, Mode::Append);
  EXPECT_EQ(a.options->data_command, DataCommand::Eprt);
  EXPECT_EQ(a.options->upload_size, 65536u);

  const auto m = parse({"mlsd", "-n", "1", "--expect-entries", "7", "--per-session", "2"});
  ASSERT_TRUE(m.options) << m.error;
  EXPECT_EQ(m.options->mode, Mode::Mlsd);
  EXPECT_EQ(m.options->expect_entries, 7u);
  EXPECT_TRUE(m.options->path.empty());  // the current directory

  const auto u = parse({"upload", "--path", "f", "-n", "1", "--rest", "100", "--data", "epsv"});
  ASSERT_TRUE(u.options) << u.error;
  EXPECT_EQ(u.options->rest, 100u);
  EXPECT_EQ(u.options->data_command, DataCommand::Epsv);

  // The last of --data and its short forms wins, like --epsv / --pasv.
  const auto last = parse({"list", "-n", "1", "--eprt", "--pasv"});
  ASSERT_TRUE(last.options) << last.error;
  EXPECT_EQ(last.options->data_command, DataCommand::Pasv);
}

TEST(Cli, DataCommandNames) {
  EXPECT_EQ(data_command_name(DataCommand::Epsv), "EPSV");
  EXPECT_EQ(data_command_name(DataCommand::Pasv), "PASV");
  EXPECT_EQ(data_command_name(DataCommand::Eprt), "EPRT");
  EXPECT_EQ(data_command_name(DataCommand::Port), "PORT");
  EXPECT_FALSE(is_active(DataCommand::Epsv));
  EXPECT_FALSE(is_active(DataCommand::Pasv));
  EXPECT_TRUE(is_active(DataCommand::Eprt));
  EXPECT_TRUE(is_active(DataCommand::Port));
  EXPECT_EQ(mode_name(Mode::Append), "append");
  EXPECT_EQ(mode_name(Mode::Mlsd), "mlsd");
}

TEST(Cli, Help) {
  EXPECT_TRUE(parse({"--help"}).help);
  EXPECT_TRUE(parse({"download", "-h"}).help);
  EXPECT_NE(usage().find("--expect-sha256"), std::string_view::npos);
  for (const char* word : {"--implicit", "--data epsv|pasv|eprt|port", "--rest", "append", "mlsd",
                           "--expect-entries"}) {
    EXPECT_NE(usage().find(word), std::string_view::npos) << word;
  }
}

struct Bad {
  std::initializer_list<const char*> args;
  const char* message_part;
};

TEST(Cli, Errors) {
  static const std::string kZeros(64, '0');
  const Bad cases[] = {
      {{}, "no mode"},
      {{"fetch", "-n", "1"}, "unknown mode"},
      {{"download", "--path", "f"}, "--duration or --count"},
      {{"download", "-n", "1"}, "needs --path"},
      {{"upload", "-n", "1"}, "needs --path"},
      {{"idle", "-n", "5"}, "idle needs --duration"},
      {{"idle", "-d", "5", "-n", "5"}, "not --count"},
      {{"list", "-n", "1", "--bogus"}, "unknown option --bogus"},
      {{"list", "-n"}, "-n needs a value"},
      {{"list", "-n", "0"}, "--count: expected a number"},
      {{"list", "-n", "1", "--port", "70000"}, "--port"},
      {{"list", "-n", "1", "-c", "x"}, "--concurrency"},
      {{"list", "-d", "-1"}, "--duration"},
      {{"list", "-d", "0"}, "--duration"},
      {{"list", "-n", "1", "--tls", "1.1"}, "--tls: expected 1.2, 1.3 or any"},
      {{"list", "-n", "1", "--prot", "S"}, "--prot"},
      {{"list", "-n", "1", "--reuse", "maybe"}, "--reuse"},
      {{"list", "-n", "1", "--no-tls", "--prot", "P"}, "--no-tls cannot"},
      {{"list", "-n", "1", "--json=yes"}, "takes no value"},
      {{"download", "--path", "f", "-n", "1", "--expect-sha256", "abc"}, "64 hex digits"},
      {{"download", "--path", "f", "-n", "1", "--verify-file", "x", "--expect-size", "1"},
       "--verify-file replaces"},
      {{"upload", "--path", "f", "-n", "1", "--expect-size", "1"}, "apply to download"},
      {{"list", "-n", "1", "--expect-sha256", kZeros.c_str()}, "apply to download"},
      {{"list", "-n", "1", "-c", "2", "-t", "3"}, "--threads cannot exceed"},
      {{"list", "-n", "1", "--keepalive", "5"}, "--keepalive applies to idle"},
      {{"sessions", "--path", "f", "-n", "1", "--per-session", "2"}, "--per-session applies"},
      {{"list", "-n", "1", "--bind", "127.0.0.5-127.0.0.1"}, "--bind"},
      {{"upload", "--path", "f", "-n", "1", "--size", "1T"}, "--size"},
      {{"append", "-n", "1"}, "append needs --path"},
      {{"append", "--path", "f", "-n", "1", "--expect-size", "1"}, "apply to download"},
      {{"mlsd", "-n", "1", "--expect-size", "1"}, "apply to download"},
      {{"list", "-n", "1", "--expect-entries", "3"}, "--expect-entries applies to mlsd"},
      {{"mlsd", "-n", "1", "--expect-entries", "x"}, "--expect-entries: expected a number"},
      {{"list", "-n", "1", "--rest", "5"}, "--rest applies to"},
      {{"append", "--path", "f", "-n", "1", "--rest", "5"}, "--rest applies to"},
      {{"download", "--path", "f", "-n", "1", "--rest", "-1"}, "--rest: expected bytes"},
      {{"download", "--path", "f", "-n", "1", "--rest", "9223372036854775808"}, "--rest"},
      {{"list", "-n", "1", "--data", "active"}, "--data: expected epsv, pasv, eprt or port"},
      {{"list", "-n", "1", "--no-tls", "--implicit"}, "--no-tls cannot"},
      {{"list", "-n", "1", "--implicit", "--no-tls"}, "--no-tls cannot"},
      {{"list", "-n", "1", "--implicit=yes"}, "takes no value"},
  };
  for (const auto& c : cases) {
    const auto r = parse(c.args);
    EXPECT_FALSE(r.options) << c.message_part;
    EXPECT_NE(r.error.find(c.message_part), std::string::npos)
        << "error \"" << r.error << "\" lacks \"" << c.message_part << "\"";
  }
}

TEST(Cli, ParseBytes) {
  EXPECT_EQ(parse_bytes("0"), 0u);
  EXPECT_EQ(parse_bytes("1000"), 1000u);
  EXPECT_EQ(parse_bytes("64K"), 65536u);
  EXPECT_EQ(parse_bytes("1m"), 1048576u);
  EXPECT_EQ(parse_bytes("2G"), 2147483648u);
  EXPECT_FALSE(parse_bytes(""));
  EXPECT_FALSE(parse_bytes("K"));
  EXPECT_FALSE(parse_bytes("1.5M"));
  EXPECT_FALSE(parse_bytes("99999999999999999999G"));
}

TEST(Cli, ParseBindList) {
  EXPECT_EQ(parse_bind_list("127.0.0.1"), (std::vector<std::string>{"127.0.0.1"}));
  EXPECT_EQ(parse_bind_list("127.0.0.1,127.0.0.9"),
            (std::vector<std::string>{"127.0.0.1", "127.0.0.9"}));
  EXPECT_EQ(parse_bind_list("127.0.0.2-127.0.0.4"),
            (std::vector<std::string>{"127.0.0.2", "127.0.0.3", "127.0.0.4"}));
  EXPECT_FALSE(parse_bind_list(""));
  EXPECT_FALSE(parse_bind_list("localhost"));
  EXPECT_FALSE(parse_bind_list("127.0.0.1-127.0.1.4"));
  EXPECT_FALSE(parse_bind_list("127.0.0.1,"));
}

}  // namespace
}  // namespace ringftpd::ftpsload
