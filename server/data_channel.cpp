#include "server/data_channel.hpp"

#include <fcntl.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <type_traits>

#include "server/fs/confined.hpp"

namespace ringftpd::server {
namespace {

using ftp::effect::TransferKind;
using Result = ftp::TransferOutcome::Result;

std::string random_suffix() {
  unsigned char b[6];
  if (getrandom(b, sizeof b, GRND_NONBLOCK) != static_cast<ssize_t>(sizeof b)) {
    const auto t = static_cast<unsigned long>(std::time(nullptr));
    std::memcpy(b, &t, sizeof b);
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string s;
  for (unsigned char c : b) {
    s.push_back(kHex[c >> 4]);
    s.push_back(kHex[c & 15]);
  }
  return s;
}

fs::ListFormat list_format(TransferKind k) {
  return k == TransferKind::Nlst   ? fs::ListFormat::Nlst
         : k == TransferKind::Mlsd ? fs::ListFormat::Mlsd
                                   : fs::ListFormat::List;
}

// Calls f on the transfer kind the variant holds, if any.
template <class Variant, class F>
void visit_kind(Variant& v, F&& f) {
  std::visit(
      [&](auto& t) {
        if constexpr (!std::is_same_v<std::decay_t<decltype(t)>, std::monostate>) f(t);
      },
      v);
}

}  // namespace

bool DataChannel::has_transfer_fds() const noexcept {
  return data_fd_ || file_fd_ || parent_fd_ || lister_ ||
         !std::holds_alternative<std::monostate>(transfer_);
}

bool DataChannel::has_open_fds() const noexcept {
  return has_transfer_fds() || listen_fd_ || next_data_fd_ || retiring_listener_ || header_conn_;
}

bool DataChannel::is_upload() const noexcept {
  return request_ && (request_->kind == TransferKind::Stor ||
                      request_->kind == TransferKind::Appe || request_->kind == TransferKind::Stou);
}

bool DataChannel::is_listing() const noexcept {
  return request_ && (request_->kind == TransferKind::List ||
                      request_->kind == TransferKind::Nlst || request_->kind == TransferKind::Mlsd);
}

const TransferCore* DataChannel::core() const noexcept {
  const TransferCore* c = nullptr;
  visit_kind(transfer_, [&](const auto& t) { c = &t.core(); });
  return c;
}

std::size_t DataChannel::memory_bytes() const noexcept {
  std::size_t n = lister_ ? fs::DirectoryLister::kBufferBytes : 0;
  visit_kind(transfer_, [&](const auto& t) { n += t.memory_bytes(); });
  return n;
}

void DataChannel::close_fd(io::UniqueFd& fd, Op op) {
  if (submit_.close(std::move(fd), op)) ++pending_;
}

// ---------------------------------------------------------------- transfers

bool DataChannel::start(int root_fd, std::uint8_t permissions, const ftp::effect::Transfer& t,
                        tls::ExpectedOrigin expected, std::string control_certificate) {
  if (!is_idle_for_transfer()) return false;
  request_ = t;
  const bool upload =
      t.kind == TransferKind::Stor || t.kind == TransferKind::Appe || t.kind == TransferKind::Stou;
  const bool listing = !upload && t.kind != TransferKind::Retr;
  const bool binary = t.type == ftp::TransferType::Image;
  // The kind is chosen here, once.
  if (t.protect) {
    kind_ = upload ? Kind::TlsUpload : Kind::TlsDownload;
  } else if (listing || !binary) {
    kind_ = Kind::Buffered;
  } else {
    kind_ = upload ? Kind::ClearUpload : Kind::ClearSpliceDownload;
  }
  expected_origin_ = expected;
  control_certificate_ = std::move(control_certificate);
  root_fd_ = root_fd;
  permissions_ = permissions;
  outcome_ = {};
  event_.reset();
  temp_name_.clear();
  offset_ = t.offset;
  remaining_ = 0;
  started_ = Clock::now();
  stage_ = Stage::Opening;
  open_target();
  return true;
}

void DataChannel::open_target() {
  const ftp::effect::Transfer& t = *request_;
  if (is_upload()) {
    // Open the target's directory confined to the root; the file itself is
    // then created inside it by name, so no path walk escapes.
    const auto slash = t.rel.rfind('/');
    if (t.kind == TransferKind::Stou) {
      path_ = t.rel;
      base_ = "stou." + random_suffix();
    } else {
      path_ = slash == std::string::npos ? "." : t.rel.substr(0, slash);
      base_ = slash == std::string::npos ? t.rel : t.rel.substr(slash + 1);
    }
    if (base_ == ".") return fail(Result::FileError, EISDIR);
    how_ = fs::open_how_for(O_PATH | O_DIRECTORY | O_CLOEXEC);
  } else if (is_listing()) {
    path_ = t.rel;
    how_ = fs::open_how_for(O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  } else {
    path_ = t.rel;
    // O_NONBLOCK: opening a FIFO planted in the tree must not hang; anything
    // but a regular file is refused after the open.
    how_ = fs::open_how_for(O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  }
  io_uring_prep_openat2(sqe(Op::FileOpen), root_fd_, path_.c_str(), &how_);
}

void DataChannel::on_file_opened(int res) {
  io::UniqueFd opened(res >= 0 ? res : -1);
  if (stage_ != Stage::Opening) {  // aborted meanwhile
    close_fd(opened, Op::FileClose);
    return;
  }
  if (res < 0) return fail(Result::FileError, -res);
  if (is_upload() && !parent_fd_) {
    parent_fd_ = std::move(opened);
    const ftp::effect::Transfer& t = *request_;
    int flags = O_WRONLY | O_CLOEXEC | O_NOFOLLOW;
    const char* name = base_.c_str();
    if (t.kind == TransferKind::Appe) {
      // Not O_APPEND: splice refuses append-mode files. Writes go to explicit
      // offsets starting at the size found by the statx below.
      flags |= O_CREAT;
    } else if (t.kind == TransferKind::Stou) {
      flags |= O_CREAT | O_EXCL;
    } else if (t.offset > 0) {
      flags |= O_CREAT;  // REST + STOR: continue the existing file in place
    } else if (cfg_.transfer.atomic_uploads) {
      temp_name_ = "." + base_ + ".ringftpd-" + random_suffix();
      name = temp_name_.c_str();
      flags |= O_CREAT | O_EXCL;
    } else {
      flags |= O_CREAT | O_TRUNC;
    }
    io_uring_prep_openat(sqe(Op::FileOpen), parent_fd_.get(), name, flags, 0644);
    return;
  }
  if (is_listing()) {
    // The lister owns the directory fd from here; its reads are synchronous
    // getdents64 calls, so no ring operation ever names it.
    lister_.emplace(
        std::move(opened),
        fs::ListerOptions{permissions_, static_cast<std::int64_t>(std::time(nullptr)), false});
    event_ = DataEvent{DataEvent::Kind::Starting, std::nullopt, {}};
    return await_connection();
  }
  file_fd_ = std::move(opened);
  io_uring_prep_statx(sqe(Op::FileStat), file_fd_.get(), "", AT_EMPTY_PATH, STATX_BASIC_STATS,
                      &stx_);
}

void DataChannel::on_file_stat(int res) {
  if (stage_ != Stage::Opening) return;
  if (res < 0) return fail(Result::FileError, -res);
  if (S_ISDIR(stx_.stx_mode)) return fail(Result::FileError, EISDIR);
  if (!is_upload()) {
    if (!S_ISREG(stx_.stx_mode)) return fail(Result::FileError, EACCES);
    if (offset_ > stx_.stx_size) return fail(Result::FileError, EINVAL);
    remaining_ = stx_.stx_size - offset_;
    event_ = DataEvent{DataEvent::Kind::Starting, stx_.stx_size, {}};
  } else {
    if (request_->kind == TransferKind::Appe) offset_ = stx_.stx_size;
    event_ = DataEvent{DataEvent::Kind::Starting, std::nullopt, {}};
  }
  await_connection();
}

void DataChannel::await_connection() {
  stage_ = Stage::Connecting;
  if (data_fd_) return begin_transfer();
  if (active_target_) {
    data_fd_ = io::UniqueFd(::socket(active_target_->family(), SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!data_fd_) return fail(Result::NoConnection, errno);
    io_uring_prep_connect(sqe(Op::DataConnect), data_fd_.get(), active_target_->get(),
                          active_target_->length);
    connect_in_flight_ = true;
    return;
  }
  if (!listen_fd_) fail(Result::NoConnection, ENOTCONN);
  // else: the accept armed at PASV time completes the wait.
}

void DataChannel::begin_transfer() {
  stage_ = Stage::Moving;
  // Bandwidth limits apply to file data, not to listings.
  const TransferEnv env{submit_, cfg_, log_, who_, lister_ ? nullptr : &throttle_};
  const ftp::effect::Transfer& t = *request_;
  const bool ascii = t.type == ftp::TransferType::Ascii;
  auto tls_setup = [&] {
    return DataTlsLink::Setup{tls_context_, expected_origin_, control_certificate_, counters_,
                              started_};
  };
  // A clear connection is ready now; a protected one once its TLS is resumed
  // (DataTlsLink).
  const bool clear = kind_ != Kind::TlsDownload && kind_ != Kind::TlsUpload;
  if (clear && counters_ != nullptr) {
    counters_->observe(Histogram::DataSetupSeconds, Clock::now() - started_);
  }
  switch (kind_) {
    case Kind::ClearSpliceDownload:
      transfer_.emplace<ClearSpliceDownload>(env, data_fd_, std::move(file_fd_), offset_,
                                             remaining_);
      break;
    case Kind::ClearUpload:
      transfer_.emplace<ClearUpload>(env, data_fd_, std::move(file_fd_), offset_);
      break;
    case Kind::Buffered:
      if (lister_) {
        transfer_.emplace<BufferedTransfer>(
            env, data_fd_, BufferedTransfer::Listing{std::move(*lister_), list_format(t.kind)});
      } else if (is_upload()) {
        transfer_.emplace<BufferedTransfer>(
            env, data_fd_, BufferedTransfer::AsciiUpload{std::move(file_fd_), offset_});
      } else {
        transfer_.emplace<BufferedTransfer>(
            env, data_fd_,
            BufferedTransfer::AsciiDownload{std::move(file_fd_), offset_, remaining_});
      }
      break;
    case Kind::TlsDownload:
      if (lister_) {
        transfer_.emplace<TlsDownload>(
            env, data_fd_, tls_setup(),
            TlsDownload::Listing{std::move(*lister_), list_format(t.kind)});
      } else {
        transfer_.emplace<TlsDownload>(
            env, data_fd_, tls_setup(),
            TlsDownload::File{std::move(file_fd_), offset_, remaining_, ascii});
      }
      break;
    case Kind::TlsUpload:
      transfer_.emplace<TlsUpload>(env, data_fd_, tls_setup(), std::move(file_fd_), offset_, ascii);
      break;
  }
  lister_.reset();  // moved into the transfer
  visit_kind(transfer_, [](auto& k) { k.begin(); });
}

// ---------------------------------------------------------------- endings

// The transfer ends before its kind moved a byte (open failed, no data
// connection, ABOR, a stall), or its kind is told to stop.
void DataChannel::fail(Result r, int error) {
  if (stage_ == Stage::Idle || stage_ == Stage::Finishing || stage_ == Stage::Closing) return;
  if (stage_ == Stage::Moving) {
    visit_kind(transfer_, [&](auto& k) { k.stop(r, error); });
    return;  // next_event() sees the end
  }
  if (r != Result::Aborted) {
    log_.debug(who_, "transfer ended early: " + std::string(std::strerror(error)));
  }
  outcome_ = {r, error, 0, {}};
  stage_ = Stage::Finishing;
  if (connect_in_flight_) {
    io_uring_prep_cancel_fd(submit_.untracked_sqe(), data_fd_.get(), IORING_ASYNC_CANCEL_ALL);
  }
  retire_listener();
}

void DataChannel::abort() {
  if (stage_ == Stage::Idle) return release_idle();
  fail(Result::Aborted, ECANCELED);
}

// A drained transfer: its fds are closed, its buffers freed; an atomic upload
// is renamed over its target, or its temporary file removed.
void DataChannel::retire_transfer() {
  FdsToClose fds;
  visit_kind(transfer_, [&](auto& k) { k.release_fds(fds); });
  for (auto& [fd, op] : fds) close_fd(fd, op);
  transfer_.emplace<std::monostate>();
  if (temp_name_.empty() || !parent_fd_) return;
  if (outcome_.result == Result::Done) {
    // The upload is complete: only now does it replace the target.
    io_uring_prep_renameat(sqe(Op::FileRename), parent_fd_.get(), temp_name_.c_str(),
                           parent_fd_.get(), base_.c_str(), 0);
  } else {
    // Drop the partial temporary file; the previous target stays untouched.
    io_uring_prep_unlinkat(sqe(Op::FileUnlink), parent_fd_.get(), temp_name_.c_str(), 0);
  }
}

void DataChannel::advance_finishing() {
  if (stage_ == Stage::Moving) {
    const TransferCore* c = core();
    if (c == nullptr || !c->has_ended()) return;
    const TransferEnd& end = *c->end();
    if (end.result != Result::Done && end.result != Result::Aborted) {
      log_.debug(who_, "transfer ended early: " + std::string(std::strerror(end.error)) +
                           " after " + std::to_string(c->bytes()) + " bytes");
    }
    outcome_ = {end.result, end.error, c->bytes(),
                end.result == Result::Done && request_->kind == TransferKind::Stou ? base_ : ""};
    stage_ = Stage::Finishing;
    retire_listener();
  }
  if (stage_ == Stage::Finishing) {
    // The transfer drained, and the channel's own operations completed (an
    // open in flight may still create the temporary file an unlink removes).
    const TransferCore* c = core();
    if ((c != nullptr && !c->is_drained()) || pending_ > 0) return;
    retire_transfer();
    stage_ = Stage::Closing;
  }
  if (stage_ != Stage::Closing || pending_ > 0) return;
  // Every operation has completed: nothing names our fds any more.
  close_fd(data_fd_, Op::DataClose);
  close_fd(file_fd_, Op::FileClose);
  close_fd(parent_fd_, Op::FileClose);
  if (lister_) {
    io::UniqueFd dir = lister_->release_dir();
    close_fd(dir, Op::FileClose);
    lister_.reset();
  }
  if (pending_ > 0 || has_transfer_fds()) return;
  stage_ = Stage::Idle;
  data_fd_ = std::move(next_data_fd_);
  request_.reset();
  temp_name_.clear();
  event_ = DataEvent{DataEvent::Kind::Finished, std::nullopt, outcome_};
}

DataEvent DataChannel::next_event() {
  if (!event_) advance_finishing();
  if (event_) {
    DataEvent e = std::move(*event_);
    event_.reset();
    return e;
  }
  return {};
}

DataEvent DataChannel::on_completion(Op op, int res, std::uint32_t flags) {
  switch (op) {
    case Op::SpliceIn:
    case Op::SpliceOut:
    case Op::DataSend:
    case Op::DataRecv:
    case Op::FileRead:
    case Op::FileWrite:
      // The transfer's own operations: it counts them.
      visit_kind(transfer_, [&](auto& k) { k.on_completion(op, res, flags); });
      return next_event();
    default:
      break;
  }
  if (op == Op::DataAccept) {
    on_accept(res);
    return next_event();
  }
  if (op == Op::DataProxyRecv) {
    on_header_recv(res);
    return next_event();
  }
  if (!(flags & IORING_CQE_F_MORE) && pending_ > 0) --pending_;
  switch (op) {
    case Op::DataConnect:
      connect_in_flight_ = false;
      if (stage_ != Stage::Connecting) break;  // ended meanwhile: closed with the rest
      if (res < 0) {
        fail(Result::NoConnection, -res);
      } else {
        begin_transfer();
      }
      break;
    case Op::FileOpen:
      on_file_opened(res);
      break;
    case Op::FileStat:
      on_file_stat(res);
      break;
    case Op::FileRename:
      if (res < 0) {
        outcome_ = {storage_result(-res), -res, outcome_.bytes, {}};
        io_uring_prep_unlinkat(sqe(Op::FileUnlink), parent_fd_.get(), temp_name_.c_str(), 0);
      }
      break;
    case Op::FileUnlink:
      // A partial upload that stays behind (hidden, but taking space) must
      // be findable: say which file and why. ENOENT: an open that failed
      // never created it.
      if (res < 0 && res != -ENOENT) {
        log_.warn(who_, "cannot remove the partial upload " + temp_name_ + " beside " +
                            (request_ ? request_->vpath : std::string("?")) + ": " +
                            std::strerror(-res));
      }
      break;
    default:
      break;  // closes
  }
  return next_event();
}

DataEvent DataChannel::on_pace() {
  throttle_.on_pace();
  if (stage_ == Stage::Moving) visit_kind(transfer_, [](auto& k) { k.resume(); });
  return next_event();
}

DataEvent DataChannel::on_tick(Clock::time_point now) {
  if (stage_ != Stage::Opening && stage_ != Stage::Connecting && stage_ != Stage::Moving) return {};
  const TransferCore* c = core();
  const Clock::time_point last = c != nullptr ? c->last_progress() : started_;
  const auto limit = std::chrono::seconds(cfg_.limits.data_stall_timeout_seconds);
  if (now - last > limit) {
    log_.info(who_, "data connection stalled; transfer ended");
    fail(stage_ == Stage::Moving ? Result::ConnectionLost : Result::NoConnection, ETIMEDOUT);
  }
  return next_event();
}

}  // namespace ringftpd::server
