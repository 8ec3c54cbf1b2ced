#include "io/ring.hpp"

#include <cerrno>
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

Ring::Ring(unsigned entries) {
  io_uring_params params{};
  // The CQ is sized generously: multishot accept/recv can post many CQEs per
  // SQE, and an overflowing CQ costs a syscall per reap.
  params.flags = IORING_SETUP_CQSIZE | IORING_SETUP_SUBMIT_ALL | IORING_SETUP_COOP_TASKRUN;
  params.cq_entries = entries * 4;
  int rc = io_uring_queue_init_params(entries, &ring_, &params);
  if (rc == -EINVAL) {
    // Older kernels lack SUBMIT_ALL / COOP_TASKRUN; they are optimisations.
    params = io_uring_params{};
    params.flags = IORING_SETUP_CQSIZE;
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
}

Ring::~Ring() {
  io_uring_queue_exit(&ring_);
}

io_uring_sqe* Ring::sqe(std::uint64_t user_data) {
  io_uring_sqe* s = io_uring_get_sqe(&ring_);
  while (s == nullptr) {
    // SQ full: hand what is queued to the kernel and take a fresh slot.
    io_uring_submit(&ring_);
    s = io_uring_get_sqe(&ring_);
  }
  io_uring_prep_nop(s);  // zeroes the SQE
  io_uring_sqe_set_data64(s, user_data);
  return s;
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
  io_uring_cqe* cqe = nullptr;
  if (timeout_ms < 0) {
    const int rc = io_uring_submit_and_wait(&ring_, 1);
    return rc < 0 ? rc : 0;
  }
  __kernel_timespec ts{};
  ts.tv_sec = timeout_ms / 1000;
  ts.tv_nsec = static_cast<long long>(timeout_ms % 1000) * 1000000;
  const int rc = io_uring_submit_and_wait_timeout(&ring_, &cqe, 1, &ts, nullptr);
  return rc < 0 ? rc : 0;
}

}  // namespace ringftpd::io
