// Small ASCII helpers shared by the FTP parsers. Locale-independent on purpose: the
// protocol is ASCII, and <cctype> under a Turkish locale would upper-case 'i' to 'İ'.
#pragma once

#include <charconv>
#include <concepts>
#include <cstddef>
#include <string_view>

namespace ringftpd::server::ftp::text {

[[nodiscard]] constexpr bool is_digit(char c) noexcept {
  return c >= '0' && c <= '9';
}

[[nodiscard]] constexpr bool is_alpha(char c) noexcept {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

[[nodiscard]] constexpr char to_upper(char c) noexcept {
  return (c >= 'a' && c <= 'z') ? static_cast<char>(c - 'a' + 'A') : c;
}

[[nodiscard]] constexpr bool iequals(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (to_upper(a[i]) != to_upper(b[i])) return false;
  }
  return true;
}

[[nodiscard]] constexpr bool all_digits(std::string_view s) noexcept {
  for (char c : s) {
    if (!is_digit(c)) return false;
  }
  return !s.empty();
}

// A non-empty run of ASCII digits and nothing else (no sign, no space), within T's range.
template <std::unsigned_integral T>
[[nodiscard]] bool parse_decimal(std::string_view s, T& out) noexcept {
  if (!all_digits(s)) return false;
  T value{};
  const auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (ec != std::errc{} || ptr != s.data() + s.size()) return false;
  out = value;
  return true;
}

}  // namespace ringftpd::server::ftp::text
