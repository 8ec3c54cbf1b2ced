#include "server/data_transfer.hpp"

namespace ringftpd::server {

void append_ascii_download(std::string& out, std::string_view in) {
  out.reserve(out.size() + in.size() + in.size() / 16);
  for (const char c : in) {
    if (c == '\n') out.push_back('\r');
    out.push_back(c);
  }
}

void append_ascii_upload(std::string& out, std::string_view in, bool& cr_pending) {
  for (char c : in) {
    if (cr_pending) {
      cr_pending = false;
      if (c != '\n') out.push_back('\r');
    }
    if (c == '\r') {
      cr_pending = true;
      continue;
    }
    out.push_back(c);
  }
}

}  // namespace ringftpd::server
