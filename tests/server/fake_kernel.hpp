// A recording io::SubmissionQueue for data-path unit tests: no ring. Every
// SQE a channel or transfer prepares is kept; the test completes them one by
// one (fake completions) and so decides the order, the sizes and the errors.
// A few operations the test does not care to steer are carried out for real
// by run_housekeeping(): NOPs, cancels (every targeted operation then
// completes with -ECANCELED), openat2/openat/statx/close on real fds.
//
// The fd invariant of DESIGN.md §6a is checked on every close: a close that
// names an fd some operation in flight still names counts as a violation.
#pragma once

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <vector>

#include "io/op_tag.hpp"
#include "io/submission_queue.hpp"
#include "server/ops.hpp"

namespace ringftpd::server::testing {

class FakeKernel final : public io::SubmissionQueue {
 public:
  io_uring_sqe* sqe(std::uint64_t user_data) override {
    auto s = std::make_unique<io_uring_sqe>();
    std::memset(s.get(), 0, sizeof *s);
    s->user_data = user_data;
    fresh_.push_back(std::move(s));
    return fresh_.back().get();
  }
  // Provided-buffer rings: the kernel's side of IORING_REGISTER_PBUF_RING,
  // enough for a test to play a multishot receive (pick_buffer).
  int register_buffer_ring(const io_uring_buf_reg& reg) noexcept override {
    groups_.push_back(
        Group{reg.bgid, reinterpret_cast<io_uring_buf_ring*>(reg.ring_addr), reg.ring_entries, 0});
    return 0;
  }
  void unregister_buffer_ring(std::uint16_t group) noexcept override {
    std::erase_if(groups_, [&](const Group& g) { return g.id == group; });
  }
  std::optional<std::uint16_t> acquire_buffer_group() noexcept override {
    if (groups_in_use_ >= max_groups_) return std::nullopt;
    ++groups_in_use_;
    return static_cast<std::uint16_t>(next_group_++);
  }
  void release_buffer_group(std::uint16_t) noexcept override { --groups_in_use_; }
  [[nodiscard]] unsigned groups_in_use() const noexcept { return groups_in_use_; }

  struct Picked {
    std::uint16_t id;
    std::byte* data;
    std::uint32_t size;
  };
  // The next buffer the application has provided in `group`, as the kernel
  // would take it for a receive; nullopt when the ring is empty (-ENOBUFS).
  std::optional<Picked> pick_buffer(std::uint16_t group) {
    for (Group& g : groups_) {
      if (g.id != group) continue;
      const std::uint16_t tail = __atomic_load_n(&g.ring->tail, __ATOMIC_ACQUIRE);
      if (g.head == tail) return std::nullopt;
      const io_uring_buf& b = g.ring->bufs[g.head & (g.entries - 1)];
      ++g.head;
      return Picked{b.bid, reinterpret_cast<std::byte*>(b.addr), b.len};
    }
    return std::nullopt;
  }
  // The CQE flags of a receive that used buffer `id`.
  static std::uint32_t buffer_flags(std::uint16_t id, bool more) {
    return IORING_CQE_F_BUFFER | (std::uint32_t{id} << IORING_CQE_BUFFER_SHIFT) |
           (more ? IORING_CQE_F_MORE : 0u);
  }

  static Op op_of(const io_uring_sqe& s) {
    return static_cast<Op>(io::OpTag::unpack(s.user_data).op);
  }

  // Moves freshly prepared SQEs in flight; cancels take effect at once.
  void collect() {
    while (!fresh_.empty()) {
      io_uring_sqe s = *fresh_.front();
      fresh_.pop_front();
      ++submitted_;
      if (s.opcode == IORING_OP_ASYNC_CANCEL) {
        // By fd (IORING_ASYNC_CANCEL_FD) or, as the kernel does otherwise,
        // by the target's user_data.
        const bool by_fd = (s.cancel_flags & IORING_ASYNC_CANCEL_FD) != 0;
        for (Pending& p : in_flight_) {
          const bool hit = by_fd ? names_fd(p.sqe, s.fd) : p.sqe.user_data == s.addr;
          if (hit && p.sqe.opcode != IORING_OP_CLOSE) p.cancelled = true;
        }
        if (s.user_data == io::kIgnoredTag) continue;
      }
      if (s.opcode == IORING_OP_CLOSE) {
        for (const Pending& p : in_flight_) {
          if (p.sqe.opcode != IORING_OP_CLOSE && names_fd(p.sqe, s.fd)) ++close_violations_;
        }
      }
      in_flight_.push_back(Pending{s, false});
    }
  }

