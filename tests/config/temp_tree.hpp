// A throw-away directory with the files a configuration may point at, for the
// config tests. Rows of the test tables write "@DIR@" where they need it.
#pragma once

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <ostream>
#include <stdexcept>
#include <string>
#include <string_view>

namespace ringftpd::config::test_support {

class TempTree {
 public:
  TempTree() {
    std::string pattern = (std::filesystem::temp_directory_path() / "ringftpd-config-XXXXXX");
    if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    dir_ = pattern;
    write("cert.pem", "-----BEGIN CERTIFICATE-----\n");
    write("key.pem", "-----BEGIN PRIVATE KEY-----\n");
    write("ca.pem", "-----BEGIN CERTIFICATE-----\n");
    write("users.toml", "");
    std::filesystem::create_directory(dir_ / "anon");
    std::filesystem::create_directory(dir_ / "alice");
  }
  ~TempTree() {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  TempTree(const TempTree&) = delete;
  TempTree& operator=(const TempTree&) = delete;

  [[nodiscard]] const std::filesystem::path& dir() const { return dir_; }

  std::string write(std::string_view name, std::string_view text) const {
    const auto path = dir_ / name;
    std::ofstream(path, std::ios::binary) << text;
    return path.string();
  }

  // Replaces every "@DIR@" with the directory.
  [[nodiscard]] std::string expand(std::string text) const {
    const std::string marker = "@DIR@";
    for (auto pos = text.find(marker); pos != std::string::npos; pos = text.find(marker, pos)) {
      text.replace(pos, marker.size(), dir_.string());
    }
    return text;
  }

 private:
  std::filesystem::path dir_;
};

// What a parse is expected to throw: the message starts with prefix
// ("t.toml:3:11: ") and contains detail.
struct ErrorRow {
  const char* name;  // the test's name: letters, digits and underscores
  const char* toml;
  const char* prefix;
  const char* detail;
};

// Names the row in failure output instead of dumping its bytes.
inline void PrintTo(const ErrorRow& row, std::ostream* os) {
  *os << row.name;
}

inline std::string row_name(const ::testing::TestParamInfo<ErrorRow>& info) {
  return info.param.name;
}

}  // namespace ringftpd::config::test_support
