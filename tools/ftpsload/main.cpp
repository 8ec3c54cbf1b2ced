// ftpsload: a load generator for FTPS (and FTP) servers. See cli.cpp for the
// usage, run.hpp for how a run goes, ftp_client.hpp for what a session does.
#include <cstdio>
#include <exception>
#include <string_view>
#include <vector>

#include "tools/ftpsload/cli.hpp"
#include "tools/ftpsload/run.hpp"

int main(int argc, char** argv) {
  using namespace ringftpd::ftpsload;
  const std::vector<std::string_view> args(argv + 1, argv + argc);
  CliResult cli = parse_cli(args);
  if (cli.help) {
    const std::string_view text = usage();
    std::fwrite(text.data(), 1, text.size(), stdout);
    return kExitOk;
  }
  if (!cli.options) {
    std::fprintf(stderr, "ftpsload: %s\n(ftpsload --help lists the options)\n", cli.error.c_str());
    return kExitUsage;
  }
  try {
    return run(std::move(*cli.options));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "ftpsload: %s\n", e.what());
    return kExitStartup;
  }
}
