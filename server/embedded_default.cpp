#include "server/embedded_default.hpp"

#include <sys/random.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <stdexcept>
#include <system_error>

#include "server/password_hash.hpp"

namespace ringftpd::server {
namespace {

constexpr const char* kAccountName = "demo";
constexpr std::size_t kPasswordChars = 16;

std::string random_password() {
  // No look-alike characters (0/O, 1/l/I): it is read off a terminal.
  static constexpr char kAlphabet[] = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
  unsigned char bytes[kPasswordChars];
  if (getrandom(bytes, sizeof bytes, 0) != static_cast<ssize_t>(sizeof bytes)) {
    throw std::system_error(errno, std::generic_category(), "getrandom");
  }
  std::string out;
  for (unsigned char b : bytes) out.push_back(kAlphabet[b % (sizeof kAlphabet - 1)]);
  return out;
}

}  // namespace

std::string default_state_dir() {
  if (geteuid() == 0) return "/var/lib/ringftpd";
  if (const char* xdg = std::getenv("XDG_STATE_HOME"); xdg != nullptr && *xdg == '/') {
    return std::string(xdg) + "/ringftpd";
  }
  if (const char* home = std::getenv("HOME"); home != nullptr && *home == '/') {
    return std::string(home) + "/.local/state/ringftpd";
  }
  throw std::runtime_error("no state directory: set HOME or pass --state-dir");
}

EmbeddedSetup make_embedded_setup(const CliOptions& options) {
  namespace fs = std::filesystem;
  const std::string dir = options.serve_dir.empty() ? "." : options.serve_dir;
  std::error_code ec;
  const fs::path root = fs::canonical(dir, ec);
  if (ec || !fs::is_directory(root, ec)) {
    throw std::runtime_error(dir + ": not a directory that can be served" +
                             (ec ? " (" + ec.message() + ")" : ""));
  }
  const std::string state_dir = options.state_dir.empty() ? default_state_dir() : options.state_dir;
  // The certificate code creates the last component with mode 0700; its
  // parents (~/.local/state) are ordinary directories.
  fs::create_directories(fs::path(state_dir).parent_path(), ec);

  EmbeddedSetup setup{config::embedded_default(state_dir), {}};
  if (options.port) setup.config.listeners.at(0).port = *options.port;
  setup.account.password = random_password();
  setup.account.user.name = kAccountName;
  setup.account.user.root = root.string();
  setup.account.user.permissions = config::kPermReadOnly;
  // sha512-crypt: the password is random and long, so the fast scheme costs
  // nothing in strength and keeps start-up instant.
  setup.account.user.password_hash = hash_password(setup.account.password, HashScheme::Sha512Crypt);
  return setup;
}

std::string connection_help(const config::Config& cfg, const EmbeddedAccount& account,
                            const std::string& cert_fingerprint) {
  const config::Listener& l = cfg.listeners.at(0);
  const std::string host = l.address + ":" + std::to_string(l.port);
  const std::string& user = account.user.name;
  const std::string& pw = account.password;
  std::string s;
  s += "ringftpd: serving " + account.user.root + " read-only on " + host +
       " (FTPS: AUTH TLS required before login, data protected)\n";
  s += "  account:     " + user + "   password: " + pw + "\n";
  s += "  certificate: self-signed, SHA-256 " + cert_fingerprint + "\n";
  s += "  connect with curl:\n";
  s += "    curl --ssl-reqd -k -u " + user + ":" + pw + " ftp://" + host + "/\n";
  s += "  connect with lftp:\n";
  s += "    lftp -u " + user + "," + pw +
       " -e 'set ftp:ssl-force true; set ftp:ssl-protect-data true;"
       " set ssl:verify-certificate no' -p " +
       std::to_string(l.port) + " " + l.address + "\n";
  return s;
}

}  // namespace ringftpd::server
