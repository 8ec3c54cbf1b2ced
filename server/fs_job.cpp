#include "server/fs_job.hpp"

#include <fcntl.h>
#include <sys/stat.h>

#include <algorithm>
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
// Entries formatted per loop turn (each costs an fstatat).
constexpr std::size_t kStatListBatch = 128;

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
  outcome_ = {};
  listed_ = 0;
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
  if (stage_ != Stage::Closing || fd1_ || fd2_ || lister_ || pending_ != 0) return std::nullopt;
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
        fd1_.reset(res);
        if (fs_.op == FsOp::RenameTo) {
          auto [parent, base] = split_parent(fs_.rel);
          base2_ = std::move(base);
          stage_ = Stage::OpenSecond;
          open_path(parent, true);
          break;
        }
      } else {
        fd2_.reset(res);
      }
      act();
      break;
    case Op::FsAct:
      if (lister_) {
        list_next_batch();  // the yield between two batches has completed
        break;
      }
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
      io_uring_prep_statx(sqe(Op::FsAct), fd1_.get(), "", AT_EMPTY_PATH, STATX_BASIC_STATS, &stx_);
      return;
    case FsOp::MakeDir:
      io_uring_prep_mkdirat(sqe(Op::FsAct), fd1_.get(), base1_.c_str(), 0755);
      return;
    case FsOp::RemoveDir:
      io_uring_prep_unlinkat(sqe(Op::FsAct), fd1_.get(), base1_.c_str(), AT_REMOVEDIR);
      return;
    case FsOp::Delete:
      io_uring_prep_unlinkat(sqe(Op::FsAct), fd1_.get(), base1_.c_str(), 0);
      return;
    case FsOp::RenameTo:
      io_uring_prep_renameat(sqe(Op::FsAct), fd1_.get(), base1_.c_str(), fd2_.get(), base2_.c_str(),
                             0);
      return;
    case FsOp::SetModTime: {
      // io_uring has no utimensat. On an O_PATH fd this touches only the
      // inode's metadata: no data I/O, no path walk.
      const timespec times[2] = {
          {0, UTIME_OMIT},
          {static_cast<time_t>(fs_.time.seconds), static_cast<long>(fs_.time.nanoseconds)}};
      const int rc = utimensat(fd1_.get(), "", times, AT_EMPTY_PATH);
      finish(rc == 0 ? 0 : errno);
      return;
    }
    case FsOp::StatList:
      lister_.emplace(
          std::move(fd1_),
          fs::ListerOptions{permissions_, static_cast<std::int64_t>(std::time(nullptr)), false});
      list_next_batch();
      return;
  }
}

// One batch of STAT's listing per loop turn, at most kStatListMaxEntries in
// all. A directory that cannot be read to the end is an error, not a short
// listing.
void FsJob::list_next_batch() noexcept {
  const std::size_t batch = std::min(kStatListBatch, kStatListMaxEntries - listed_);
  const std::size_t before = outcome_.text.size();
  const bool more = lister_->fill(outcome_.text, batch, fs::ListFormat::List);
  listed_ += static_cast<std::size_t>(std::count(
      outcome_.text.begin() + static_cast<std::ptrdiff_t>(before), outcome_.text.end(), '\n'));
  const int error = lister_->error().value();
  if (more && error == 0 && listed_ < kStatListMaxEntries) {
    io_uring_prep_nop(sqe(Op::FsAct));  // yield; the next batch runs on its completion
    return;
  }
  if (more && error == 0) outcome_.text += "(listing truncated; use LIST)\n";
  fd1_ = lister_->release_dir();
  lister_.reset();
  finish(error);
}

void FsJob::finish(int error) noexcept {
  if (outcome_.error == 0) outcome_.error = error;
  stage_ = Stage::Closing;
  close_next();
}

// One close at a time; the next on its completion. Every operation that
// named these fds has completed by now (a job has one in flight at a time).
void FsJob::close_next() noexcept {
  io::UniqueFd& fd = fd1_ ? fd1_ : fd2_;
  if (!fd) return;
  ++pending_;
  (void)submit_.close(std::move(fd), Op::FsClose);
}

}  // namespace ringftpd::server
