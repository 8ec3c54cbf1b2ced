#include "server/fs_job.hpp"

#include <fcntl.h>
#include <sys/stat.h>

#include <cerrno>
#include <ctime>

#include "server/fs/confined.hpp"
#include "server/fs/directory_lister.hpp"
#include "server/fs/listing_format.hpp"
#include "server/fs/virtual_path.hpp"

namespace ringftpd::server {
namespace {

using ftp::effect::FsOp;

// STAT <dir> lists over the control connection; it is capped so one command
// cannot make the worker format a huge directory in one go.
constexpr std::size_t kStatListMaxEntries = 2000;

// "a/b/c" -> ("a/b", "c"); "c" -> (".", "c").
std::pair<std::string, std::string> split_parent(const std::string& rel) {
  const auto slash = rel.rfind('/');
  if (slash == std::string::npos) return {".", rel};
  return {rel.substr(0, slash), rel.substr(slash + 1)};
}

bool works_on_parent(FsOp op) {
  return op == FsOp::MakeDir || op == FsOp::RemoveDir || op == FsOp::Delete || op == FsOp::RenameTo;
}

}  // namespace

std::optional<ftp::FsOutcome> FsJob::start(int root_fd, std::uint8_t permissions,
                                           ftp::effect::Fs fs) noexcept {
  fs_ = std::move(fs);
  root_fd_ = root_fd;
  permissions_ = permissions;
  fd1_ = fd2_ = -1;
  outcome_ = {};
  if (works_on_parent(fs_.op)) {
    // The root itself can be neither created, removed nor renamed.
    if (fs_.rel == "." || (fs_.op == FsOp::RenameTo && fs_.rel2 == ".")) {
      finish(EACCES);
      return done();
    }
    auto [parent, base] = split_parent(fs_.op == FsOp::RenameTo ? fs_.rel2 : fs_.rel);
    base1_ = std::move(base);
    stage_ = Stage::OpenFirst;
    open_path(parent, true);
  } else {
    stage_ = Stage::OpenFirst;
    open_path(fs_.rel, fs_.op == FsOp::StatList);
  }
  return std::nullopt;
}

std::optional<ftp::FsOutcome> FsJob::done() noexcept {
  if (stage_ != Stage::Closing || fd1_ >= 0 || fd2_ >= 0 || pending_ != 0) return std::nullopt;
  stage_ = Stage::Idle;
  return outcome_;
}

void FsJob::open_path(const std::string& rel, bool directory) noexcept {
  open_path_ = rel;  // must outlive the submission
  int flags = O_CLOEXEC;
  if (fs_.op == FsOp::StatList) {
    flags |= O_RDONLY | O_DIRECTORY;
  } else {
    flags |= O_PATH;
    if (directory) flags |= O_DIRECTORY;
  }
  how_ = fs::open_how_for(flags);
  io_uring_prep_openat2(sqe(Op::FsOpen), root_fd_, open_path_.c_str(), &how_);
}

std::optional<ftp::FsOutcome> FsJob::on_completion(Op op, int res) noexcept {
  --pending_;
  switch (op) {
    case Op::FsOpen:
      if (res < 0) {
        finish(-res);
        break;
      }
      if (stage_ == Stage::OpenFirst) {
        fd1_ = res;
        if (fs_.op == FsOp::RenameTo) {
          auto [parent, base] = split_parent(fs_.rel);
          base2_ = std::move(base);
          stage_ = Stage::OpenSecond;
          open_path(parent, true);
          break;
        }
      } else {
        fd2_ = res;
      }
      act();
      break;
    case Op::FsAct:
      if (res < 0) {
        finish(-res);
        break;
      }
      if (fs_.op == FsOp::ChangeDir || fs_.op == FsOp::Size || fs_.op == FsOp::ModTime ||
          fs_.op == FsOp::StatPath || fs_.op == FsOp::RenameFrom) {
        const fs::EntryStat st = fs::from_statx(stx_);
        outcome_.is_directory = S_ISDIR(st.mode);
        outcome_.size = st.size;
        outcome_.mtime = {st.mtime_sec, st.mtime_nsec};
        if (fs_.op == FsOp::StatPath) {
          const bool dir = S_ISDIR(st.mode);
          fs::format_mlsx_facts(outcome_.text, fs_.vpath, st, permissions_, true,
                                dir ? fs::MlsxRole::CurrentDirectory : fs::MlsxRole::Entry);
        }
      }
      finish(0);
      break;
    case Op::FsClose:
      close_next();
      break;
    default:
      break;
  }
  return done();
}

void FsJob::act() noexcept {
  stage_ = Stage::Act;
  switch (fs_.op) {
    case FsOp::ChangeDir:
    case FsOp::Size:
    case FsOp::ModTime:
    case FsOp::StatPath:
    case FsOp::RenameFrom:
      io_uring_prep_statx(sqe(Op::FsAct), fd1_, "", AT_EMPTY_PATH, STATX_BASIC_STATS, &stx_);
      return;
    case FsOp::MakeDir:
      io_uring_prep_mkdirat(sqe(Op::FsAct), fd1_, base1_.c_str(), 0755);
      return;
    case FsOp::RemoveDir:
      io_uring_prep_unlinkat(sqe(Op::FsAct), fd1_, base1_.c_str(), AT_REMOVEDIR);
      return;
    case FsOp::Delete:
      io_uring_prep_unlinkat(sqe(Op::FsAct), fd1_, base1_.c_str(), 0);
      return;
    case FsOp::RenameTo:
      io_uring_prep_renameat(sqe(Op::FsAct), fd1_, base1_.c_str(), fd2_, base2_.c_str(), 0);
      return;
    case FsOp::SetModTime: {
      // io_uring has no utimensat. On an O_PATH fd this touches only the
      // inode's metadata: no data I/O, no path walk.
      const timespec times[2] = {
          {0, UTIME_OMIT},
          {static_cast<time_t>(fs_.time.seconds), static_cast<long>(fs_.time.nanoseconds)}};
      const int rc = utimensat(fd1_, "", times, AT_EMPTY_PATH);
      finish(rc == 0 ? 0 : errno);
      return;
    }
    case FsOp::StatList: {
      // Bounded: at most kStatListMaxEntries entries are formatted.
      fs::DirectoryLister lister(
          io::UniqueFd(fd1_),
          fs::ListerOptions{permissions_, static_cast<std::int64_t>(std::time(nullptr)), false});
      fd1_ = -1;  // the lister owns and closes it
      const bool more = lister.fill(outcome_.text, kStatListMaxEntries, fs::ListFormat::List);
      if (more) outcome_.text += "(listing truncated; use LIST)\n";
      finish(0);
      return;
    }
  }
}

void FsJob::finish(int error) noexcept {
  if (outcome_.error == 0) outcome_.error = error;
  stage_ = Stage::Closing;
  close_next();
}

void FsJob::close_next() noexcept {
  int* fd = fd1_ >= 0 ? &fd1_ : fd2_ >= 0 ? &fd2_ : nullptr;
  if (fd == nullptr) return;
  io_uring_prep_close(sqe(Op::FsClose), *fd);
  *fd = -1;
}

}  // namespace ringftpd::server
