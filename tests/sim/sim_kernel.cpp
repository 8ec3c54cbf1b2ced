#include "tests/sim/sim_kernel.hpp"

#include <fcntl.h>
#include <linux/openat2.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "io/op_tag.hpp"
#include "tests/sim/net.hpp"

namespace ringftpd::sim {
namespace {

const char* opcode_name(unsigned op) {
  switch (op) {
    case IORING_OP_RECV:
      return "recv";
    case IORING_OP_SEND:
      return "send";
    case IORING_OP_ACCEPT:
      return "accept";
    case IORING_OP_CONNECT:
      return "connect";
    case IORING_OP_READ:
      return "read";
    case IORING_OP_WRITE:
      return "write";
    case IORING_OP_WRITEV:
      return "writev";
    case IORING_OP_SPLICE:
      return "splice";
    case IORING_OP_OPENAT:
      return "openat";
    case IORING_OP_OPENAT2:
      return "openat2";
    case IORING_OP_STATX:
      return "statx";
    case IORING_OP_CLOSE:
      return "close";
    case IORING_OP_RENAMEAT:
      return "renameat";
    case IORING_OP_UNLINKAT:
      return "unlinkat";
    case IORING_OP_MKDIRAT:
      return "mkdirat";
    case IORING_OP_ASYNC_CANCEL:
      return "cancel";
    default:
      return "?";
  }
}

bool is_multishot(const io_uring_sqe& s) {
  return s.opcode == IORING_OP_RECV && (s.ioprio & IORING_RECV_MULTISHOT);
}

bool is_socket_op(unsigned op) {
  return op == IORING_OP_RECV || op == IORING_OP_SEND || op == IORING_OP_ACCEPT ||
         op == IORING_OP_CONNECT;
}

bool is_file_op(unsigned op) {
  return op == IORING_OP_READ || op == IORING_OP_WRITE || op == IORING_OP_WRITEV ||
         op == IORING_OP_OPENAT || op == IORING_OP_OPENAT2 || op == IORING_OP_STATX ||
         op == IORING_OP_MKDIRAT || op == IORING_OP_RENAMEAT || op == IORING_OP_UNLINKAT;
}

// Sockets and pipes the simulation touches are made non-blocking, so that a
// syscall never waits: readiness is the scheduler's business.
void make_nonblocking(int fd) {
  struct stat st {};
  if (fstat(fd, &st) != 0 || !(S_ISSOCK(st.st_mode) || S_ISFIFO(st.st_mode))) return;
  const int fl = fcntl(fd, F_GETFL);
  if (fl >= 0 && !(fl & O_NONBLOCK)) (void)fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

std::string fd_path(int fd) {
  char link[64];
  std::snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
  char buf[4096];
  const ssize_t n = readlink(link, buf, sizeof buf - 1);
  return n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : std::string();
}

}  // namespace

Owner owner_of(std::uint64_t user_data) noexcept {
  if (user_data == io::kIgnoredTag) return kWorkerOwner;
  const io::OpTag t = io::OpTag::unpack(user_data);
  if (t.slot == 0xFFFFFFFFu) return kWorkerOwner;
  return (Owner{t.slot} << 32) | t.generation;
}

std::string owner_name(Owner o) {
  if (o == kWorkerOwner) return "worker";
  return "s" + std::to_string(o >> 32) + "." + std::to_string(o & 0xFFFFFF);
}

SimKernel::SimKernel(Rng& rng, EventLog& log, Faults faults)
    : rng_(rng), log_(log), faults_(faults) {}

SimKernel::~SimKernel() = default;

io_uring_sqe* SimKernel::sqe(std::uint64_t user_data) {
  io_uring_sqe& s = batch_.emplace_back();
  std::memset(&s, 0, sizeof s);
  s.user_data = user_data;
  return &s;
}

int SimKernel::register_buffer_ring(const io_uring_buf_reg& reg) noexcept {
  if (rings_.count(reg.bgid) != 0) return -EEXIST;
  const std::uint32_t n = reg.ring_entries;
  if (n == 0 || (n & (n - 1)) != 0 || n > 32768) return -EINVAL;
  rings_[reg.bgid] = Group{reinterpret_cast<io_uring_buf_ring*>(reg.ring_addr), n, 0};
  log_.add("kernel: buffer ring " + std::to_string(reg.bgid) + " registered (" + std::to_string(n) +
           " buffers)");
  return 0;
}

void SimKernel::unregister_buffer_ring(std::uint16_t group_id) noexcept {
  for (const Op& op : ops_) {
    if ((op.sqe.flags & IOSQE_BUFFER_SELECT) && op.sqe.buf_group == group_id) {
      log_.violation("buffer ring " + std::to_string(group_id) +
                     " unregistered while a receive selecting from it is pending (" +
                     describe(op.sqe) + ")");
    }
  }
  if (rings_.erase(group_id) == 0) {
    log_.violation("unregister of unknown buffer ring " + std::to_string(group_id));
  }
}

std::optional<std::uint16_t> SimKernel::acquire_buffer_group() noexcept {
  for (std::uint32_t id = 256; id < 65536; ++id) {
    const auto g = static_cast<std::uint16_t>(id);
    if (groups_in_use_.count(g) == 0) {
      groups_in_use_[g] = true;
      return g;
    }
  }
  return std::nullopt;
}

void SimKernel::release_buffer_group(std::uint16_t id) noexcept {
  if (rings_.count(id) != 0) {
    log_.violation("buffer group " + std::to_string(id) + " released while still registered");
  }
  if (groups_in_use_.erase(id) == 0) {
    log_.violation("buffer group " + std::to_string(id) + " released twice");
  }
}

std::string SimKernel::describe(const io_uring_sqe& s) const {
  std::string d = std::string(opcode_name(s.opcode)) + "(fd " + std::to_string(s.fd);
  if (s.opcode == IORING_OP_SPLICE) d += " <- " + std::to_string(s.splice_fd_in);
  d += ") by " + owner_name(owner_of(s.user_data));
  if (s.user_data != io::kIgnoredTag) {
    d += " op " + std::to_string(io::OpTag::unpack(s.user_data).op);
  }
  return d;
}

std::vector<int> SimKernel::fds_named(const io_uring_sqe& s) const {
  std::vector<int> fds;
  switch (s.opcode) {
    case IORING_OP_ASYNC_CANCEL:
      break;
    case IORING_OP_SPLICE:
      fds = {s.fd, s.splice_fd_in};
      break;
    case IORING_OP_RENAMEAT:
      if (s.fd != AT_FDCWD) fds.push_back(s.fd);
      if (static_cast<int>(s.len) != AT_FDCWD) fds.push_back(static_cast<int>(s.len));
      break;
    default:
      if (s.fd != AT_FDCWD) fds.push_back(s.fd);
      break;
  }
  return fds;
}

void SimKernel::adopt(int fd, Owner owner, std::string what) {
  struct stat st {};
  (void)fstat(fd, &st);
  auto it = fds_.find(fd);
  if (it != fds_.end()) {
    // The number was free again, so its previous holder closed it without the
    // ring (a synchronous close(2)).
    ++stats_.closes_outside_ring;
    log_.add("kernel: fd " + std::to_string(fd) + " (" + it->second.what + " of " +
             owner_name(it->second.owner) + ") had been closed outside the ring");
  }
  fds_[fd] = FdInfo{owner, std::move(what), false, false, st.st_dev, st.st_ino};
  if (S_ISSOCK(st.st_mode)) Net::get().add(fd);
}

void SimKernel::give(int fd, Owner owner, const char* what) {
  adopt(fd, owner, what);
}

void SimKernel::share(int fd, const char* what) {
  adopt(fd, kWorkerOwner, what);
  fds_[fd].shared = true;
}

void SimKernel::set_root(Owner owner, std::string root) {
  roots_[owner] = std::move(root);
}

std::size_t SimKernel::fds_owned() const noexcept {
  std::size_t n = 0;
  for (const auto& [fd, info] : fds_) n += info.shared ? 0 : 1;
  return n;
}

std::size_t SimKernel::pending_of(Owner o) const noexcept {
  return static_cast<std::size_t>(
      std::count_if(ops_.begin(), ops_.end(), [o](const Op& op) { return op.owner == o; }));
}

// Every fd an SQE names must be open, its owner's, and not already on its way
// to being closed.
void SimKernel::check_named(const io_uring_sqe& s, Owner owner) {
  for (int fd : fds_named(s)) {
    auto it = fds_.find(fd);
    struct stat st {};
    const bool open_now = fstat(fd, &st) == 0;
    if (it != fds_.end() && open_now &&
        (it->second.dev != st.st_dev || it->second.ino != st.st_ino)) {
      // Stale entry: the previous holder closed it outside the ring.
      ++stats_.closes_outside_ring;
      log_.add("kernel: fd " + std::to_string(fd) + " (" + it->second.what + " of " +
               owner_name(it->second.owner) + ") had been closed outside the ring");
      fds_.erase(it);
      it = fds_.end();
    }
    if (!open_now) {
      log_.violation(describe(s) + ": names fd " + std::to_string(fd) + ", which is not open");
      continue;
    }
    if (it == fds_.end()) {
      // Created by the session itself (socket, pipe2): it owns it from now on.
      if (owner != kWorkerOwner) adopt(fd, owner, "own");
      continue;
    }
    if (it->second.closing && s.opcode != IORING_OP_CLOSE) {
      log_.violation(describe(s) + ": names fd " + std::to_string(fd) + " whose close is queued");
    }
    if (!it->second.shared && owner != kWorkerOwner && it->second.owner != owner) {
      log_.violation(describe(s) + ": names fd " + std::to_string(fd) + " (" + it->second.what +
                     ") of " + owner_name(it->second.owner));
    }
  }
}

void SimKernel::submit() {
  // The batch may grow while we issue (it does not: issuing never calls back
  // into sessions), but take it whole first anyway.
  std::deque<io_uring_sqe> batch;
  batch.swap(batch_);
  std::uint64_t link_from = 0;
  for (const io_uring_sqe& s : batch) {
    ++stats_.submitted;
    const std::uint64_t id = next_id_;
    issue(s, link_from);
    link_from = (s.flags & (IOSQE_IO_LINK | IOSQE_IO_HARDLINK)) ? id : 0;
  }
}

void SimKernel::issue(const io_uring_sqe& s, std::uint64_t after) {
  Op op;
  op.id = next_id_++;
  op.sqe = s;
  op.owner = owner_of(s.user_data);
  op.after = after;
  log_.add("submit #" + std::to_string(op.id) + " " + describe(s) +
           (after ? " (linked after #" + std::to_string(after) + ")" : ""));
  if (s.opcode == IORING_OP_ASYNC_CANCEL) {
    cancel(op);
    return;
  }
  check_named(s, op.owner);
  for (int fd : fds_named(s)) {
    if (s.opcode == IORING_OP_RECV || s.opcode == IORING_OP_SEND || s.opcode == IORING_OP_SPLICE ||
        s.opcode == IORING_OP_ACCEPT || s.opcode == IORING_OP_CONNECT) {
      make_nonblocking(fd);
    }
  }
  if (s.opcode == IORING_OP_CLOSE) {
    for (const Op& other : ops_) {
      const auto named = fds_named(other.sqe);
      if (std::find(named.begin(), named.end(), s.fd) != named.end()) {
        log_.violation(describe(s) + " while " + describe(other.sqe) + " (#" +
                       std::to_string(other.id) + ") names the fd and is pending");
      }
    }
    auto it = fds_.find(s.fd);
    if (it != fds_.end()) {
      if (it->second.closing) log_.violation(describe(s) + ": second close of the fd");
      it->second.closing = true;
    }
  }
  ops_.push_back(op);
}

// IORING_OP_ASYNC_CANCEL: by user_data, or by fd, one or all matches. Each
// target either completes first (if it can: its syscall is tried) or ends
// with -ECANCELED; both are posted now, as the kernel's cancel is synchronous
// for operations waiting on readiness.
void SimKernel::cancel(const Op& c) {
  const std::uint32_t fl = c.sqe.cancel_flags;
  const bool by_fd = fl & IORING_ASYNC_CANCEL_FD;
  const bool any = fl & IORING_ASYNC_CANCEL_ANY;
  const bool all = fl & (IORING_ASYNC_CANCEL_ALL | IORING_ASYNC_CANCEL_ANY);
  int matched = 0;
  for (std::size_t i = 0; i < ops_.size();) {
    Op& t = ops_[i];
    // By fd: only operations that hold a file (the kernel compares req->file;
    // openat, statx, mkdirat, ... take a directory fd number instead).
    const unsigned code = t.sqe.opcode;
    const bool has_file = is_socket_op(code) || code == IORING_OP_READ || code == IORING_OP_WRITE ||
                          code == IORING_OP_WRITEV || code == IORING_OP_SPLICE;
    const bool match =
        any || (by_fd ? has_file && t.sqe.fd == c.sqe.fd : t.sqe.user_data == c.sqe.addr);
    // A CLOSE cannot be cancelled once issued.
    if (!match || t.sqe.opcode == IORING_OP_CLOSE || (matched > 0 && !all)) {
      ++i;
      continue;
    }
    ++matched;
    if (fault(faults_.cancel_loses)) {
      ++stats_.cancels_lost;
      const std::size_t before = ops_.size();
      // The target gets one chance to complete; a multishot one may post and
      // then still be cancelled.
      const bool posted = try_op(i, false);
      if (ops_.size() < before) continue;  // it finished: ops_[i] is the next one
      if (posted) log_.add("kernel: #" + std::to_string(t.id) + " posted before its cancel");
    } else {
      ++stats_.cancels_won;
    }
    Op& target = ops_[i];
    log_.add("kernel: #" + std::to_string(target.id) + " cancelled");
    post(target.sqe.user_data, -ECANCELED, 0);
    ops_.erase(ops_.begin() + static_cast<std::ptrdiff_t>(i));
  }
  post(c.sqe.user_data, matched > 0 ? (all ? matched : 0) : -ENOENT, 0);
}

bool SimKernel::fault(unsigned per_mille) {
  return per_mille > 0 && rng_.below(1000) < per_mille;
}

std::size_t SimKernel::shorter(std::size_t n) {
  if (n <= 1 || !fault(faults_.short_io)) return n;
  return 1 + static_cast<std::size_t>(rng_.below(n));
}

void SimKernel::post(std::uint64_t user_data, int res, std::uint32_t flags) {
  ++stats_.completions;
  cq_.push_back(Completion{user_data, res, flags});
}

std::optional<Completion> SimKernel::pop_completion() {
  if (cq_.empty()) return std::nullopt;
  Completion c = cq_.front();
  cq_.pop_front();
  return c;
}

bool SimKernel::runnable(const Op& op) const {
  if (op.after == 0) return true;
  return std::none_of(ops_.begin(), ops_.end(), [&](const Op& o) { return o.id == op.after; });
}

bool SimKernel::step() {
  if (ops_.empty()) return false;
  const std::size_t i = static_cast<std::size_t>(rng_.below(ops_.size()));
  if (!runnable(ops_[i])) return false;
  return try_op(i, true);
}

bool SimKernel::step_all() {
  std::vector<std::uint64_t> ids;
  for (const Op& op : ops_) ids.push_back(op.id);
  // A PRNG-chosen rotation is enough to vary the order cheaply.
  if (!ids.empty()) std::rotate(ids.begin(), ids.begin() + rng_.below(ids.size()), ids.end());
  bool any = false;
  for (std::uint64_t id : ids) {
    const auto it =
        std::find_if(ops_.begin(), ops_.end(), [id](const Op& o) { return o.id == id; });
    if (it == ops_.end() || !runnable(*it)) continue;
    any = try_op(static_cast<std::size_t>(it - ops_.begin()), true) || any;
  }
  return any;
}

// One attempt of ops_[index]: posts its completion(s) and removes it when it
// is finished. True if anything was posted.
bool SimKernel::try_op(std::size_t index, bool allow_faults) {
  Op& op = ops_[index];
  ++stats_.attempts;
  std::uint32_t flags = 0;
  bool keep = false;
  int res;
  const unsigned code = op.sqe.opcode;
  if (allow_faults && is_socket_op(code) && code != IORING_OP_ACCEPT &&
      fault(faults_.socket_error)) {
    ++stats_.injected;
    res = -ECONNRESET;
  } else if (allow_faults && is_file_op(code) && fault(faults_.file_error)) {
    ++stats_.injected;
    res = code == IORING_OP_WRITE || code == IORING_OP_WRITEV || code == IORING_OP_MKDIRAT ? -ENOSPC
          : code == IORING_OP_OPENAT || code == IORING_OP_OPENAT2                          ? -EMFILE
                                                                                           : -EIO;
  } else if (allow_faults && code == IORING_OP_ACCEPT && fault(faults_.file_error)) {
    ++stats_.injected;
    res = -EMFILE;
  } else {
    res = attempt(op, flags, keep);
  }
  if (res == -EAGAIN) {
    ++stats_.eagain;
    return false;
  }
  if (keep && allow_faults && fault(faults_.multishot_stop)) {
    keep = false;  // the kernel may end a multishot receive at any completion
  }
  if (keep) flags |= IORING_CQE_F_MORE;
  log_.add("complete #" + std::to_string(op.id) + " " + describe(op.sqe) + " = " +
           std::to_string(res) + (keep ? " (more)" : ""));
  const std::uint64_t user_data = op.sqe.user_data;
  if (!keep) ops_.erase(ops_.begin() + static_cast<std::ptrdiff_t>(index));
  post(user_data, res, flags);
  return true;
}

int SimKernel::attempt(Op& op, std::uint32_t& flags, bool& keep) {
  const io_uring_sqe& s = op.sqe;
  switch (s.opcode) {
    case IORING_OP_RECV:
      return do_recv(op, flags, keep);
    case IORING_OP_SEND:
      return do_send(op);
    case IORING_OP_ACCEPT:
      return do_accept(op);
    case IORING_OP_CONNECT:
      return do_connect(op);
    case IORING_OP_READ:
    case IORING_OP_WRITE:
    case IORING_OP_WRITEV:
      return do_rw(op);
    case IORING_OP_SPLICE:
      return do_splice(op);
    case IORING_OP_OPENAT:
    case IORING_OP_OPENAT2:
      return do_open(op);
    case IORING_OP_STATX: {
      auto* path = reinterpret_cast<const char*>(s.addr);
      auto* out = reinterpret_cast<struct statx*>(s.off);
      return statx(s.fd, path, static_cast<int>(s.statx_flags), s.len, out) == 0 ? 0 : -errno;
    }
    case IORING_OP_MKDIRAT:
      return mkdirat(s.fd, reinterpret_cast<const char*>(s.addr), s.len) == 0 ? 0 : -errno;
    case IORING_OP_UNLINKAT:
      return unlinkat(s.fd, reinterpret_cast<const char*>(s.addr),
                      static_cast<int>(s.unlink_flags)) == 0
                 ? 0
                 : -errno;
    case IORING_OP_RENAMEAT:
      return syscall(SYS_renameat2, s.fd, reinterpret_cast<const char*>(s.addr),
                     static_cast<int>(s.len), reinterpret_cast<const char*>(s.addr2),
                     s.rename_flags) == 0
                 ? 0
                 : -errno;
    case IORING_OP_CLOSE:
      return do_close(op);
    default:
      log_.violation(describe(s) + ": opcode " + std::to_string(s.opcode) +
                     " is not simulated (add it to SimKernel)");
      return -EINVAL;
  }
}

int SimKernel::do_recv(Op& op, std::uint32_t& flags, bool& keep) {
  const io_uring_sqe& s = op.sqe;
  const bool select = s.flags & IOSQE_BUFFER_SELECT;
  const bool multishot = is_multishot(s);
  pollfd p{s.fd, POLLIN, 0};
  if (poll(&p, 1, 0) == 0) {
    Net::get().before_would_block(s.fd);
    if (poll(&p, 1, 0) == 0) return -EAGAIN;
  }
  std::byte* buf = reinterpret_cast<std::byte*>(s.addr);
  std::size_t len = s.len;
  Group* g = nullptr;
  std::uint16_t bid = 0;
  if (select) {
    auto it = rings_.find(s.buf_group);
    if (it == rings_.end()) {
      log_.violation(describe(s) + ": selects from unregistered buffer group " +
                     std::to_string(s.buf_group));
      return -ENOBUFS;
    }
    g = &it->second;
    const std::uint16_t tail = __atomic_load_n(&g->br->tail, __ATOMIC_ACQUIRE);
    if (g->head == tail) {
      ++stats_.enobufs;
      return -ENOBUFS;  // ends a multishot receive, as the kernel does
    }
    const io_uring_buf& b = g->br->bufs[g->head & (g->entries - 1)];
    buf = reinterpret_cast<std::byte*>(b.addr);
    len = b.len;
    bid = b.bid;
  }
  const ssize_t n = ::recv(s.fd, buf, shorter(len), MSG_DONTWAIT | static_cast<int>(s.msg_flags));
  if (n < 0) return errno == EAGAIN || errno == EWOULDBLOCK ? -EAGAIN : -errno;
  if (n == 0) return 0;  // EOF: the buffer stays in the ring, the multishot ends
  if (g != nullptr) {
    ++g->head;
    flags |= IORING_CQE_F_BUFFER | (std::uint32_t{bid} << IORING_CQE_BUFFER_SHIFT);
  }
  keep = multishot;
  op.posted_any = true;
  return static_cast<int>(n);
}

int SimKernel::do_send(Op& op) {
  const io_uring_sqe& s = op.sqe;
  // Datagram and seqpacket sends are all or nothing.
  int type = SOCK_STREAM;
  socklen_t tl = sizeof type;
  (void)getsockopt(s.fd, SOL_SOCKET, SO_TYPE, &type, &tl);
  const std::size_t len = type == SOCK_STREAM ? shorter(s.len) : s.len;
  ssize_t n = ::send(s.fd, reinterpret_cast<const void*>(s.addr), len,
                     MSG_DONTWAIT | MSG_NOSIGNAL | static_cast<int>(s.msg_flags));
  if (n < 0 && errno == EAGAIN) {
    Net::get().before_send_blocks(s.fd);
    n = ::send(s.fd, reinterpret_cast<const void*>(s.addr), len,
               MSG_DONTWAIT | MSG_NOSIGNAL | static_cast<int>(s.msg_flags));
  }
  if (n < 0) return errno == EAGAIN || errno == EWOULDBLOCK ? -EAGAIN : -errno;
  return static_cast<int>(n);
}

int SimKernel::do_accept(Op& op) {
  const io_uring_sqe& s = op.sqe;
  const int fd =
      ::accept4(s.fd, reinterpret_cast<sockaddr*>(s.addr), reinterpret_cast<socklen_t*>(s.off),
                static_cast<int>(s.accept_flags) | SOCK_NONBLOCK);
  if (fd < 0) return errno == EAGAIN || errno == EWOULDBLOCK ? -EAGAIN : -errno;
  adopt(fd, op.owner, "accepted");
  return fd;
}

int SimKernel::do_connect(Op& op) {
  const io_uring_sqe& s = op.sqe;
  if (!op.connecting) {
    const auto* to = reinterpret_cast<const sockaddr*>(s.addr);
    const int queued = Net::get().before_connect(to);
    const int rc = ::connect(s.fd, to, static_cast<socklen_t>(s.off));
    if (rc != 0 && errno != EINPROGRESS) return -errno;
    Net::get().after_connect(s.fd, to, queued);
    op.connecting = true;
  }
  pollfd p{s.fd, POLLOUT, 0};
  if (poll(&p, 1, 0) == 0) return -EAGAIN;
  int err = 0;
  socklen_t len = sizeof err;
  if (getsockopt(s.fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) return -errno;
  return -err;
}

int SimKernel::do_rw(Op& op) {
  const io_uring_sqe& s = op.sqe;
  const bool current = s.off == ~std::uint64_t{0};
  const auto off = static_cast<off_t>(s.off);
  ssize_t n;
  if (s.opcode == IORING_OP_WRITEV) {
    const auto* iov = reinterpret_cast<const iovec*>(s.addr);
    std::vector<iovec> v(iov, iov + s.len);
    std::size_t total = 0;
    for (const iovec& e : v) total += e.iov_len;
    std::size_t budget = shorter(total);
    for (iovec& e : v) {
      e.iov_len = std::min(e.iov_len, budget);
      budget -= e.iov_len;
    }
    n = current ? ::writev(s.fd, v.data(), static_cast<int>(v.size()))
                : ::pwritev(s.fd, v.data(), static_cast<int>(v.size()), off);
  } else if (s.opcode == IORING_OP_READ) {
    void* p = reinterpret_cast<void*>(s.addr);
    n = current ? ::read(s.fd, p, shorter(s.len)) : ::pread(s.fd, p, shorter(s.len), off);
  } else {
    const void* p = reinterpret_cast<const void*>(s.addr);
    n = current ? ::write(s.fd, p, shorter(s.len)) : ::pwrite(s.fd, p, shorter(s.len), off);
  }
  if (n < 0) return errno == EAGAIN || errno == EWOULDBLOCK ? -EAGAIN : -errno;
  return static_cast<int>(n);
}

int SimKernel::do_splice(Op& op) {
  const io_uring_sqe& s = op.sqe;
  loff_t off_in = static_cast<loff_t>(s.splice_off_in);
  loff_t off_out = static_cast<loff_t>(s.off);
  const bool in_current = s.splice_off_in == ~std::uint64_t{0};
  const bool out_current = s.off == ~std::uint64_t{0};
  const std::size_t len = shorter(s.len);
  const unsigned flags = (s.splice_flags & ~SPLICE_F_FD_IN_FIXED) | SPLICE_F_NONBLOCK;
  ssize_t n = ::splice(s.splice_fd_in, in_current ? nullptr : &off_in, s.fd,
                       out_current ? nullptr : &off_out, len, flags);
  if (n < 0 && errno == EAGAIN && Net::get().has(s.fd)) {
    Net::get().before_send_blocks(s.fd);
    n = ::splice(s.splice_fd_in, in_current ? nullptr : &off_in, s.fd,
                 out_current ? nullptr : &off_out, len, flags);
  }
  if (n < 0) return errno == EAGAIN || errno == EWOULDBLOCK ? -EAGAIN : -errno;
  return static_cast<int>(n);
}

int SimKernel::do_open(Op& op) {
  const io_uring_sqe& s = op.sqe;
  const auto* path = reinterpret_cast<const char*>(s.addr);
  int fd;
  if (s.opcode == IORING_OP_OPENAT2) {
    fd = static_cast<int>(
        syscall(SYS_openat2, s.fd, path, reinterpret_cast<const open_how*>(s.off), s.len));
  } else {
    fd = ::openat(s.fd, path, static_cast<int>(s.open_flags), static_cast<mode_t>(s.len));
  }
  if (fd < 0) return -errno;
  adopt(fd, op.owner, std::string("opened ") + path);
  check_confined(fd, op.owner, path);
  return fd;
}

void SimKernel::check_confined(int fd, Owner owner, const char* path) {
  const std::string real = fd_path(fd);
  const auto it = roots_.find(owner);
  if (it == roots_.end() || it->second.empty()) {
    log_.violation(owner_name(owner) + " opened \"" + path + "\" (" + real +
                   ") with no root (not logged in)");
    return;
  }
  const std::string& root = it->second;
  const bool under =
      real == root || (real.size() > root.size() && real.compare(0, root.size(), root) == 0 &&
                       real[root.size()] == '/');
  if (!under) {
    log_.violation(owner_name(owner) + " opened \"" + path + "\" -> " + real +
                   ", outside its root " + root);
  }
}

int SimKernel::do_close(Op& op) {
  const int fd = op.sqe.fd;
  fds_.erase(fd);
  const int peer = Net::get().peer_of(fd);
  Net::get().remove(fd);
  if (::close(fd) != 0) {
    const int err = errno;
    if (err == EBADF) log_.violation(describe(op.sqe) + ": EBADF (closed twice?)");
    return -err;
  }
  Net::get().after_close(peer);
  return 0;
}

void SimKernel::abandon() {
  ops_.clear();
  cq_.clear();
  batch_.clear();
}

void SimKernel::session_destroyed(Owner owner) {
  for (std::size_t i = 0; i < ops_.size();) {
    if (ops_[i].owner != owner) {
      ++i;
      continue;
    }
    log_.violation(owner_name(owner) + " destroyed while #" + std::to_string(ops_[i].id) + " " +
                   describe(ops_[i].sqe) + " is pending");
    ops_.erase(ops_.begin() + static_cast<std::ptrdiff_t>(i));  // never touch its memory
  }
  for (auto it = fds_.begin(); it != fds_.end();) {
    if (it->second.owner != owner || it->second.shared) {
      ++it;
      continue;
    }
    struct stat st {};
    if (fstat(it->first, &st) == 0 && st.st_dev == it->second.dev && st.st_ino == it->second.ino) {
      log_.violation(owner_name(owner) + " destroyed with fd " + std::to_string(it->first) + " (" +
                     it->second.what + ") still open");
    } else {
      ++stats_.closes_outside_ring;
      log_.add("kernel: fd " + std::to_string(it->first) + " (" + it->second.what + " of " +
               owner_name(owner) + ") had been closed outside the ring");
    }
    it = fds_.erase(it);
  }
  roots_.erase(owner);
}

}  // namespace ringftpd::sim
