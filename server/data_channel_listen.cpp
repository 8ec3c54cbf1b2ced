// DataChannel's side of the data connection: the passive listener (one
// connection per PASV, only from the control peer: RFC 2577 port stealing),
// the active target, and a listener's retirement, which closes it only after
// its cancelled accept has completed.
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "server/data_channel.hpp"
#include "server/network_match.hpp"
#include "server/passive_address.hpp"

namespace ringftpd::server {
namespace {

using Result = ftp::TransferOutcome::Result;
constexpr unsigned kPassiveBindAttempts = 64;

}  // namespace

// Stops listening at once. A pending accept is cancelled; the listener is
// closed only when that accept has completed (-ECANCELED, or a connection it
// took just before), so no operation ever names a closed fd number.
void DataChannel::retire_listener() {
  if (!listen_fd_) return;
  if (accept_armed_) {
    // The one accept in flight: no other listener is retiring now. Past the
    // accept itself, it is the read of the connection's PROXY header.
    if (header_conn_) {
      io_uring_prep_cancel64(submit_.untracked_sqe(), submit_.user_data(Op::DataProxyRecv), 0);
    } else {
      io_uring_prep_cancel_fd(submit_.untracked_sqe(), listen_fd_.get(), 0);
    }
    retiring_listener_ = std::move(listen_fd_);
    retiring_accept_ = true;
  } else {
    close_fd(listen_fd_, Op::ListenClose);
  }
  accept_armed_ = false;
}

void DataChannel::release_idle() {
  if (stage_ != Stage::Idle) return;
  retire_listener();
  close_fd(data_fd_, Op::DataClose);  // no operation names it between transfers
  active_target_.reset();
}

ftp::PassiveOutcome DataChannel::open_passive(const io::SocketAddress& control_local,
                                              const io::SocketAddress& control_peer) {
  release_idle();
  retire_listener();  // also while a transfer finishes: its connection stays its
                      // own
  close_fd(next_data_fd_, Op::DataClose);
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
  // PASV advertises an IPv4 address: chosen by the client's network, else the
  // configured public one, else ours.
  out.address = passive_reply_address(cfg_.passive, control_local, control_peer);
  listen_fd_ = std::move(fd);
  active_target_.reset();
  // A client may connect at once: the kernel queues it on the listener until
  // the accept is armed, which waits while a retired listener's cancelled
  // accept is still in flight (on_accept arms it then).
  if (!retiring_accept_) arm_accept();
  return out;
}

void DataChannel::set_active(const io::SocketAddress& target) {
  release_idle();
  active_target_ = target;
}

// Not counted in pending_: a listener waits for the next transfer as well,
// and its accept is tracked by accept_armed_ / retiring_accept_. Only one
// accept is ever in flight.
void DataChannel::arm_accept() {
  io_uring_prep_accept(submit_.sqe(Op::DataAccept), listen_fd_.get(), nullptr, nullptr,
                       SOCK_CLOEXEC);
  accept_armed_ = true;
}

void DataChannel::on_accept(int res) {
  io::UniqueFd conn(res >= 0 ? res : -1);
  // At most one accept is in flight (a new listener's waits for a retired
  // one's), so a completion while a listener retires is that listener's:
  // -ECANCELED, or a connection (or an error) that beat the cancel.
  if (retiring_accept_) {
    close_fd(conn, Op::DataClose);  // belongs to no one
    retiring_accept_ = false;
    close_fd(retiring_listener_, Op::ListenClose);
    if (listen_fd_ && !accept_armed_) arm_accept();  // the current listener's turn
    return;
  }
  if (!accept_armed_ || !listen_fd_) {
    close_fd(conn, Op::DataClose);
    log_.error(who_, "bug: an accept completion without a listener");
    return;
  }
  accept_armed_ = false;
  if (res < 0) {
    // The listener cannot take its connection (EMFILE, say): it is given up,
    // so a transfer waiting for it ends now (425) rather than at the stall
    // timeout.
    log_.warn(who_, std::string("data connection accept failed: ") + std::strerror(-res));
    retire_listener();
    if (stage_ == Stage::Opening || stage_ == Stage::Connecting) {
      fail(Result::NoConnection, -res);
    }
    return;
  }
  const auto peer = io::peer_address(res);
  if (!peer) {
    refuse_connection(conn);  // the peer is already gone
    return;
  }
  if (cfg_.passive.proxy.enabled()) {
    if (!in_networks(cfg_.passive.proxy.trusted, *peer)) {
      if (counters_ != nullptr) counters_->add(Counter::ProxyRefusedUntrusted);
      log_.warn(who_, "refused a data connection from " + peer->to_string() +
                          ": not in passive.proxy_trusted");
      refuse_connection(conn);
      return;
    }
    // The connection is the balancer's; its header names the client.
    header_conn_ = std::move(conn);
    header_peer_ = *peer;
    header_ = std::make_unique<ProxyV2Reader>();
    accept_armed_ = true;  // the accept completes with the header
    arm_header_recv();
    return;
  }
  take_connection(std::move(conn), *peer);
}

void DataChannel::arm_header_recv() {
  const std::span<std::byte> into = header_->next_read();
  io_uring_prep_recv(submit_.sqe(Op::DataProxyRecv), header_conn_.get(), into.data(), into.size(),
                     0);
}

void DataChannel::on_header_recv(int res) {
  if (retiring_accept_) {
    // The listener retired while the header was read: like a retired
    // listener's accept, the connection belongs to no one.
    close_fd(header_conn_, Op::DataClose);
    header_.reset();
    retiring_accept_ = false;
    close_fd(retiring_listener_, Op::ListenClose);
    if (listen_fd_ && !accept_armed_) arm_accept();
    return;
  }
  if (!header_conn_ || !header_) {
    log_.error(who_, "bug: a PROXY header receive without a connection");
    return;
  }
  accept_armed_ = false;
  if (res <= 0) {
    if (counters_ != nullptr) counters_->add(Counter::ProxyRefusedMalformed);
    log_.warn(who_, "refused a data connection from " + header_peer_.to_string() +
                        ": closed before its PROXY header was complete (" +
                        (res == 0 ? std::string("closed") : std::string(std::strerror(-res))) +
                        ")");
    header_.reset();
    refuse_connection(header_conn_);
    return;
  }
  const ProxyParse parsed = header_->on_received(static_cast<std::size_t>(res));
  if (parsed.status == ProxyParse::Status::Incomplete) {
    accept_armed_ = true;
    arm_header_recv();
    return;
  }
  header_.reset();
  if (parsed.status == ProxyParse::Status::Invalid) {
    if (counters_ != nullptr) counters_->add(Counter::ProxyRefusedMalformed);
    log_.warn(who_, "refused a data connection from " + header_peer_.to_string() +
                        ": bad PROXY header (" + std::string(parsed.error) + ")");
    refuse_connection(header_conn_);
    return;
  }
  // A LOCAL header (no client named) is the balancer's own connection: the
  // control peer check below refuses it like any other stranger.
  take_connection(std::move(header_conn_), parsed.header.source.value_or(header_peer_));
}

void DataChannel::refuse_connection(io::UniqueFd& conn) {
  close_fd(conn, Op::DataClose);
  if (listen_fd_ && !accept_armed_ &&
      (stage_ == Stage::Idle || stage_ == Stage::Opening || stage_ == Stage::Connecting)) {
    arm_accept();
  }
}

void DataChannel::take_connection(io::UniqueFd conn, const io::SocketAddress& peer) {
  if (!peer.same_host(control_peer_)) {
    // RFC 2577 port stealing: only the control connection's peer may connect.
    log_.warn(who_, "refused a data connection from " + peer.to_string() +
                        ": not the control connection's address");
    refuse_connection(conn);
    return;
  }
  retire_listener();  // one connection per PASV
  if (stage_ == Stage::Finishing || stage_ == Stage::Closing) {
    // For the next transfer: the one finishing still owns data_fd_.
    close_fd(next_data_fd_, Op::DataClose);
    next_data_fd_ = std::move(conn);
    return;
  }
  data_fd_ = std::move(conn);
  if (stage_ == Stage::Connecting) begin_transfer();
}

}  // namespace ringftpd::server
