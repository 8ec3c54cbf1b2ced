// Shared set-up for the transfer-kind tests: a FakeKernel (no ring), a
// TransferEnv, a real but unused data socket, a temporary directory, and
// helpers that deliver fake completions and check that a drained transfer
// leaves nothing behind.
#pragma once

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <string>

#include "server/data_transfer.hpp"
#include "tests/server/fake_kernel.hpp"
#include "tests/tls/tls_test_support.hpp"

namespace ringftpd::server::testing {

inline int count_open_fds() {
  int n = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator("/proc/self/fd")) ++n;
  return n;
}

inline std::string random_bytes(std::size_t n, unsigned seed) {
  std::mt19937 gen(seed);
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(gen());
  return s;
}

class TransferTest : public ::testing::Test {
 protected:
  // Counted once every member is there (the log may hold an fd of its own).
  TransferTest() : fds_at_start_(count_open_fds()) {
    fds_at_start_ = count_open_fds();
    data_ = io::UniqueFd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  }

  TransferEnv env() { return TransferEnv{submit_, cfg_, log_, who_}; }
  std::filesystem::path path(const std::string& name) const { return dir_.path() / name; }
  io::UniqueFd open_file(const std::string& name, int flags) {
    return io::UniqueFd(::open(path(name).c_str(), flags | O_CLOEXEC, 0644));
  }
  std::string read_back(const std::string& name) const {
    std::ifstream in(path(name), std::ios::binary);
    return {std::istreambuf_iterator<char>(in), {}};
  }

  template <class T>
  void complete(T& t, Op op, int res, std::uint32_t flags = 0) {
    submit_.completed(flags);
    t.on_completion(op, res, flags);
  }
  // Cancelled operations complete (-ECANCELED), NOPs and closes run.
  template <class T>
  void housekeeping(T& t) {
    kernel_.run_housekeeping([&](Op op, int res, std::uint32_t f) {
      if (op == Op::FileClose || op == Op::PipeClose || op == Op::DataClose) {
        submit_.completed(f);  // closes are the owner's, not the transfer's
        return;
      }
      complete(t, op, res, f);
    });
  }
  // A drained transfer gives its fds back; they are closed through the ring
  // and nothing that names them is in flight.
  template <class T>
  void retire(T& t) {
    housekeeping(t);
    EXPECT_TRUE(t.core().is_drained());
    FdsToClose fds;
    t.release_fds(fds);
    for (auto& [fd, op] : fds) (void)submit_.close(std::move(fd), op);
    housekeeping(t);
    EXPECT_EQ(kernel_.in_flight(), 0u);
    EXPECT_EQ(submit_.in_flight(), 0u);
    EXPECT_EQ(kernel_.close_violations(), 0u);
  }
  void expect_fds_back() {
    data_.reset();
    EXPECT_EQ(count_open_fds(), fds_at_start_);
  }

  int fds_at_start_;
  tls::testing::TempDir dir_;
  config::Config cfg_;
  FakeKernel kernel_;
  OpSubmitter submit_{kernel_, io::OpTag{1, 1, 0}};
  Log log_{config::LogLevel::Error, ""};
  std::string who_ = "test";
  io::UniqueFd data_;
  std::mt19937 rng_{12345};
};

}  // namespace ringftpd::server::testing
