// sim::SimKernel: the second implementation of io::SubmissionQueue, a
// simulated io_uring over real non-blocking syscalls, driven by one PRNG.
//
// Sessions fill SQEs exactly as they do for io::Ring. submit() issues them:
// each becomes a pending operation; cancellations (IORING_OP_ASYNC_CANCEL by
// user_data, by fd, all) are resolved at once, each target either completing
// first or ending in -ECANCELED as the PRNG decides. step() picks one pending
// operation at random and tries its real syscall with MSG_DONTWAIT /
// SPLICE_F_NONBLOCK and a possibly shorter length; EAGAIN leaves it pending, an
// injected fault ends it with ECONNRESET, EIO, ENOSPC, EMFILE or ENOBUFS.
// Completions are queued in the order they are posted (pop_completion).
//
// Multishot receives with IOSQE_BUFFER_SELECT take buffers from the rings
// registered through register_buffer_ring() the way the kernel does (a head
// per group, the tail read with acquire ordering) and end with -ENOBUFS when
// none is left.
//
// It also checks what only a kernel can see (EventLog::violation):
// - every fd a session names is open and its own; a CLOSE never names an fd
//   with an operation pending; nothing names an fd whose close is queued; a
//   close never hits EBADF (a double close);
// - an fd a session owns is closed (through the ring) before the session is
//   destroyed, and nothing of the session is still pending then;
// - every file or directory a session opens resolves under its root.
//
// Single-threaded, like the worker it stands in for. Operations hold raw
// pointers into session memory: session_destroyed() drops (and reports) any
// that are left, so a broken session cannot make the simulator itself write
// into freed memory.
#pragma once

#include <liburing.h>

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "io/submission_queue.hpp"
#include "tests/sim/event_log.hpp"
#include "tests/sim/rng.hpp"

namespace ringftpd::sim {

struct Completion {
  std::uint64_t user_data = 0;
  int res = 0;
  std::uint32_t flags = 0;
};

// Probabilities in parts per thousand, per attempt of an operation.
struct Faults {
  unsigned short_io = 400;       // move fewer bytes than asked
  unsigned socket_error = 2;     // ECONNRESET on a socket operation
  unsigned file_error = 4;       // EIO / ENOSPC / EMFILE on a file operation
  unsigned multishot_stop = 30;  // a multishot receive ends (no F_MORE) without error
  unsigned cancel_loses = 300;   // the target of a cancel completes first
  [[nodiscard]] static Faults none() { return Faults{0, 0, 0, 0, 0}; }
};

// Who an operation or fd belongs to: the session's slot and generation
// (io::OpTag), or the worker.
using Owner = std::uint64_t;
inline constexpr Owner kWorkerOwner = ~Owner{0};
[[nodiscard]] Owner owner_of(std::uint64_t user_data) noexcept;
[[nodiscard]] std::string owner_name(Owner o);

struct KernelStats {
  std::uint64_t submitted = 0;
  std::uint64_t completions = 0;
  std::uint64_t attempts = 0;
  std::uint64_t eagain = 0;
  std::uint64_t injected = 0;
  std::uint64_t cancels_won = 0;   // target ended -ECANCELED
  std::uint64_t cancels_lost = 0;  // target completed first
  std::uint64_t enobufs = 0;
  std::uint64_t closes_outside_ring = 0;  // an fd closed by close(2), not the ring
};

class SimKernel final : public io::SubmissionQueue {
 public:
  SimKernel(Rng& rng, EventLog& log, Faults faults);
  ~SimKernel() override;
  SimKernel(const SimKernel&) = delete;
  SimKernel& operator=(const SimKernel&) = delete;

  [[nodiscard]] io_uring_sqe* sqe(std::uint64_t user_data) override;
  [[nodiscard]] int register_buffer_ring(const io_uring_buf_reg& reg) noexcept override;
  void unregister_buffer_ring(std::uint16_t group_id) noexcept override;
  [[nodiscard]] std::optional<std::uint16_t> acquire_buffer_group() noexcept override;
  void release_buffer_group(std::uint16_t id) noexcept override;

