#include "server/data_channel.hpp"

#include <fcntl.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>

#include "server/fs/confined.hpp"

namespace ringftpd::server {
namespace {

using ftp::effect::TransferKind;
using Result = ftp::TransferOutcome::Result;

constexpr int kPipeBytes = 1 << 20;  // binary RETR: the pipe between file and socket
constexpr unsigned kPassiveBindAttempts = 64;

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

}  // namespace

bool DataChannel::has_open_fds() const noexcept {
  return listen_fd_ || data_fd_ || file_fd_ || parent_fd_ || pipe_read_ || pipe_write_ ||
         !retiring_listeners_.empty();
}

std::size_t DataChannel::memory_bytes() const noexcept {
  // A string's inline (small-string) buffer is no allocation.
  const std::size_t inline_bytes = std::string().capacity();
  std::size_t n = cipher_send_.capacity();
  for (const std::string* s : {&buffer_, &read_buffer_}) {
    if (s->capacity() > inline_bytes) n += s->capacity();
  }
  for (const auto& p : plain_) n += p.capacity();
  if (receive_buffers_)
    n += std::size_t{receive_buffers_->count()} * receive_buffers_->buffer_size();
  if (lister_) n += fs::DirectoryLister::kBufferBytes;
  if (tls_) n += tls_->pending_ciphertext().size();
  return n;
}

bool DataChannel::is_upload() const noexcept {
  return transfer_ &&
         (transfer_->kind == TransferKind::Stor || transfer_->kind == TransferKind::Appe ||
          transfer_->kind == TransferKind::Stou);
}

bool DataChannel::is_binary() const noexcept {
  return transfer_ && transfer_->type == ftp::TransferType::Image;
}

bool DataChannel::is_listing() const noexcept {
  return transfer_ &&
         (transfer_->kind == TransferKind::List || transfer_->kind == TransferKind::Nlst ||
          transfer_->kind == TransferKind::Mlsd);
}

void DataChannel::close_fd(io::UniqueFd& fd, Op op) {
  if (submit_.close(std::move(fd), op)) ++pending_;
}

// Stops listening at once. A pending accept is cancelled; the listener is
// closed only when that accept has completed (-ECANCELED, or a connection it
// took just before), so no operation ever names a closed fd number.
void DataChannel::retire_listener() {
  if (!listen_fd_) return;
  if (accept_armed_) {
    io_uring_prep_cancel_fd(submit_.untracked_sqe(), listen_fd_.get(), 0);
    retiring_listeners_.push_back(std::move(listen_fd_));
    ++retiring_accepts_;
  } else {
    close_fd(listen_fd_, Op::ListenClose);
  }
  accept_armed_ = false;
  passive_port_ = 0;
}

void DataChannel::release_idle() {
  if (transfer_) return;
  retire_listener();
  close_fd(data_fd_, Op::DataClose);  // no operation names it between transfers
  active_target_.reset();
}

// ---------------------------------------------------------------- set-up

ftp::PassiveOutcome DataChannel::open_passive(const io::SocketAddress& control_local,
                                              const io::SocketAddress& control_peer) {
  release_idle();
  control_peer_ = control_peer;
  ftp::PassiveOutcome out;
  // bind/listen on a fresh socket never block; they run once per PASV.
  io::UniqueFd fd(::socket(control_local.family(), SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) return {errno, {}, 0};
  // Every transfer leaves its port in TIME_WAIT for a minute; without
  // SO_REUSEADDR a range of N ports would serve only N transfers a minute.
  const int one = 1;
  setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  const unsigned attempts = std::min<unsigned>(kPassiveBindAttempts, ports_.size());
  int err = EADDRINUSE;
  for (unsigned i = 0; i < attempts; ++i) {
    io::SocketAddress a = control_local;
    const std::uint16_t port = ports_.next();
    if (a.family() == AF_INET) {
      reinterpret_cast<sockaddr_in*>(&a.storage)->sin_port = htons(port);
    } else {
      reinterpret_cast<sockaddr_in6*>(&a.storage)->sin6_port = htons(port);
    }
    if (::bind(fd.get(), a.get(), a.length) == 0) {
      err = 0;
      out.port = port;
      break;
    }
    err = errno;
    if (err != EADDRINUSE) break;
  }
  if (err != 0 || ::listen(fd.get(), 4) != 0) {
    log_.warn(who_, std::string("passive port: ") + std::strerror(err ? err : errno));
    return {err ? err : errno, {}, 0};
  }
  // PASV advertises an IPv4 address: the configured public one, else ours.
  const std::string& public_ip = cfg_.passive.public_address;
  const auto adv = public_ip.empty() ? control_local : io::SocketAddress::parse(public_ip, 0);
  if (adv && adv->family() == AF_INET) {
    std::memcpy(out.address.data(), &reinterpret_cast<const sockaddr_in*>(&adv->storage)->sin_addr,
                4);
  }
  listen_fd_ = std::move(fd);
  passive_port_ = out.port;
  active_target_.reset();
  arm_accept();
  return out;
}

void DataChannel::set_active(const io::SocketAddress& target) {
  release_idle();
  active_target_ = target;
}

void DataChannel::arm_accept() {
  io_uring_prep_accept(sqe(Op::DataAccept), listen_fd_.get(), nullptr, nullptr, SOCK_CLOEXEC);
  accept_armed_ = true;
}

void DataChannel::on_accept(int res) {
  io::UniqueFd conn(res >= 0 ? res : -1);
  // Whose accept this is: a connection taken by a retired listener just
  // before its cancel has another local port than the current listener's;
  // -ECANCELED is always a retired listener's.
  bool current = accept_armed_ && listen_fd_;
  if (res >= 0) {
    const auto local = io::local_address(res);
    current = current && local && local->port() == passive_port_;
  } else if (res == -ECANCELED) {
    current = false;
  }
  if (!current) {
    close_fd(conn, Op::DataClose);  // belongs to no one
    if (retiring_accepts_ == 0) {
      log_.error(who_, "bug: an accept completion without a listener");
      return;
    }
    if (--retiring_accepts_ == 0) {
      for (io::UniqueFd& l : retiring_listeners_) close_fd(l, Op::ListenClose);
      retiring_listeners_.clear();
    }
    return;
  }
  accept_armed_ = false;
  if (res < 0) {
    if (transfer_ && stage_ != Stage::Finishing) fail(Result::NoConnection, -res);
    return;
  }
  const auto peer = io::peer_address(res);
  if (!peer || !peer->same_host(control_peer_)) {
    // RFC 2577 port stealing: only the control connection's peer may connect.
    log_.warn(who_, "refused a data connection from " + (peer ? peer->to_string() : "?") +
                        ": not the control connection's address");
    close_fd(conn, Op::DataClose);
    if (listen_fd_ && stage_ != Stage::Finishing) arm_accept();
    return;
  }
  data_fd_ = std::move(conn);
  retire_listener();  // one connection per PASV
  if (stage_ == Stage::Waiting) begin_pump();
}

// ---------------------------------------------------------------- transfers

bool DataChannel::start(int root_fd, std::uint8_t permissions, const ftp::effect::Transfer& t,
                        tls::ExpectedOrigin expected, std::string control_certificate) {
  if (!is_idle_for_transfer()) return false;
  transfer_ = t;
  expected_origin_ = expected;
  control_certificate_ = std::move(control_certificate);
  root_fd_ = root_fd;
  permissions_ = permissions;
  bytes_ = 0;
  eof_ = false;
  finishing_ok_ = false;
  outcome_ = {};
  event_.reset();
  buffer_.clear();
  buffer_sent_ = 0;
  in_pipe_ = 0;
  splice_in_busy_ = false;
  splice_out_busy_ = false;
  received_.clear();
  receive_armed_ = false;
  peer_fin_ = false;
  write_busy_ = false;
  tls_.reset();
  plain_fill_ = {};
  plain_written_ = 0;
  fill_slot_ = 0;
  read_busy_ = false;
  cipher_sent_ = 0;
  send_busy_ = false;
  tls_eof_ = false;
  tls_starved_ = false;
  tls_shutdown_sent_ = false;
  ascii_cr_pending_ = false;
  yielding_ = false;
  file_offset_ = t.offset;
  last_progress_ = Clock::now();
  stage_ = Stage::Opening;
  open_target();
  return true;
}

void DataChannel::open_target() {
  const ftp::effect::Transfer& t = *transfer_;
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
  if (res < 0) return fail(Result::FileError, -res);
  io::UniqueFd opened(res);
  if (stage_ != Stage::Opening) {  // aborted meanwhile
    close_fd(opened, Op::FileClose);
    return;
  }
  if (is_upload() && !parent_fd_) {
    parent_fd_ = std::move(opened);
    const ftp::effect::Transfer& t = *transfer_;
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
  file_fd_ = std::move(opened);
  if (is_listing()) {
    list_format_ = transfer_->kind == TransferKind::Nlst   ? fs::ListFormat::Nlst
                   : transfer_->kind == TransferKind::Mlsd ? fs::ListFormat::Mlsd
                                                           : fs::ListFormat::List;
    // The lister owns the directory fd from here; its reads are synchronous
    // getdents64 calls, so no ring operation ever names it.
    lister_.emplace(
        std::move(file_fd_),
        fs::ListerOptions{permissions_, static_cast<std::int64_t>(std::time(nullptr)), false});
    event_ = DataEvent{DataEvent::Kind::Starting, std::nullopt, {}};
    connect_if_needed();
    return;
  }
  io_uring_prep_statx(sqe(Op::FileStat), file_fd_.get(), "", AT_EMPTY_PATH, STATX_BASIC_STATS,
                      &stx_);
}

void DataChannel::on_file_stat(int res) {
  if (res < 0) return fail(Result::FileError, -res);
  if (stage_ != Stage::Opening) return;
  if (S_ISDIR(stx_.stx_mode)) return fail(Result::FileError, EISDIR);
  if (!is_upload()) {
    if (!S_ISREG(stx_.stx_mode)) return fail(Result::FileError, EACCES);
    if (file_offset_ > stx_.stx_size) return fail(Result::FileError, EINVAL);
    remaining_ = stx_.stx_size - file_offset_;
    event_ = DataEvent{DataEvent::Kind::Starting, stx_.stx_size, {}};
  } else {
    if (transfer_->kind == TransferKind::Appe) file_offset_ = stx_.stx_size;
    event_ = DataEvent{DataEvent::Kind::Starting, std::nullopt, {}};
  }
  connect_if_needed();
}

void DataChannel::connect_if_needed() {
  stage_ = Stage::Waiting;
  if (data_fd_) return begin_pump();
  if (active_target_) {
    data_fd_ = io::UniqueFd(::socket(active_target_->family(), SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!data_fd_) return fail(Result::NoConnection, errno);
    connecting_ = true;
    io_uring_prep_connect(sqe(Op::DataConnect), data_fd_.get(), active_target_->get(),
                          active_target_->length);
    return;
  }
  if (!listen_fd_) fail(Result::NoConnection, ENOTCONN);
  // else: the accept armed at PASV time completes the wait.
}

void DataChannel::begin_pump() {
  stage_ = Stage::Pumping;
  last_progress_ = Clock::now();
  if (transfer_->protect) return tls_begin();
  if (!is_listing() && is_binary()) {
    if (is_upload()) {
      if (!make_receive_buffers()) return;
    } else {
      int p[2];
      if (pipe2(p, O_CLOEXEC) != 0) return fail(Result::LocalError, errno);
      pipe_read_ = io::UniqueFd(p[0]);
      pipe_write_ = io::UniqueFd(p[1]);
      // A smaller pipe (pipe-max-size) only means more, shorter splices.
      (void)fcntl(pipe_write_.get(), F_SETPIPE_SZ, kPipeBytes);
      const int size = fcntl(pipe_write_.get(), F_GETPIPE_SZ);
      pipe_capacity_ = size > 0 ? static_cast<std::size_t>(size) : 65536;
    }
  }
  pump();
}

// ---------------------------------------------------------------- endings

void DataChannel::finish_ok() {
  if (is_upload() && !temp_name_.empty()) {
    // The upload is complete: only now does it replace the target.
    stage_ = Stage::Finishing;
    finishing_ok_ = true;
    io_uring_prep_renameat(sqe(Op::FileRename), parent_fd_.get(), temp_name_.c_str(),
                           parent_fd_.get(), base_.c_str(), 0);
    return;
  }
  outcome_ = {Result::Done, 0, bytes_, transfer_->kind == TransferKind::Stou ? base_ : ""};
  stage_ = Stage::Finishing;
  close_all();
}

void DataChannel::fail(Result r, int error) {
  if (stage_ == Stage::Finishing || !transfer_) return;
  if (r != Result::Aborted) {
    log_.debug(who_, "transfer ended early: " + std::string(std::strerror(error)) + " after " +
                         std::to_string(bytes_) + " bytes");
  }
  outcome_ = {r, error, bytes_, {}};
  stage_ = Stage::Finishing;
  if (is_upload() && !temp_name_.empty() && parent_fd_) {
    // Drop the partial temporary file; the previous target stays untouched.
    io_uring_prep_unlinkat(sqe(Op::FileUnlink), parent_fd_.get(), temp_name_.c_str(), 0);
  }
  close_all();
}

void DataChannel::abort() {
  if (!transfer_) {
    release_idle();
    return;
  }
  fail(Result::Aborted, ECANCELED);
}

// Cancels whatever is in flight on our fds. The fds themselves are closed by
// next_event() once every operation has completed (close_idle_fds): an fd is
// never closed while an operation that names it may still run.
void DataChannel::close_all() {
  for (const io::UniqueFd* fd : {&data_fd_, &file_fd_, &pipe_read_, &pipe_write_}) {
    if (*fd) {
      io_uring_prep_cancel_fd(submit_.untracked_sqe(), fd->get(), IORING_ASYNC_CANCEL_ALL);
    }
  }
  lister_.reset();  // closes the directory fd at once: no ring operation uses it
  retire_listener();
}

void DataChannel::close_idle_fds() {
  close_fd(data_fd_, Op::DataClose);
  close_fd(file_fd_, Op::FileClose);
  close_fd(pipe_read_, Op::PipeClose);
  close_fd(pipe_write_, Op::PipeClose);
  close_fd(parent_fd_, Op::FileClose);
}

void DataChannel::release_transfer_buffers() {
  if (receive_buffers_) {
    const std::uint16_t group = receive_buffers_->group_id();
    receive_buffers_.reset();  // unregisters the group first
    submit_.ring().release_buffer_group(group);
  }
  received_.clear();
  tls_.reset();
  for (auto& p : plain_) std::vector<std::byte>().swap(p);
  std::vector<std::byte>().swap(cipher_send_);
  std::string().swap(buffer_);
  std::string().swap(read_buffer_);
}

DataEvent DataChannel::next_event() {
  if (event_) {
    DataEvent e = *event_;
    event_.reset();
    return e;
  }
  if (stage_ == Stage::Finishing && transfer_) {
    // Every operation has completed: nothing names our fds any more.
    if (pending_ == 0) close_idle_fds();
    if (pending_ == 0 && !has_open_fds()) {
      stage_ = Stage::Idle;
      transfer_.reset();
      temp_name_.clear();
      connecting_ = false;
      release_transfer_buffers();  // no operation can use them any more
      return DataEvent{DataEvent::Kind::Finished, std::nullopt, outcome_};
    }
  }
  return {};
}

DataEvent DataChannel::on_completion(Op op, int res, std::uint32_t flags) {
  // A multishot receive, or a zero-copy send before its notification, posts
  // more completions for the same submission.
  if (!(flags & IORING_CQE_F_MORE)) --pending_;
  switch (op) {
    case Op::DataAccept:
      on_accept(res);
      break;
    case Op::DataConnect:
      connecting_ = false;
      if (stage_ == Stage::Finishing) {
        // closed with the rest once nothing is in flight
      } else if (res < 0) {
        fail(Result::NoConnection, -res);
      } else {
        begin_pump();
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
        finishing_ok_ = false;
        outcome_ = {storage_result(-res), -res, bytes_, {}};
        io_uring_prep_unlinkat(sqe(Op::FileUnlink), parent_fd_.get(), temp_name_.c_str(), 0);
      } else {
        outcome_ = {Result::Done, 0, bytes_, {}};
      }
      close_all();
      break;
    case Op::SpliceIn:
    case Op::SpliceOut:
    case Op::DataSend:
    case Op::DataRecv:
    case Op::FileRead:
    case Op::FileWrite:
      on_pump(op, res, flags);
      break;
    default:
      break;  // closes, unlinks
  }
  return next_event();
}

// Draft §10.2, required session reuse: a protected data connection must
// resume a TLS session of its own control connection.
bool DataChannel::tls_resumption_acceptable() {
  if (counters_ != nullptr) {
    counters_->add(tls_->is_resumed() ? Counter::DataTlsResumed : Counter::DataTlsFull);
  }
  // A resumed data connection carries no certificate; one that does a full
  // handshake with a certificate must show the control connection's.
  if (tls_->has_verified_peer_certificate() &&
      tls_->peer_certificate_fingerprint() != control_certificate_) {
    log_.info(who_, "refused data connection: client certificate differs from the control's");
    fail(Result::TlsFailed, EPERM);
    return false;
  }
  if (!cfg_.data.require_session_reuse) return true;
  const tls::ResumeCheck check = tls_->check_resumption();
  if (check == tls::ResumeCheck::Ok) return true;
  if (counters_ != nullptr) {
    counters_->add(check == tls::ResumeCheck::NotResumed      ? Counter::DataRefusedNotResumed
                   : check == tls::ResumeCheck::ForeignOrigin ? Counter::DataRefusedForeign
                                                              : Counter::DataRefusedUnknown);
  }
  log_.info(who_, "refused data connection: " + std::string(tls::describe(check)));
  fail(Result::ReuseRequired, EPERM);
  return false;
}

DataEvent DataChannel::on_tick(Clock::time_point now) {
  if (!transfer_ || stage_ == Stage::Finishing) return {};
  const auto limit = std::chrono::seconds(cfg_.limits.data_stall_timeout_seconds);
  if (now - last_progress_ > limit) {
    log_.info(who_, "data connection stalled; transfer ended");
    fail(stage_ == Stage::Pumping ? Result::ConnectionLost : Result::NoConnection, ETIMEDOUT);
  }
  return next_event();
}

}  // namespace ringftpd::server
