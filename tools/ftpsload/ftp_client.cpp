#include "tools/ftpsload/ftp_client.hpp"

#include <cerrno>
#include <cstdio>
#include <cstring>

namespace ringftpd::ftpsload {
namespace {

constexpr std::size_t kControlRecvBytes = 4 * 1024;
constexpr std::size_t kControlPlainBytes = 4 * 1024;
constexpr std::size_t kDataRecvBytes = 128 * 1024;
constexpr std::size_t kDataPlainBytes = 16 * 1024;  // one TLS record
// After an error, before the next session: a refusing server is measured,
// not spun against.
constexpr auto kRetryPause = std::chrono::milliseconds(100);

}  // namespace

std::string connect_error(const char* what, int error) {
  if (error == ECONNREFUSED) return std::string(what) + " refused";
  if (error == EADDRNOTAVAIL) return std::string(what) + ": no free local port (try --bind)";
  return std::string(what) + ": " + std::strerror(error);
}

FtpClient::FtpClient(LoopEnv& env, std::uint32_t slot, std::uint32_t index, int control_file,
                     int data_file)
    : env_(env),
      slot_(slot),
      index_(index),
      control_file_(control_file),
      data_file_(data_file),
      control_(kControl, kControlRecvBytes, kControlPlainBytes),
      data_(kData, kDataRecvBytes, kDataPlainBytes) {
  const Options& o = env_.plan.options;
  if (o.mode == Mode::Upload || o.mode == Mode::Append) {
    upload_name_ = o.path;
    if (const auto at = upload_name_.find("{}"); at != std::string::npos) {
      upload_name_.replace(at, 2, std::to_string(index_));
    } else if (o.concurrency > 1) {
      upload_name_ += "." + std::to_string(index_);
    }
  }
}

void FtpClient::enter(Phase phase) noexcept {
  phase_ = phase;
  switch (phase) {
    case Phase::Stopped:
    case Phase::Closing:
    case Phase::Done:
      deadline_ = Clock::time_point::max();
      break;
    case Phase::LoggedIn:
      deadline_ = env_.plan.keepalive.count() > 0 ? env_.now + env_.plan.keepalive
                                                  : Clock::time_point::max();
      break;
    case Phase::RetryWait:
      deadline_ = env_.now + kRetryPause;
      break;
    default:
      deadline_ = env_.now + env_.plan.timeout;
      break;
  }
  if (phase == Phase::Done) {
    settle_first_setup();
    ++env_.finished;
  }
}

void FtpClient::start() noexcept {
  first_setup_ = true;
  ++env_.in_first_setup;
  begin_session();
}

void FtpClient::settle_first_setup() noexcept {
  if (!first_setup_) return;
  first_setup_ = false;
  --env_.in_first_setup;
}

void FtpClient::begin_session() noexcept {
  const Options& o = env_.plan.options;
  if (env_.stopping) return enter(Phase::Done);
  claimed_ = false;
  if (o.mode == Mode::Sessions) {
    if (!env_.run.claim()) return enter(Phase::Done);
    claimed_ = true;
  } else if (!env_.run.budget_left()) {
    return enter(Phase::Done);
  }
  ++generation_;
  const io::OpTag base{slot_, generation_, 0};
  control_.bind_ring(env_.ring, base, control_file_);
  data_.bind_ring(env_.ring, base, data_file_);
  replies_.reset();
  transfers_this_session_ = 0;
  in_transfer_ = false;
  data_connect_pending_ = false;
  retry_ = false;
  session_start_ = env_.now;
  setting_up_ = true;
  env_.stats.live.sessions_started.add();
  env_.stats.live.sessions_setting_up.add();
  enter(Phase::Connecting);
  const auto& sources = env_.plan.sources;
  const io::SocketAddress* source = sources.empty() ? nullptr : &sources[index_ % sources.size()];
  if (const int rc = control_.connect(env_.plan.server, source); rc < 0) {
    fail(connect_error("connect", -rc));
  }
}

void FtpClient::on_completion(std::uint8_t op, int res) noexcept {
  const bool is_data = (op >> 4) == kData;
  Channel& ch = is_data ? data_ : control_;
  switch (static_cast<ChannelOp>(op & 0x0F)) {
    case ChannelOp::Connect:
      if (ch.on_connect(res)) is_data ? on_data_connected() : on_control_connected();
      break;
    case ChannelOp::Accept:
      if (ch.on_accept(res)) on_data_accepted();
      break;
    case ChannelOp::Recv:
      if (ch.on_recv(res)) is_data ? pump_data() : pump_control();
      break;
    case ChannelOp::Send:
      if (!ch.on_send(res)) break;
      if (ch.failed()) {
        fail((is_data ? "data " : "") + ch.error_text());
      } else if (is_data) {
        pump_upload();
      }
      break;
    default:
      ch.on_other(static_cast<ChannelOp>(op & 0x0F));
      break;
  }
  if (data_connect_pending_ && phase_ == Phase::DataConnecting && data_.is_idle()) {
    connect_data();
  }
  maybe_drained();
}

void FtpClient::on_control_connected() noexcept {
  if (control_.failed()) return fail(connect_error("connect", control_.error_number()));
  if (!env_.plan.options.implicit_tls) return enter(Phase::Greeting);
  // Implicit TLS: the handshake first; the 220 comes through it.
  if (!control_.start_tls(*env_.tls, nullptr) || control_.failed()) {
    return fail(control_.error_text());
  }
  enter(Phase::ControlHandshake);
}

// Everything the control connection has for us: handshake progress and
// replies, until it needs more bytes.
void FtpClient::pump_control() noexcept {
  for (;;) {
    const Channel::Chunk c = control_.read();
    switch (c.status) {
      case Channel::Read::Data:
        replies_.feed(c.data);
        if (!drain_replies()) return;
        break;
      case Channel::Read::HandshakeDone:
        on_control_handshake();
        break;
      case Channel::Read::NeedMore:
        return;
      case Channel::Read::Closed:
      case Channel::Read::Truncated:
        return on_control_eof();
      case Channel::Read::Failed:
        return fail(control_.error_text());
    }
    if (phase_ == Phase::Closing || phase_ == Phase::Done) return;
  }
}

// False when the session ended while handling a reply.
bool FtpClient::drain_replies() noexcept {
  Reply reply;
  for (;;) {
    switch (replies_.next(reply)) {
      case ReplyReader::Status::Ready:
        on_reply(reply);
        if (phase_ == Phase::Closing || phase_ == Phase::Done) return false;
        break;
      case ReplyReader::Status::NeedMore:
        return true;
      case ReplyReader::Status::Malformed:
        fail("malformed reply (" + waiting_for() + ")");
        return false;
      case ReplyReader::Status::TooLong:
        fail("reply too long (" + waiting_for() + ")");
        return false;
    }
  }
}

void FtpClient::trace(std::string_view what, std::string_view line) const {
  if (!env_.plan.options.trace || index_ != 0) return;
  const double ms = std::chrono::duration<double, std::milli>(env_.now - session_start_).count();
  std::fprintf(stderr, "ftpsload: %9.3fms %.*s %.*s\n", ms, static_cast<int>(what.size()),
               what.data(), static_cast<int>(line.size()), line.data());
}

void FtpClient::on_reply(const Reply& r) noexcept {
  const Options& o = env_.plan.options;
  if (o.trace) trace("<", std::to_string(r.code) + " " + r.text);
  switch (phase_) {
    case Phase::Greeting:
      if (r.is_preliminary()) return;  // 120: ready in a while
      if (r.code != 220) return reply_error(r);
      if (o.tls && !o.implicit_tls) return send_command("AUTH", "TLS", Phase::AuthTls);
      return send_command("USER", o.user, Phase::User);
    case Phase::AuthTls:
      if (r.code != 234) return reply_error(r);
      // Anything after 234 came in clear, unprotected: not the server's TLS.
      if (replies_.has_buffered()) return fail("clear bytes after 234");
      if (!control_.start_tls(*env_.tls, nullptr) || control_.failed()) {
        return fail(control_.error_text());
      }
      return enter(Phase::ControlHandshake);
    case Phase::User:
      if (r.code == 230) return logged_in();
      if (r.code != 331) return reply_error(r);
      return send_command("PASS", o.password, Phase::Pass);
    case Phase::Pass:
      if (r.code != 230 && r.code != 202) return reply_error(r);
      return logged_in();
    case Phase::Pbsz:
      if (r.code != 200) return reply_error(r);
      return send_command("PROT", o.prot_private ? "P" : "C", Phase::Prot);
    case Phase::Prot:
      if (r.code != 200) return reply_error(r);
      return send_command("TYPE", "I", Phase::Type);
    case Phase::Noop:
      if (r.code != 200) return reply_error(r);
      return enter(Phase::LoggedIn);
    case Phase::Type:
      if (r.code != 200) return reply_error(r);
      return setup_done();
    case Phase::SizeBefore:
      return on_size_before_reply(r);
    case Phase::Passive:
      return on_passive_reply(r);
    case Phase::Port:
      return on_port_reply(r);
    case Phase::Rest:
      return on_rest_reply(r);
    case Phase::Transfer:
      return on_transfer_reply(r);
    case Phase::Size:
      return on_size_reply(r);
    case Phase::Quit:
      if (r.code != 221) return reply_error(r);
      return session_done();
    default:  // nothing was asked: e.g. "421 idle timeout" while held
      return fail("unsolicited reply " + std::to_string(r.code) + " (" + waiting_for() + ")",
                  r.code);
  }
}

void FtpClient::on_control_handshake() noexcept {
  tls::Session* s = control_.tls();
  Totals& t = env_.stats.totals;
  ++(s->is_resumed() ? t.control_resumed : t.control_full);
  if (env_.plan.options.trace) {
    trace("*", "control TLS done: " + std::string(s->protocol_version()) + " " +
                   std::string(s->cipher_suite()));
  }
  if (t.tls_protocol.empty()) {
    t.tls_protocol = s->protocol_version();
    t.tls_cipher = s->cipher_suite();
  }
  if (env_.plan.options.implicit_tls) return enter(Phase::Greeting);
  send_command("USER", env_.plan.options.user, Phase::User);
}

void FtpClient::on_control_eof() noexcept {
  if (phase_ == Phase::Quit) return session_done();  // some servers close without 221
  fail("closed by server (" + waiting_for() + ")");
}

void FtpClient::logged_in() noexcept {
  if (env_.plan.options.tls) return send_command("PBSZ", "0", Phase::Pbsz);
  send_command("TYPE", "I", Phase::Type);
}

void FtpClient::setup_done() noexcept {
  env_.stats.totals.setup.record(static_cast<std::uint64_t>((env_.now - session_start_).count()));
  setting_up_ = false;
  env_.stats.live.sessions_setting_up.sub();
  env_.stats.live.sessions_up.add();
  logged_in_ = true;
  env_.stats.note_open();
  settle_first_setup();
  next_step();
}

// After set-up and after each transfer: another transfer, holding, or QUIT.
void FtpClient::next_step() noexcept {
  const Options& o = env_.plan.options;
  if (o.mode == Mode::Idle) return enter(Phase::LoggedIn);
  if (env_.stopping) return quit();
  if (o.mode == Mode::Sessions) {
    return transfers_this_session_ == 0 ? start_transfer() : quit();
  }
  if (o.per_session != 0 && transfers_this_session_ >= o.per_session) return quit();
  if (!env_.run.claim()) return quit();
  claimed_ = true;
  start_transfer();
}

void FtpClient::send_command(const char* verb, std::string_view argument, Phase next) noexcept {
  verb_ = verb;
  std::string line = verb;
  if (!argument.empty()) {
    line += ' ';
    line += argument;
  }
  if (env_.plan.options.trace) {
    trace(">", std::string_view(verb) == "PASS" ? std::string("PASS ****") : line);
  }
  line += "\r\n";
  enter(next);
  if (!control_.send(line)) fail(control_.error_text());
}

void FtpClient::quit() noexcept {
  send_command("QUIT", {}, Phase::Quit);
}

void FtpClient::session_done() noexcept {
  env_.stats.live.sessions_done.add();
  if (env_.plan.options.mode == Mode::Sessions) {
    env_.stats.totals.session.record(
        static_cast<std::uint64_t>((env_.now - session_start_).count()));
  }
  end_session(/*retry=*/false);
}

void FtpClient::reply_error(const Reply& r) noexcept {
  fail("reply " + std::to_string(r.code) + " to " + verb_, r.code);
}

void FtpClient::fail(const std::string& kind, int reply_code) noexcept {
  if (phase_ == Phase::Closing || phase_ == Phase::Done) return;
  try {
    env_.stats.error(kind, reply_code);
  } catch (...) {  // a tally that cannot grow is not worth a crash
  }
  if (in_transfer_) env_.stats.live.transfers_failed.add();
  append_size_.reset();  // an APPE cut short leaves the file's size unknown
  env_.stats.live.sessions_failed.add();
  // A failure that took nothing from --count still uses it up, or a run
  // with --count against a dead server would never end.
  if (!claimed_) (void)env_.run.claim();
  end_session(/*retry=*/env_.plan.options.mode != Mode::Idle);
}

void FtpClient::end_session(bool retry) noexcept {
  if (logged_in_) env_.stats.live.sessions_open.sub();
  if (setting_up_) env_.stats.live.sessions_setting_up.sub();
  logged_in_ = setting_up_ = in_transfer_ = false;
  settle_first_setup();
  retry_ = retry;
  control_.close();
  data_.close();
  enter(Phase::Closing);
  maybe_drained();
}

// A closing session whose connections have drained: start over, pause, or stop.
void FtpClient::maybe_drained() noexcept {
  if (phase_ != Phase::Closing || !control_.is_idle() || !data_.is_idle()) return;
  if (env_.stopping || env_.plan.options.mode == Mode::Idle) return enter(Phase::Done);
  if (retry_) return enter(Phase::RetryWait);
  begin_session();
}

void FtpClient::on_deadline() noexcept {
  switch (phase_) {
    case Phase::RetryWait:
      return begin_session();
    case Phase::LoggedIn:
      return send_command("NOOP", {}, Phase::Noop);
    case Phase::Stopped:
    case Phase::Closing:
    case Phase::Done:
      return;
    default:
      return fail("timeout (" + waiting_for() + ")");
  }
}

void FtpClient::stop() noexcept {
  switch (phase_) {
    case Phase::Stopped:
    case Phase::Done:
      return;
    case Phase::RetryWait:
      return enter(Phase::Done);
    case Phase::Closing:
      return maybe_drained();
    default:
      break;
  }
  if (in_transfer_) ++env_.stats.totals.transfers_cut;
  if (setting_up_) ++env_.stats.totals.sessions_cut;
  end_session(/*retry=*/false);
}

std::string FtpClient::waiting_for() const {
  switch (phase_) {
    case Phase::Connecting:
      return "connect";
    case Phase::Greeting:
      return "220 greeting";
    case Phase::ControlHandshake:
      return "TLS handshake";
    case Phase::LoggedIn:
      return "idle session";
    case Phase::DataConnecting:
      return "data connect";
    case Phase::Port:
      return std::string("reply to ") + verb_ + " (active mode)";
    case Phase::Transfer: {
      const std::string verb(transfer_verb());
      if (!xfer_.got_mark) return "1xx reply to " + verb;
      if (is_active() && !data_.has_socket() && !xfer_.data_done) {
        return "server's data connection (" + verb + ")";
      }
      if (protects_data() && xfer_.data_tls_started && data_.tls() != nullptr &&
          !data_.tls()->is_handshake_done() && !xfer_.data_done) {
        return "data TLS handshake";
      }
      if (!xfer_.data_done) return "data of " + verb;
      return "final reply to " + verb;
    }
    default:
      return std::string("reply to ") + verb_;
  }
}

}  // namespace ringftpd::ftpsload