  // io_uring_submit: issues every SQE handed out since the last call.
  void submit();
  // Tries one pending operation chosen by the PRNG. True if it posted.
  bool step();
  // Tries every pending operation once (in PRNG order). True if any posted.
  bool step_all();

  [[nodiscard]] std::optional<Completion> pop_completion();
  [[nodiscard]] bool has_completions() const noexcept { return !cq_.empty(); }
  [[nodiscard]] std::size_t pending() const noexcept { return ops_.size(); }
  [[nodiscard]] std::size_t pending_of(Owner o) const noexcept;
  [[nodiscard]] std::size_t buffer_groups_in_use() const noexcept { return groups_in_use_.size(); }
  [[nodiscard]] std::size_t registered_rings() const noexcept { return rings_.size(); }

  // Descriptors.
  // An fd handed to a session by the worker (its control connection).
  void give(int fd, Owner owner, const char* what);
  // An fd sessions may name but do not own (the auth service's socket).
  void share(int fd, const char* what);
  // The directory every open of this session must resolve under (its
  // login); empty: the session may open nothing.
  void set_root(Owner owner, std::string root);
  // The worker is about to free the session: nothing of it may remain.
  void session_destroyed(Owner owner);
  [[nodiscard]] std::size_t fds_owned() const noexcept;
  // A run that failed is torn down: forget everything pending.
  void abandon();

  [[nodiscard]] const KernelStats& stats() const noexcept { return stats_; }

 private:
  struct Op {
    std::uint64_t id = 0;
    io_uring_sqe sqe{};
    Owner owner = 0;
    std::uint64_t after = 0;  // a linked predecessor that must complete first
    bool connecting = false;  // CONNECT: in progress
    bool posted_any = false;  // multishot: has posted at least once
  };
  struct FdInfo {
    Owner owner = 0;
    std::string what;
    bool closing = false;  // a CLOSE is queued
    bool shared = false;
    dev_t dev = 0;
    ino_t ino = 0;
  };
  struct Group {
    io_uring_buf_ring* br = nullptr;
    std::uint32_t entries = 0;
    std::uint16_t head = 0;
  };

  void issue(const io_uring_sqe& s, std::uint64_t after);
  void cancel(const Op& c);
  // -EAGAIN: still pending. Otherwise the op is finished (or posted and
  // stays, for multishot: `keep` set).
  int attempt(Op& op, std::uint32_t& flags, bool& keep);
  int do_recv(Op& op, std::uint32_t& flags, bool& keep);
  int do_send(Op& op);
  int do_accept(Op& op);
  int do_connect(Op& op);
  int do_rw(Op& op);
  int do_splice(Op& op);
  int do_open(Op& op);
  int do_close(Op& op);
  bool try_op(std::size_t index, bool allow_faults);
  void post(std::uint64_t user_data, int res, std::uint32_t flags);
  [[nodiscard]] std::size_t shorter(std::size_t n);
  [[nodiscard]] bool fault(unsigned per_mille);
  [[nodiscard]] std::vector<int> fds_named(const io_uring_sqe& s) const;
  void check_named(const io_uring_sqe& s, Owner owner);
  void adopt(int fd, Owner owner, std::string what);
  void check_confined(int fd, Owner owner, const char* path);
  [[nodiscard]] bool runnable(const Op& op) const;
  [[nodiscard]] std::string describe(const io_uring_sqe& s) const;

  Rng& rng_;
  EventLog& log_;
  Faults faults_;
  std::deque<io_uring_sqe> batch_;  // handed out, not yet submitted (stable addresses)
  std::vector<std::uint8_t> batch_linked_;
  std::vector<Op> ops_;  // pending, in issue order
  std::deque<Completion> cq_;
  std::map<int, FdInfo> fds_;
  std::map<Owner, std::string> roots_;
  std::map<std::uint16_t, Group> rings_;
  std::map<std::uint16_t, bool> groups_in_use_;
  std::uint64_t next_id_ = 1;
  KernelStats stats_;
};

}  // namespace ringftpd::sim
