// The text of `ringftpd --version`.
#pragma once

#include <string>

namespace ringftpd::server {

[[nodiscard]] std::string version_text();

}  // namespace ringftpd::server
