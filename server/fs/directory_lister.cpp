#include "server/fs/directory_lister.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <string_view>
#include <utility>

#include "server/fs/listing_format.hpp"

namespace ringftpd::server::fs {
namespace {

// struct linux_dirent64 (getdents64(2)); read field by field with memcpy so nothing
// depends on the buffer's alignment or on a userspace definition of the struct.
constexpr std::size_t kReclenOffset = 16;  // after d_ino (u64) and d_off (s64)
constexpr std::size_t kNameOffset = 19;    // after d_reclen (u16) and d_type (u8)
constexpr int kMaxInterruptedReads = 3;

}  // namespace

DirectoryLister::DirectoryLister(io::UniqueFd dir, ListerOptions options)
    : dir_(std::move(dir)), options_(options), buffer_(std::make_unique<char[]>(kBufferBytes)) {}

bool DirectoryLister::fill(std::string& out, std::size_t max_entries, ListFormat format) {
  for (std::size_t budget = max_entries; budget > 0 && !done_; --budget) {
    if (pos_ >= len_ && !refill()) break;
    const char* record = buffer_.get() + pos_;
    std::uint16_t reclen = 0;
    std::memcpy(&reclen, record + kReclenOffset, sizeof reclen);
    pos_ += reclen;
    emit(out, record + kNameOffset, reclen - kNameOffset, format);
  }
  return !done_;
}

bool DirectoryLister::refill() {
  pos_ = 0;
  len_ = 0;
  long n = -1;
  for (int attempt = 0; attempt < kMaxInterruptedReads; ++attempt) {
    n = ::syscall(SYS_getdents64, dir_.get(), buffer_.get(), kBufferBytes);
    if (n >= 0 || errno != EINTR) break;
  }
  if (n < 0) {
    error_ = std::error_code(errno, std::system_category());
    done_ = true;
    return false;
  }
  if (n == 0) {
    done_ = true;
    return false;
  }
  // Check every record length once, so fill() can walk the buffer without checks and
  // a malformed record cannot make it loop forever or read past the data.
  const auto total = static_cast<std::size_t>(n);
  for (std::size_t p = 0; p < total;) {
    std::uint16_t reclen = 0;
    std::memcpy(&reclen, buffer_.get() + p + kReclenOffset, sizeof reclen);
    if (reclen <= kNameOffset || reclen > total - p) {
      error_ = std::make_error_code(std::errc::io_error);
      done_ = true;
      return false;
    }
    p += reclen;
  }
  len_ = total;
  return true;
}

void DirectoryLister::emit(std::string& out, const char* name, std::size_t room,
                           ListFormat format) {
  // The kernel NUL-terminates d_name inside its record; do not trust it blindly.
  const std::size_t name_len = ::strnlen(name, room);
  if (name_len == 0 || name_len == room) return;
  const std::string_view view(name, name_len);
  const bool is_dot = view == ".";
  if (view == ".." || (is_dot && format != ListFormat::Mlsd)) return;
  if (is_unlistable_name(view)) {
    ++counts_.skipped_bad_name;
    return;
  }
  if (format == ListFormat::Nlst) {
    if (format_nlst_line(out, view)) ++counts_.listed;
    return;
  }

  struct stat st {};
  // NOFOLLOW: a symlink is listed as itself; the lookup is one component below dir_.
  if (::fstatat(dir_.get(), name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
    ++counts_.skipped_vanished;
    return;
  }
  const EntryStat entry = from_stat(st);

  bool wrote = false;
  if (format == ListFormat::List) {
    std::array<char, 4096> target{};
    std::string_view target_view;
    if (options_.show_link_targets && S_ISLNK(st.st_mode)) {
      const ssize_t len = ::readlinkat(dir_.get(), name, target.data(), target.size());
      if (len > 0 && static_cast<std::size_t>(len) < target.size()) {
        target_view = std::string_view(target.data(), static_cast<std::size_t>(len));
      }
    }
    wrote = format_list_line(out, view, entry, options_.now, target_view);
  } else {
    const MlsxRole role = is_dot ? MlsxRole::CurrentDirectory : MlsxRole::Entry;
    wrote = format_mlsx_facts(out, view, entry, options_.permissions, false, role);
  }
  if (wrote) ++counts_.listed;
}

}  // namespace ringftpd::server::fs
