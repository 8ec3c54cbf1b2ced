// MLSD listings (RFC 3659 §7) as ftpsload reads them off a data connection.
//
// MlsdReader is fed the listing in whatever pieces the transport delivers:
// one entry per CRLF-terminated line, "fact=value;fact=value; name", or
// " name" without facts. It counts the entries and checks each one; the first
// bad line fails the listing for good (the caller counts the error, by the
// reason). Pure (no I/O) and bounded: only the unfinished last line is kept,
// and a line longer than kMaxLineBytes fails the listing, so a server sending
// garbage without line ends cannot make it grow.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace ringftpd::ftpsload {

// Why one line (without its LF) is not an MLSD entry, or nullptr if it is
// one: facts (each "name=value;", names non-empty, no '=', ';' or space in a
// name, no ';' in a value), one space, a non-empty name, then CR.
[[nodiscard]] const char* mlsd_entry_problem(std::string_view line) noexcept;

class MlsdReader {
 public:
  static constexpr std::size_t kMaxLineBytes = 8 * 1024;

  void feed(std::string_view bytes);
  void feed(std::span<const std::byte> bytes) {
    feed(std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
  }
  // The listing ended (its data connection closed): an unfinished last line
  // is an error. Returns ok().
  bool finish();

  [[nodiscard]] bool ok() const noexcept { return problem_ == nullptr; }
  // What broke ("no space before the name", "line too long", ...); "" if ok.
  [[nodiscard]] std::string_view problem() const noexcept {
    return problem_ == nullptr ? std::string_view{} : std::string_view(problem_);
  }
  [[nodiscard]] std::uint64_t entries() const noexcept { return entries_; }
  void reset() noexcept;

 private:
  void line(std::string_view text) noexcept;

  std::string partial_;  // the unfinished last line, at most kMaxLineBytes
  std::uint64_t entries_ = 0;
  const char* problem_ = nullptr;
};

}  // namespace ringftpd::ftpsload
