// A whole ftpsload run, from validated options to the exit status: start-up
// (verification file, name resolution, file descriptor limit, one LoadLoop
// per --threads), the progress display, the final report.
//
// The main thread only supervises: it waits for SIGINT/SIGTERM with a one
// second timeout (which paces the progress line), and it gives up on the
// loops if they have not stopped a few seconds after the deadline, so that a
// run never outlives its --duration by more than that grace, whatever the
// server does. Start-up problems throw (std::exception; exit status 3).
#pragma once

#include "tools/ftpsload/cli.hpp"

namespace ringftpd::ftpsload {

inline constexpr int kExitOk = 0;
inline constexpr int kExitErrors = 1;  // any error, or nothing completed
inline constexpr int kExitUsage = 2;
inline constexpr int kExitStartup = 3;

[[nodiscard]] int run(Options options);

}  // namespace ringftpd::ftpsload