  // The first operation in flight with this Op that the test steers (not
  // cancelled); removed from the set in flight.
  std::optional<io_uring_sqe> take(Op op) {
    collect();
    for (auto it = in_flight_.begin(); it != in_flight_.end(); ++it) {
      if (!it->cancelled && op_of(it->sqe) == op && it->sqe.opcode != IORING_OP_NOP) {
        io_uring_sqe s = it->sqe;
        in_flight_.erase(it);
        return s;
      }
    }
    return std::nullopt;
  }
  // The same, cancelled or not: a completion that raced its cancel (the
  // kernel had finished the operation, with any result, before the cancel).
  std::optional<io_uring_sqe> take_racing_cancel(Op op) {
    collect();
    for (auto it = in_flight_.begin(); it != in_flight_.end(); ++it) {
      if (op_of(it->sqe) == op && it->sqe.opcode != IORING_OP_NOP) {
        io_uring_sqe s = it->sqe;
        in_flight_.erase(it);
        return s;
      }
    }
    return std::nullopt;
  }
  // The same without removing it (a multishot receive stays in flight).
  std::optional<io_uring_sqe> peek(Op op) {
    collect();
    for (const Pending& p : in_flight_) {
      if (!p.cancelled && op_of(p.sqe) == op && p.sqe.opcode != IORING_OP_NOP) return p.sqe;
    }
    return std::nullopt;
  }
  [[nodiscard]] std::size_t count(Op op) {
    collect();
    std::size_t n = 0;
    for (const Pending& p : in_flight_) n += op_of(p.sqe) == op ? 1 : 0;
    return n;
  }

  using Complete = std::function<void(Op, int res, std::uint32_t flags)>;

  // Completes, until none is left, every operation the kernel would finish
  // by itself here: cancelled ones (-ECANCELED), NOPs, closes, opens, statx.
  // Returns how many it completed.
  unsigned run_housekeeping(const Complete& complete) {
    unsigned done = 0;
    for (bool progress = true; progress;) {
      progress = false;
      collect();
      for (auto it = in_flight_.begin(); it != in_flight_.end(); ++it) {
        std::optional<int> res;
        const io_uring_sqe s = it->sqe;
        if (it->cancelled) {
          res = -ECANCELED;
        } else if (s.opcode == IORING_OP_NOP || s.opcode == IORING_OP_ASYNC_CANCEL) {
          res = 0;
          nops_ += s.opcode == IORING_OP_NOP ? 1 : 0;
        } else if (s.opcode == IORING_OP_CLOSE) {
          res = ::close(s.fd) == 0 ? 0 : -errno;
          ++closes_;
        } else if (s.opcode == IORING_OP_OPENAT2) {
          const long fd = ::syscall(SYS_openat2, s.fd, reinterpret_cast<const char*>(s.addr),
                                    reinterpret_cast<open_how*>(s.off), s.len);
          res = fd >= 0 ? static_cast<int>(fd) : -errno;
        } else if (s.opcode == IORING_OP_OPENAT) {
          const int fd = ::openat(s.fd, reinterpret_cast<const char*>(s.addr),
                                  static_cast<int>(s.open_flags), s.len);
          res = fd >= 0 ? fd : -errno;
        } else if (s.opcode == IORING_OP_STATX) {
          res =
              ::statx(s.fd, reinterpret_cast<const char*>(s.addr), static_cast<int>(s.statx_flags),
                      s.len, reinterpret_cast<struct statx*>(s.off)) == 0
                  ? 0
                  : -errno;
        }
        if (!res) continue;
        in_flight_.erase(it);
        ++done;
        complete(op_of(s), *res, 0);
        progress = true;
        break;  // the completion may have submitted more, or closed things
      }
    }
    return done;
  }

  [[nodiscard]] std::size_t in_flight() {
    collect();
    return in_flight_.size();
  }
  [[nodiscard]] unsigned close_violations() const noexcept { return close_violations_; }
  [[nodiscard]] unsigned closes() const noexcept { return closes_; }
  [[nodiscard]] unsigned submitted() const noexcept { return submitted_; }
  [[nodiscard]] unsigned nops() const noexcept { return nops_; }

 private:
  struct Pending {
    io_uring_sqe sqe;
    bool cancelled;
  };
  static bool names_fd(const io_uring_sqe& s, int fd) {
    if (fd < 0) return false;
    if (s.fd == fd) return true;
    return s.opcode == IORING_OP_SPLICE && static_cast<int>(s.splice_fd_in) == fd;
  }

  struct Group {
    std::uint16_t id;
    io_uring_buf_ring* ring;
    std::uint32_t entries;
    std::uint16_t head;
  };
  std::vector<Group> groups_;
  unsigned groups_in_use_ = 0;
  unsigned max_groups_ = 4;
  unsigned next_group_ = 1;
  std::deque<std::unique_ptr<io_uring_sqe>> fresh_;
  std::vector<Pending> in_flight_;
  unsigned close_violations_ = 0;
  unsigned closes_ = 0;
  unsigned submitted_ = 0;
  unsigned nops_ = 0;
};

}  // namespace ringftpd::server::testing
