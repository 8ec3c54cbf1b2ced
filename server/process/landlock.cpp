#include "server/process/landlock.hpp"

#include <fcntl.h>
#include <linux/landlock.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <system_error>

#include "io/unique_fd.hpp"

namespace ringftpd::server {
namespace {

// Rights newer than the build machine's <linux/landlock.h> (ABI 2); their
// values are the kernel's ABI and never change.
constexpr std::uint64_t kTruncate = 1ULL << 14;  // ABI 3
constexpr std::uint64_t kIoctlDev = 1ULL << 15;  // ABI 5

constexpr std::uint64_t kReadTree = LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_READ_DIR;
constexpr std::uint64_t kWriteTree =
    kReadTree | LANDLOCK_ACCESS_FS_WRITE_FILE | LANDLOCK_ACCESS_FS_REMOVE_DIR |
    LANDLOCK_ACCESS_FS_REMOVE_FILE | LANDLOCK_ACCESS_FS_MAKE_DIR | LANDLOCK_ACCESS_FS_MAKE_REG |
    LANDLOCK_ACCESS_FS_REFER | kTruncate;
constexpr std::uint64_t kReadFile = LANDLOCK_ACCESS_FS_READ_FILE;

// Every file-system right this ABI knows is handled (denied unless a rule
// grants it): a right left unhandled would be allowed everywhere.
std::uint64_t handled_rights(int abi) noexcept {
  std::uint64_t all = (LANDLOCK_ACCESS_FS_MAKE_SYM << 1) - 1;  // ABI 1: bits 0..12
  if (abi >= 2) all |= LANDLOCK_ACCESS_FS_REFER;
  if (abi >= 3) all |= kTruncate;
  if (abi >= 5) all |= kIoctlDev;
  return all;
}

[[noreturn]] void fail(const char* what) {
  throw std::system_error(errno, std::generic_category(), what);
}

bool add_rule(int ruleset, const std::string& path, int open_flags, std::uint64_t rights,
              LandlockOutcome& out) {
  const io::UniqueFd fd(::open(path.c_str(), O_PATH | O_CLOEXEC | open_flags));
  if (!fd) {
    const int error = errno;
    out.skipped.push_back(path + ": " + std::strerror(error));
    return false;
  }
  landlock_path_beneath_attr rule{};
  rule.allowed_access = rights;
  rule.parent_fd = fd.get();
  if (::syscall(SYS_landlock_add_rule, ruleset, LANDLOCK_RULE_PATH_BENEATH, &rule, 0) != 0) {
    fail("landlock_add_rule");
  }
  return true;
}

}  // namespace

int landlock_abi() noexcept {
  const long abi =
      ::syscall(SYS_landlock_create_ruleset, nullptr, 0, LANDLOCK_CREATE_RULESET_VERSION);
  return abi < 0 ? 0 : static_cast<int>(abi);
}

LandlockOutcome restrict_file_access(std::span<const SandboxRoot> trees,
                                     std::span<const std::string> readable_files) {
  LandlockOutcome out;
  out.abi = landlock_abi();
  if (out.abi == 0) return out;
  const std::uint64_t handled = handled_rights(out.abi);
  landlock_ruleset_attr attr{};
  attr.handled_access_fs = handled;
  const io::UniqueFd ruleset(
      static_cast<int>(::syscall(SYS_landlock_create_ruleset, &attr, sizeof attr, 0)));
  if (!ruleset) fail("landlock_create_ruleset");
  for (const SandboxRoot& t : trees) {
    const std::uint64_t rights = (t.writable ? kWriteTree : kReadTree) & handled;
    out.trees += add_rule(ruleset.get(), t.path, O_DIRECTORY, rights, out) ? 1 : 0;
  }
  for (const std::string& f : readable_files) {
    out.files += add_rule(ruleset.get(), f, 0, kReadFile, out) ? 1 : 0;
  }
  // Needs PR_SET_NO_NEW_PRIVS (set by the worker before it dropped privileges).
  if (::syscall(SYS_landlock_restrict_self, ruleset.get(), 0) != 0) fail("landlock_restrict_self");
  return out;
}

}  // namespace ringftpd::server
