// ControlSession: login through the auth service, the user's root directory,
// and its release (REIN, close) only once nothing names it any more.
#include <fcntl.h>

#include <cstring>

#include "server/control_session.hpp"
#include "server/ftp/reply.hpp"
#include "server/security_log.hpp"

namespace ringftpd::server {

void ControlSession::authenticate(ftp::effect::Authenticate& a) noexcept {
  ++auth_sequence_;
  auth::Request req{auth_request_tag().pack(),
                    a.by_certificate ? auth::Kind::LookupUser : auth::Kind::VerifyPassword, a.user,
                    a.password, peer_.ip()};
  auth_by_certificate_ = a.by_certificate;
  auth::wipe(a.password);
  const bool sent = req.user.size() <= auth::kMaxUserBytes &&
                    req.password.size() <= auth::kMaxPasswordBytes &&
                    env_.auth.send(submit_, req, auth_buffer_);
  auth::wipe(req.password);
  if (!sent) {
    // Only sizes make an encoding fail: a client's doing, so a failed login.
    env_.counters.add(Counter::LoginsFailed);
    log_login_failed(env_.log, peer_, LoginFailure::TooLong, state_.user);
    run(ftp::on_auth_result(state_, policy_, {ftp::AuthOutcome::Result::Denied, {}, 0}));
    return;
  }
  ++auth_sends_in_flight_;
  auth_sent_at_ = Clock::now();
  enter(Phase::Authenticating);
}

io::OpTag ControlSession::auth_request_tag() const noexcept {
  // The op byte carries the login's sequence number: a reply to an earlier
  // request (one given up on when the auth service restarted) must not
  // complete this one, which may be for another user.
  return io::OpTag{tag_.slot, tag_.generation, auth_sequence_};
}

void ControlSession::on_auth_send(int res) noexcept {
  // The buffer held a password. A later request may already have been
  // encoded into it (the answer to this one can arrive before this
  // completion): wipe it only when no send of it is pending any more.
  if (auth_sends_in_flight_ > 0) --auth_sends_in_flight_;
  if (auth_sends_in_flight_ == 0) auth::wipe(auth_buffer_);
  if (res >= 0 || phase_ != Phase::Authenticating) return;
  env_.log.error(who_, std::string("auth service unreachable: ") + std::strerror(-res));
  enter(Phase::Commands);
  run(ftp::on_auth_result(state_, policy_, {ftp::AuthOutcome::Result::Unavailable, {}, 0}));
}

void ControlSession::on_auth_service_lost() noexcept {
  if (phase_ != Phase::Authenticating) return;
  env_.counters.add(Counter::LoginsFailed);
  log_login_refused(config::LogLevel::Warn, "the auth service restarted");
  enter(Phase::Commands);
  run(ftp::on_auth_result(state_, policy_, {ftp::AuthOutcome::Result::Unavailable, {}, 0}));
  maybe_shut_down_now();
  process_input();
  maybe_finish_close();
}

void ControlSession::on_auth_reply(const auth::Reply& r) noexcept {
  if (phase_ != Phase::Authenticating || r.request_id != auth_request_tag().pack()) return;
  using R = ftp::AuthOutcome::Result;
  if (r.result == auth::Result::Allowed) {
    // The root is opened through the ring; login completes when it is open.
    pending_login_ = r;
    root_path_ = r.root;
    io_uring_prep_openat(submit_.sqe(Op::RootOpen), AT_FDCWD, root_path_.c_str(),
                         O_PATH | O_DIRECTORY | O_CLOEXEC, 0);
    enter(Phase::OpeningRoot);
    return;
  }
  // A short Throttled is the service's back-off between guesses: answered
  // like a wrong password, late. Only the long cool-down ends the session.
  constexpr std::uint32_t kLongestDelayMs = 30'000;
  const bool backoff = r.result == auth::Result::Throttled && r.retry_after_ms <= kLongestDelayMs;
  const R result = (r.result == auth::Result::Denied || backoff) ? R::Denied
                   : r.result == auth::Result::Throttled         ? R::Throttled
                                                                 : R::Unavailable;
  env_.counters.add(Counter::LoginsFailed);
  if (result == R::Unavailable) {
    // Never checked (the service could not answer): not the client's doing,
    // and not a line a ban filter matches.
    const std::string_view why = "the auth service is unavailable";
    env_.log.event(config::LogLevel::Error, who_,
                   "login of user " + state_.user + " not checked: " + std::string(why),
                   "login_refused", {text_field("user", state_.user), text_field("reason", why)});
  } else {
    log_login_failed(
        env_.log, peer_,
        result == R::Throttled ? LoginFailure::AddressThrottled : LoginFailure::BadCredentials,
        state_.user);
  }
  ftp::Step step = ftp::on_auth_result(state_, policy_, {result, {}, 0});
  if (result == R::Denied && r.retry_after_ms > 0) {
    // Repeated guessing: the 530 is held back, and so are further commands.
    delayed_step_ = std::move(step);
    delayed_until_ = Clock::now() + std::chrono::milliseconds(r.retry_after_ms);
    enter(Phase::LoginDelayed);
    return;
  }
  enter(Phase::Commands);
  run(std::move(step));
  process_input();
  maybe_finish_close();
}

void ControlSession::on_root_opened(int res) noexcept {
  const auth::Reply login = *pending_login_;
  pending_login_.reset();
  if (phase_ != Phase::OpeningRoot) {
    // The session began closing meanwhile: the new fd has no user.
    if (res >= 0) (void)submit_.close(io::UniqueFd(res), Op::RootClose);
    return;
  }
  enter(Phase::Commands);
  if (res < 0) {
    log_login_refused(config::LogLevel::Error,
                      "cannot open root directory " + login.root + ": " + std::strerror(-res));
    run(ftp::on_auth_result(state_, policy_, {ftp::AuthOutcome::Result::Unavailable, {}, 0}));
    maybe_shut_down_now();
    return;
  }
  if (root_) {
    // REIN released the previous root; it is closed through the ring, never
    // dropped by assignment.
    env_.log.error(who_, "bug: a new root while the previous one is held");
    (void)submit_.close(std::move(root_), Op::RootClose);
  }
  if (!admit_user(login)) {
    (void)submit_.close(io::UniqueFd(res), Op::RootClose);
    return;
  }
  root_.reset(res);
  root_retiring_ = false;
  env_.counters.add(Counter::LoginsOk);
  env_.counters.observe(Histogram::LoginSeconds, Clock::now() - auth_sent_at_);
  env_.log.event(config::LogLevel::Info, who_, "login ok: user " + state_.user, "login",
                 {text_field("user", state_.user), bool_field("anonymous", state_.is_anonymous()),
                  bool_field("certificate", auth_by_certificate_)});
  run(ftp::on_auth_result(
      state_, policy_,
      {ftp::AuthOutcome::Result::Allowed, login.root, login.permissions, auth_by_certificate_}));
  touch();
  maybe_shut_down_now();
}

// The user's max_sessions and bandwidth (users file), shared by all
// workers. Over the limit the client gets 530 and stays connected (it may
// log in as someone else, or later): the password was right, so this is not
// a failed login and not a line a ban filter matches.
bool ControlSession::admit_user(const auth::Reply& login) noexcept {
  UserLimits* limits = env_.user_limits;
  if (limits == nullptr) return true;
  const UserKey key = user_key(state_.user);
  UserAdmission a = limits->admit(key, login.max_sessions, env_.self);
  SharedBucket* bucket = nullptr;
  if (a == UserAdmission::Admitted && login.bandwidth_bytes_per_second > 0) {
    bucket = limits->user_bucket(key, login.bandwidth_bytes_per_second);
    if (bucket == nullptr) {
      (void)limits->release(key, env_.self);
      a = UserAdmission::NoRoom;
    }
  }
  using R = ftp::AuthOutcome::Result;
  switch (a) {
    case UserAdmission::Admitted:
      user_seat_ = UserSeat(*limits, key, env_.self);
      data_.throttle().set_user_bucket(bucket);
      return true;
    case UserAdmission::OverLimit:
      env_.counters.add(Counter::LoginsRefusedUserLimit);
      log_login_refused(config::LogLevel::Warn,
                        "max_sessions (" + std::to_string(login.max_sessions) + ") reached");
      run(ftp::on_auth_result(state_, policy_, {R::UserAtLimit, {}, 0}));
      return false;
    case UserAdmission::NoRoom:
      break;
  }
  // Fail closed: a login the shared tables cannot count is not let in.
  log_login_refused(config::LogLevel::Error, "the shared per-user table has no room for it");
  run(ftp::on_auth_result(state_, policy_, {R::Unavailable, {}, 0}));
  return false;
}

// A right password let in no further (not a failed login: no ban filter
// matches it), or a login that could not be completed on our side.
void ControlSession::log_login_refused(config::LogLevel level, std::string_view why) noexcept {
  try {
    env_.log.event(level, who_, "login of user " + state_.user + " refused: " + std::string(why),
                   "login_refused", {text_field("user", state_.user), text_field("reason", why)});
  } catch (...) {  // out of memory: the line is lost, the session goes on
  }
}

// REIN: the login ends. Its root goes (once nothing uses it), and so does
// any data connection PASV/PORT set up for it.
void ControlSession::end_login() noexcept {
  if (root_) root_retiring_ = true;
  release_root_when_unused();
  user_seat_.reset();
  data_.throttle().set_user_bucket(nullptr);
  data_.release_idle();
  auth_by_certificate_ = false;
  touch();
}

// The root fd is named by every openat2 a filesystem job or a transfer
// submits. Closing it while one is queued would let the number be reused
// (by another session's root) before the open runs, and the path would
// then resolve in someone else's tree. So it is closed only when neither
// runs; both report only after all of their operations have completed.
void ControlSession::release_root_when_unused() noexcept {
  if (!root_retiring_ || !root_ || fs_job_.busy() || data_.is_transferring()) return;
  root_retiring_ = false;
  (void)submit_.close(std::move(root_), Op::RootClose);
}

}  // namespace ringftpd::server
