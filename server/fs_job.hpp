// FsJob: carries out one filesystem effect of the interpreter (CWD, MKD, DELE,
// RNTO, SIZE, …) through the ring, confined to the session's root.
//
// Every path is first opened with openat2(RESOLVE_IN_ROOT |
// RESOLVE_NO_MAGICLINKS) relative to the root fd, so neither ".." nor a
// symlink can lead outside it; the operation itself then works on that fd
// (statx with AT_EMPTY_PATH) or on a name inside the opened parent directory
// (mkdirat, unlinkat, renameat), so no second path walk happens outside the
// confinement. One job at a time per session; the job owns the fds it opens
// and closes them through the ring before it reports. STAT <dir> formats its
// listing in batches, one per loop turn (a no-op submission between two
// batches yields to the other sessions).
#pragma once

#include <linux/openat2.h>
#include <sys/stat.h>

#include <optional>
#include <string>

#include "io/unique_fd.hpp"
#include "server/fs/directory_lister.hpp"

#include "server/ftp/interpreter.hpp"
#include "server/ops.hpp"

namespace ringftpd::server {

class FsJob {
 public:
  explicit FsJob(OpSubmitter& submit) : submit_(submit) {}

  [[nodiscard]] bool busy() const noexcept { return stage_ != Stage::Idle; }

  // Starts the job; root_fd must stay open until the job reports. Returns
  // the outcome at once when no I/O is needed (a refusal).
  [[nodiscard]] std::optional<ftp::FsOutcome> start(int root_fd, std::uint8_t permissions,
                                                    ftp::effect::Fs fs) noexcept;

  // Feed every completion whose op is FsOpen/FsAct/FsClose; returns the
  // outcome once the job is done (all of its fds closed).
  [[nodiscard]] std::optional<ftp::FsOutcome> on_completion(Op op, int res) noexcept;

  [[nodiscard]] const ftp::effect::Fs& current() const noexcept { return fs_; }

 private:
  enum class Stage { Idle, OpenFirst, OpenSecond, Act, Closing };

  [[nodiscard]] io_uring_sqe* sqe(Op op) {
    ++pending_;
    return submit_.sqe(op);
  }
  void open_path(const std::string& rel, bool parent) noexcept;
  void act() noexcept;
  void finish(int error) noexcept;
  [[nodiscard]] std::optional<ftp::FsOutcome> done() noexcept;
  void close_next() noexcept;
  void list_next_batch() noexcept;

  OpSubmitter& submit_;
  Stage stage_ = Stage::Idle;
  unsigned pending_ = 0;  // this job's submissions not yet completed
  ftp::effect::Fs fs_;
  int root_fd_ = -1;
  std::uint8_t permissions_ = 0;
  io::UniqueFd fd1_;                           // the target, or the (first) parent directory
  io::UniqueFd fd2_;                           // RenameTo: the destination's parent directory
  std::optional<fs::DirectoryLister> lister_;  // StatList: owns fd1_ meanwhile
  std::size_t listed_ = 0;                     // StatList: entries so far
  std::string base1_, base2_, open_path_;
  open_how how_{};
  struct statx stx_ {};
  ftp::FsOutcome outcome_;
};

}  // namespace ringftpd::server
