#include "io/ring.hpp"

#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <new>
#include <system_error>

namespace ringftpd::io {
namespace {

constexpr RequiredOp kRequiredOps[] = {
    {IORING_OP_ACCEPT, "accept"},
    {IORING_OP_RECV, "recv"},
    {IORING_OP_SEND, "send"},
    {IORING_OP_SEND_ZC, "send_zc"},
    {IORING_OP_SPLICE, "splice"},
    {IORING_OP_READ, "read"},
    {IORING_OP_WRITE, "write"},
    {IORING_OP_WRITEV, "writev"},
    {IORING_OP_OPENAT2, "openat2"},
    {IORING_OP_STATX, "statx"},
    {IORING_OP_CLOSE, "close"},
    {IORING_OP_CONNECT, "connect"},
    {IORING_OP_TIMEOUT, "timeout"},
    {IORING_OP_LINK_TIMEOUT, "link_timeout"},
    {IORING_OP_ASYNC_CANCEL, "async_cancel"},
    {IORING_OP_RENAMEAT, "renameat"},
    {IORING_OP_UNLINKAT, "unlinkat"},
    {IORING_OP_MKDIRAT, "mkdirat"},
    {IORING_OP_SHUTDOWN, "shutdown"},
    {IORING_OP_PROVIDE_BUFFERS, "provide_buffers"},
};

}  // namespace

std::span<const RequiredOp> required_ops() {
  return kRequiredOps;
}

std::vector<std::string> missing_ops(io_uring* ring) {
  std::vector<std::string> missing;
  io_uring_probe* probe = io_uring_get_probe_ring(ring);
  if (probe == nullptr) return {"probe"};
  for (const RequiredOp& op : kRequiredOps) {
    if (!io_uring_opcode_supported(probe, op.opcode)) missing.emplace_back(op.name);
  }
  io_uring_free_probe(probe);
  return missing;
}

Ring::Ring(unsigned entries, const std::optional<RingRestrictions>& restrictions) {
  io_uring_params params{};
  // The CQ is sized generously: multishot accept/recv can post many CQEs per
  // SQE, and an overflowing CQ costs a syscall per reap.
  // A restricted ring starts disabled: restrictions are accepted only then.
  const unsigned disabled = restrictions ? IORING_SETUP_R_DISABLED : 0;
  params.flags =
      IORING_SETUP_CQSIZE | IORING_SETUP_SUBMIT_ALL | IORING_SETUP_COOP_TASKRUN | disabled;
  params.cq_entries = entries * 4;
  int rc = io_uring_queue_init_params(entries, &ring_, &params);
  if (rc == -EINVAL) {
    // Older kernels lack SUBMIT_ALL / COOP_TASKRUN; they are optimisations.
    params = io_uring_params{};
    params.flags = IORING_SETUP_CQSIZE | disabled;
    params.cq_entries = entries * 4;
    rc = io_uring_queue_init_params(entries, &ring_, &params);
  }
  if (rc < 0) throw std::system_error(-rc, std::generic_category(), "io_uring_queue_init");
  features_ = params.features;
  if (!(features_ & IORING_FEAT_NODROP)) {
    io_uring_queue_exit(&ring_);
    throw std::system_error(ENOSYS, std::generic_category(),
                            "io_uring: kernel lacks IORING_FEAT_NODROP");
  }
  const auto missing = missing_ops(&ring_);
  if (!missing.empty()) {
    io_uring_queue_exit(&ring_);
    std::string names;
    for (const auto& m : missing) names += (names.empty() ? "" : ", ") + m;
    throw std::system_error(ENOSYS, std::generic_category(),
                            "io_uring: kernel lacks required operations: " + names);
  }
  if (restrictions) {
    try {
      restrict(*restrictions);
    } catch (...) {
      io_uring_queue_exit(&ring_);
      throw;
    }
  }
}

// Only a disabled ring accepts restrictions, and only once; enabling it is
// the last registration that is not checked against them.
void Ring::restrict(const RingRestrictions& r) {
  std::vector<io_uring_restriction> list;
  list.reserve(r.sqe_ops.size() + r.register_ops.size() + 1);
  for (const std::uint8_t op : r.sqe_ops) {
    io_uring_restriction x{};
    x.opcode = IORING_RESTRICTION_SQE_OP;
    x.sqe_op = op;
    list.push_back(x);
  }
  for (const std::uint8_t op : r.register_ops) {
    io_uring_restriction x{};
    x.opcode = IORING_RESTRICTION_REGISTER_OP;
    x.register_op = op;
    list.push_back(x);
  }
  io_uring_restriction flags{};
  flags.opcode = IORING_RESTRICTION_SQE_FLAGS_ALLOWED;
  flags.sqe_flags = r.sqe_flags;
  list.push_back(flags);
  // Raw io_uring_register(2): Debian's liburing 2.3 declares the wrappers
  // but does not export them.
  if (::syscall(SYS_io_uring_register, ring_.ring_fd, IORING_REGISTER_RESTRICTIONS, list.data(),
                static_cast<unsigned>(list.size())) < 0) {
    throw std::system_error(errno, std::generic_category(), "io_uring restrictions");
  }
  if (::syscall(SYS_io_uring_register, ring_.ring_fd, IORING_REGISTER_ENABLE_RINGS, nullptr, 0) <
      0) {
    throw std::system_error(errno, std::generic_category(), "io_uring enable rings");
  }
  restricted_ = true;
}

Ring::~Ring() {
  io_uring_queue_exit(&ring_);
}

io_uring_sqe* Ring::sqe(std::uint64_t user_data) {
  // Once anything waits in the pending list, new entries queue behind it:
  // submission order is the order sessions asked in.
  io_uring_sqe* s = pending_.empty() ? io_uring_get_sqe(&ring_) : nullptr;
  if (s == nullptr) {
    if (pending_.empty()) keep_link_chain_whole();
    s = pending_sqe();
  }
  io_uring_prep_nop(s);  // zeroes the SQE
  io_uring_sqe_set_data64(s, user_data);
  return s;
}

io_uring_sqe* Ring::pending_sqe() noexcept {
  if (fatal_ != 0) return &discard_;
  if (pending_.size() >= kMaxPendingSqes) {
    (void)fail(-ENOBUFS);
    return &discard_;
  }
  try {
    return &pending_.emplace_back();
  } catch (const std::bad_alloc&) {
    (void)fail(-ENOMEM);
    return &discard_;
  }
}

// The queue just filled up. If its last entries are an unfinished link chain
// (the caller links them to the SQE it asks for now), move them back out of
// the queue to the pending list, so the chain is submitted in one piece.
// Only entries not yet handed to the kernel (sqe_head..sqe_tail) can move.
void Ring::keep_link_chain_whole() noexcept {
  constexpr std::uint8_t kLinked = IOSQE_IO_LINK | IOSQE_IO_HARDLINK;
  io_uring_sq& sq = ring_.sq;
  unsigned first = sq.sqe_tail;
  while (first != sq.sqe_head && (sq.sqes[(first - 1) & sq.ring_mask].flags & kLinked)) --first;
  // A chain as long as the whole queue cannot be kept whole by anyone.
  if (first == sq.sqe_tail || sq.sqe_tail - first >= sq.ring_entries) return;
  try {
    for (unsigned i = first; i != sq.sqe_tail; ++i) {
      pending_.push_back(sq.sqes[i & sq.ring_mask]);
    }
  } catch (const std::bad_alloc&) {
    pending_.clear();  // leave the chain where it was: split, but not lost
    return;
  }
  sq.sqe_tail = first;
}

int Ring::fail(int rc) noexcept {
  if (fatal_ == 0) fatal_ = rc;
  return fatal_;
}

int Ring::submit_queued() noexcept {
  int rc = -EINTR;
  for (int attempt = 0; attempt < kSubmitAttempts && rc == -EINTR; ++attempt) {
    rc = io_uring_submit(&ring_);
  }
  return rc;
}

// Moves pending entries into the kernel's queue, in order, submitting when
// it is full. A link chain moves only when it fits whole.
int Ring::flush_pending() noexcept {
  constexpr std::uint8_t kLinked = IOSQE_IO_LINK | IOSQE_IO_HARDLINK;
  while (!pending_.empty()) {
    std::size_t chain = 1;
    while (chain < pending_.size() && (pending_[chain - 1].flags & kLinked)) ++chain;
    chain = std::min<std::size_t>(chain, ring_.sq.ring_entries);
    if (io_uring_sq_space_left(&ring_) < chain) {
      const int rc = submit_queued();
      if (rc < 0) return rc;
      if (io_uring_sq_space_left(&ring_) < chain) return -EAGAIN;  // kernel took too few
      continue;
    }
    for (std::size_t i = 0; i < chain; ++i) {
      io_uring_sqe* s = io_uring_get_sqe(&ring_);
      *s = pending_.front();
      pending_.pop_front();
    }
  }
  return 0;
}

int Ring::on_submit_error(int rc) noexcept {
  if (rc == -EAGAIN || rc == -EBUSY) {
    // Let the owner reap (which flushes an overflowed CQ), then try again.
    return ++stalls_ > kMaxStalls ? fail(rc) : 0;
  }
  return fail(rc);
}

int Ring::register_buffer_ring(const io_uring_buf_reg& reg) noexcept {
  io_uring_buf_reg copy = reg;
  return io_uring_register_buf_ring(&ring_, &copy, 0);
}

void Ring::unregister_buffer_ring(std::uint16_t group_id) noexcept {
  io_uring_unregister_buf_ring(&ring_, group_id);
}

std::optional<std::uint16_t> Ring::acquire_buffer_group() noexcept {
  constexpr std::uint32_t kIds = 65536;
  constexpr std::uint32_t kDynamic = kIds - kFirstDynamicBufferGroup;
  // Round-robin from the last id given out: a just-released id is not reused
  // at once, and a scan is short while few uploads run at the same time.
  for (std::uint32_t i = 0; i < kDynamic; ++i) {
    const std::uint32_t id =
        kFirstDynamicBufferGroup + (next_buffer_group_ - kFirstDynamicBufferGroup + i) % kDynamic;
    if (!buffer_groups_in_use_[id]) {
      buffer_groups_in_use_[id] = true;
      next_buffer_group_ = id + 1 < kIds ? id + 1 : kFirstDynamicBufferGroup;
      return static_cast<std::uint16_t>(id);
    }
  }
  return std::nullopt;
}

void Ring::release_buffer_group(std::uint16_t id) noexcept {
  if (id >= kFirstDynamicBufferGroup) buffer_groups_in_use_[id] = false;
}

int Ring::submit_and_wait(int timeout_ms) {
  if (fatal_ != 0) return fatal_;
  if (const int rc = flush_pending(); rc < 0) return on_submit_error(rc);
  int rc = -EINTR;
  for (int attempt = 0; attempt < kSubmitAttempts && rc == -EINTR; ++attempt) {
    if (timeout_ms < 0) {
      rc = io_uring_submit_and_wait(&ring_, 1);
    } else {
      __kernel_timespec ts{};
      ts.tv_sec = timeout_ms / 1000;
      ts.tv_nsec = static_cast<long long>(timeout_ms % 1000) * 1000000;
      io_uring_cqe* cqe = nullptr;
      rc = io_uring_submit_and_wait_timeout(&ring_, &cqe, 1, &ts, nullptr);
    }
    // A signal while waiting (not while submitting) is the caller's business.
    if (rc == -EINTR && io_uring_sq_ready(&ring_) == 0) return rc;
  }
  if (rc >= 0) {
    stalls_ = 0;
    return 0;
  }
  if (rc == -ETIME || rc == -EINTR) return rc;
  return on_submit_error(rc);
}

}  // namespace ringftpd::io
