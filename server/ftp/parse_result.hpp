// The result type of the FTP argument parsers (command.hpp, host_port.hpp, timeval.hpp).
//
// Pure data; no allocation. Each parser documents which reply the session sends for
// each status, but the usual mapping is:
//   Ok          -> carry on with `value`
//   Syntax      -> 501 (syntax error in parameters or arguments)
//   Unsupported -> well-formed but a parameter we do not implement: 504 for TYPE, MODE,
//                  STRU, AUTH; 522 for EPRT/EPSV network protocols; 536 for PROT S/E.
#pragma once

#include <cstdint>

namespace ringftpd::server::ftp {

enum class ParseStatus : std::uint8_t {
  Ok,
  Syntax,
  Unsupported,
};

template <class T>
struct ParseResult {
  ParseStatus status = ParseStatus::Syntax;
  T value{};  // meaningful only when status == Ok

  [[nodiscard]] constexpr bool ok() const noexcept { return status == ParseStatus::Ok; }

  [[nodiscard]] static constexpr ParseResult success(T v) noexcept {
    return ParseResult{ParseStatus::Ok, v};
  }
  [[nodiscard]] static constexpr ParseResult syntax_error() noexcept {
    return ParseResult{ParseStatus::Syntax, T{}};
  }
  [[nodiscard]] static constexpr ParseResult unsupported() noexcept {
    return ParseResult{ParseStatus::Unsupported, T{}};
  }
};

}  // namespace ringftpd::server::ftp
