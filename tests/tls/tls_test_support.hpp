// Shared by tests/tls/*_test.cpp: one tls::Library for the whole binary, and
// a temporary directory per test.
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <optional>
#include <string>

#include "tls/library.hpp"

namespace ringftpd::tls::testing {

class LibraryEnvironment : public ::testing::Environment {
 public:
  void SetUp() override { library_.emplace(); }
  void TearDown() override { library_.reset(); }

 private:
  std::optional<Library> library_;
};

// Registered once per binary, before main() runs the tests.
inline ::testing::Environment* const kLibraryEnvironment =
    ::testing::AddGlobalTestEnvironment(new LibraryEnvironment);

class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "ringftpd-tls-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  [[nodiscard]] const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

}  // namespace ringftpd::tls::testing
