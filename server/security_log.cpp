#include "server/security_log.hpp"

#include <string>

namespace ringftpd::server {

std::string_view login_failure_name(LoginFailure why) noexcept {
  switch (why) {
    case LoginFailure::BadCredentials:
      return "bad credentials";
    case LoginFailure::AddressThrottled:
      return "address throttled";
    case LoginFailure::TooLong:
      return "too long";
  }
  return "?";
}

std::string_view refusal_name(Refusal why) noexcept {
  switch (why) {
    case Refusal::PerAddressLimit:
      return "per-address limit";
    case Refusal::Capacity:
      return "capacity";
  }
  return "?";
}

void log_login_failed(Log& log, const io::SocketAddress& peer, LoginFailure why,
                      std::string_view user) noexcept {
  try {
    std::string shown(user.substr(0, kMaxLoggedUserBytes));
    if (user.size() > kMaxLoggedUserBytes) shown.append("...");
    std::string text = "login failed (";
    text.append(login_failure_name(why)).append("): user ").append(shown);
    log.event(config::LogLevel::Warn, peer.to_string(), text, "login_failed",
              {text_field("user", shown), text_field("reason", login_failure_name(why))});
  } catch (...) {  // out of memory: the line is lost, the session goes on
  }
}

void log_refused(Log& log, const io::SocketAddress& peer, Refusal why,
                 std::string_view detail) noexcept {
  try {
    std::string text = "refused (";
    text.append(refusal_name(why)).append("): ").append(detail);
    log.event(config::LogLevel::Warn, peer.to_string(), text, "refused",
              {text_field("reason", refusal_name(why)), text_field("detail", detail)});
  } catch (...) {
  }
}

}  // namespace ringftpd::server
