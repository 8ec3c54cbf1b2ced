#include "tests/sim/sim_client.hpp"

#include "tests/sim/net.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>
#include <vector>

namespace ringftpd::sim {
namespace {

constexpr std::size_t kMaxReplyLine = 8192;

const char* want_name(int w) {
  static const char* const kNames[] = {
      "banner", "AUTH", "PBSZ", "PROT", "USER", "PASS", "PASV", "EPSV",    "PORT",
      "EPRT",   "RETR", "STOR", "APPE", "LIST", "NLST", "MLSD", "ABOR",    "REIN",
      "QUIT",   "NOOP", "TYPE", "REST", "SIZE", "CWD",  "MKD",  "garbage", "overlong"};
  return kNames[w];
}

io::UniqueFd tcp_socket_bound(const std::string& ip) {
  io::UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  inet_pton(AF_INET, ip.c_str(), &a.sin_addr);
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) return {};
  Net::get().add(fd.get());
  return fd;
}

bool connect_to(int fd, std::uint16_t port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const int queued = Net::get().before_connect(&a);
  const int rc = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  if (rc != 0 && errno != EINPROGRESS) return false;
  Net::get().after_connect(fd, &a, queued);
  return true;
}

// Closes a socket (with a reset if asked) once its peer has seen the end.
void close_socket(io::UniqueFd& fd, bool reset = false) {
  if (!fd) return;
  if (reset) {
    const linger l{1, 0};
    setsockopt(fd.get(), SOL_SOCKET, SO_LINGER, &l, sizeof l);
  }
  const int peer = Net::get().peer_of(fd.get());
  Net::get().remove(fd.get());
  fd.reset();
  Net::get().after_close(peer);
}

void reset_close(io::UniqueFd& fd) {
  close_socket(fd, true);
}

std::string bytes_text(std::span<const std::byte> b) {
  return std::string(reinterpret_cast<const char*>(b.data()), b.size());
}

std::string read_whole(const std::string& path, bool& exists) {
  std::ifstream in(path, std::ios::binary);
  exists = static_cast<bool>(in);
  return {std::istreambuf_iterator<char>(in), {}};
}

}  // namespace

SimClient::SimClient(ClientEnv env, ClientSpec spec) : env_(env), spec_(std::move(spec)) {
  checking_ = !spec_.chaos;
}

SimClient::~SimClient() {
  if (data_) {
    close_socket(data_->fd);
    close_socket(data_->listener);
  }
  close_socket(ctrl_);
}

std::string SimClient::who() const {
  return "client " + std::to_string(spec_.id);
}

void SimClient::fail(const std::string& what) {
  env_.log.violation(who() + " (" + spec_.ip + ", user " + spec_.user + "): " + what);
}

void SimClient::connect() {
  ctrl_ = tcp_socket_bound(spec_.ip);
  if (env_.rng.chance(1, 3)) {
    const int small = static_cast<int>(env_.rng.between(2048, 16384));
    setsockopt(ctrl_.get(), SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
  }
  if (!ctrl_ || !connect_to(ctrl_.get(), env_.server_port)) {
    fail(std::string("cannot connect: ") + std::strerror(errno));
    close_socket(ctrl_);
    return;
  }
  expects_.push_back(Expect{Want::Banner, "(connect)"});
  env_.log.add(who() + ": connects from " + spec_.ip + (spec_.chaos ? " (chaos)" : ""));
}

void SimClient::gone(const std::string& why) {
  // Before the check below: a disconnect with a reset has emptied ctrl_
  // already, and its upload is just as unsettled.
  if (transfer_ && !transfer_->final_seen &&
      (transfer_->want == Want::Stor || transfer_->want == Want::Appe)) {
    spec_.unsettled.insert(transfer_->name);
  }
  if (!ctrl_) return;
  env_.log.add(who() + ": gone: " + why);
  drop_data();
  close_socket(ctrl_);
  tls_.reset();
}

void SimClient::leave() {
  if (!ctrl_) return;
  if (env_.rng.chance(1, 3)) {
    drop_data();
    reset_close(ctrl_);
    env_.log.add(who() + ": leaves with a reset");
  }
  gone("leaves");
}

void SimClient::say(std::string line, Want want) {
  env_.log.add(who() + ": > " + (want == Want::Pass ? "PASS ****" : line.substr(0, 80)));
  out_ += line;
  out_ += "\r\n";
  const bool setup =
      want == Want::Pasv || want == Want::Epsv || want == Want::Port || want == Want::Eprt;
  if (setup) ++data_setups_;
  expects_.push_back(Expect{want, std::move(line), false, setup ? data_setups_ : 0});
}

bool SimClient::act() {
  if (!ctrl_) return false;
  Rng& r = env_.rng;
  switch (r.below(10)) {
    case 0:
    case 1:
    case 2:
      return pump_control();
    case 3:
    case 4:
      return pump_data();
    case 5:
    case 6:
    case 7:
      if (!connected_ && !spec_.pipeline) return pump_control();
      send_command();
      return flush_control();
    case 8:
      if (r.chance(1, 4)) {
        paused_ = !paused_;
        env_.log.add(who() + (paused_ ? ": stops reading" : ": reads again"));
      }
      return flush_control();
    default:
      if (r.chance(1, 300)) {
        if (r.chance(1, 2)) reset_close(ctrl_);
        gone("disconnects");
        return true;
      }
      return pump_control();
  }
}

void SimClient::send_command() {
  if (quit_sent_ || out_.size() > 64 * 1024) return;
  if (spec_.chaos) return send_chaos();
  if (hold_ || (tls_ && !tls_up_)) return;
  if (!spec_.pipeline && !expects_.empty()) return;
  if (expects_.size() > 6) return;
  send_normal_command();
}

void SimClient::send_chaos() {
  Rng& r = env_.rng;
  static const char* const kVerbs[] = {"USER", "PASS", "PASV", "EPSV", "RETR", "STOR", "LIST",
                                       "NLST", "MLSD", "ABOR", "REIN", "NOOP", "PORT", "EPRT",
                                       "AUTH", "PBSZ", "PROT", "TYPE", "REST", "CWD",  "MKD",
                                       "DELE", "RNFR", "RNTO", "SIZE", "STAT", "FEAT", "QUIT",
                                       "APPE", "STOU", "MDTM", "OPTS", "HELP", "SYST"};
  static const char* const kArgs[] = {"",
                                      "f0.bin",
                                      "../../etc/passwd",
                                      "/",
                                      "TLS",
                                      "P",
                                      "C",
                                      "0",
                                      "I",
                                      "A",
                                      "d1",
                                      "127,0,0,1,200,1",
                                      "|1|127.0.0.1|51000|",
                                      "..",
                                      "~",
                                      "/dev/zero",
                                      "d1/../../..",
                                      "-la",
                                      "*",
                                      "\x01\x02"};
  const unsigned n = static_cast<unsigned>(r.between(1, 6));
  for (unsigned i = 0; i < n; ++i) {
    const std::uint64_t k = r.below(10);
    if (k == 0) {
      std::string junk(r.between(1, 64), ' ');
      for (char& c : junk) c = static_cast<char>(r.byte());
      out_ += junk;
    } else if (k == 1) {
      out_ += std::string(r.between(100, 9000), 'A') + "\r\n";
    } else if (k == 2) {
      out_ += "USER " + spec_.user + "\r\nPASS " + spec_.password + "\r\n";
    } else {
      std::string line = kVerbs[r.below(std::size(kVerbs))];
      const char* arg = kArgs[r.below(std::size(kArgs))];
      if (*arg) line += std::string(" ") + arg;
      out_ += line + (r.chance(1, 8) ? "\n" : "\r\n");
    }
  }
  env_.log.add(who() + ": > chaos burst of " + std::to_string(out_.size()) + " bytes");
}

void SimClient::send_normal_command() {
  Rng& r = env_.rng;
  // A transfer in progress: only ABOR (or nothing) until it has ended.
  if (transfer_) {
    if (env_.abor && !transfer_->final_seen && r.chance(1, 6)) say("ABOR", Want::Abor);
    return;
  }
  const bool login_pending = std::any_of(expects_.begin(), expects_.end(), [](const Expect& e) {
    return e.want == Want::User || e.want == Want::Pass;
  });
  // Mostly a plausible client's next step (TLS, login, TYPE I, a data
  // connection, a transfer); sometimes anything at all.
  if (r.chance(85, 100)) {
    if (!tls_ && expects_.empty() && (tls_wanted_ ? r.chance(3, 4) : r.chance(1, 4))) {
      say("AUTH TLS", Want::Auth);
      hold_ = true;
      return;
    }
    if (!logged_in_ && !login_pending) {
      say("USER " + spec_.user, Want::User);
      say("PASS " + (r.chance(1, 10) ? std::string("nope") : spec_.password), Want::Pass);
      return;
    }
    if (tls_up_ && !pbsz_ && r.chance(1, 2)) return say("PBSZ 0", Want::Pbsz);
    if (tls_up_ && pbsz_ && !prot_p_ && r.chance(prot_wanted_ ? 4 : 1, 5)) {
      return say("PROT P", Want::Prot);
    }
    if (ascii_ && r.chance(2, 3)) {
      ascii_ = false;
      return say("TYPE I", Want::Type);
    }
    if (!data_ && !expects_.empty()) return;  // wait for the PASV reply
    if (!data_) {
      if (r.chance(1, 5)) return open_active_listener(r.chance(1, 2));
      const bool pasv = r.chance(1, 2);
      return say(pasv ? "PASV" : "EPSV", pasv ? Want::Pasv : Want::Epsv);
    }
    const std::uint64_t k = r.below(10);
    if (k < 5) return start_transfer(Want::Retr);
    if (k < 8) return start_transfer(r.chance(2, 3) ? Want::Stor : Want::Appe);
    const std::uint64_t w = r.below(3);
    return start_transfer(w == 0 ? Want::List : w == 1 ? Want::Nlst : Want::Mlsd);
  }
  const std::uint64_t k = r.below(100);
  if (k < 8) {
    say(r.chance(1, 5) ? "PBSZ 1" : "PBSZ 0", Want::Pbsz);
  } else if (k < 16) {
    say(r.chance(2, 3) ? "PROT P" : (r.chance(1, 2) ? "PROT C" : "PROT S"), Want::Prot);
  } else if (k < 30) {
    drop_data();
    const bool pasv = r.chance(1, 2);
    say(pasv ? "PASV" : "EPSV", pasv ? Want::Pasv : Want::Epsv);
  } else if (k < 36) {
    open_active_listener(r.chance(1, 2));
  } else if (k < 50) {
    start_transfer(Want::Retr);
  } else if (k < 56) {
    start_transfer(r.chance(2, 3) ? Want::Stor : Want::Appe);
  } else if (k < 62) {
    const std::uint64_t w = r.below(3);
    start_transfer(w == 0 ? Want::List : w == 1 ? Want::Nlst : Want::Mlsd);
  } else if (k < 70) {
    say("NOOP", Want::Noop);
  } else if (k < 75) {
    ascii_ = r.chance(1, 3);
    say(ascii_ ? "TYPE A" : "TYPE I", Want::Type);
  } else if (k < 79) {
    say("SIZE f0.bin", Want::Size);
  } else if (k < 83) {
    say("MKD d" + std::to_string(r.below(4)), Want::Mkd);
  } else if (k < 88) {
    say(r.chance(1, 2) ? "XYZZY plugh" : "RETR", Want::Garbage);
  } else if (k < 90) {
    say(std::string(r.between(600, 5000), 'B'), Want::TooLong);
  } else if (k < 95) {
    if (tls_up_) {
      if (!expects_.empty()) return;
      hold_ = true;
      tls_closing_ = true;
    }
    drop_data();
    say("REIN", Want::Rein);
  } else if (k < 97) {
    quit_sent_ = true;
    say("QUIT", Want::Quit);
  } else {
    say("CWD /", Want::Cwd);
  }
}

void SimClient::open_active_listener(bool extended) {
  drop_data();
  Data d;
  d.listener = tcp_socket_bound(spec_.ip);
  if (!d.listener || ::listen(d.listener.get(), 2) != 0) {
    close_socket(d.listener);
    return;
  }
  sockaddr_in a{};
  socklen_t len = sizeof a;
  getsockname(d.listener.get(), reinterpret_cast<sockaddr*>(&a), &len);
  const unsigned port = ntohs(a.sin_port);
  data_ = std::move(d);
  if (extended) {
    say("EPRT |1|" + spec_.ip + "|" + std::to_string(port) + "|", Want::Eprt);
  } else {
    std::string h = spec_.ip;
    for (char& c : h) c = c == '.' ? ',' : c;
    say("PORT " + h + "," + std::to_string(port >> 8) + "," + std::to_string(port & 255),
        Want::Port);
  }
}

void SimClient::open_passive_data(std::uint16_t port) {
  drop_data();
  Data d;
  d.fd = tcp_socket_bound(spec_.ip);
  if (env_.rng.chance(1, 4)) {
    const int small = static_cast<int>(env_.rng.between(2048, 16384));
    setsockopt(d.fd.get(), SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
  }
  if (!d.fd || !connect_to(d.fd.get(), port)) {
    close_socket(d.fd);
    return;
  }
  data_ = std::move(d);
  env_.log.add(who() + ": data connection to port " + std::to_string(port));
}

void SimClient::start_transfer(Want w) {
  Rng& r = env_.rng;
  Transfer t;
  t.want = w;
  t.protect = prot_p_;
  std::string verb = want_name(static_cast<int>(w));
  if (w == Want::Retr) {
    auto it = spec_.files.begin();
    std::advance(it, static_cast<long>(r.below(spec_.files.size())));
    t.name = r.chance(1, 10) ? "missing.bin" : it->first;
    if (r.chance(1, 5) && t.name != "missing.bin") {
      const std::uint64_t size = spec_.files[t.name].size();
      t.offset = r.below(size + 1);
      say("REST " + std::to_string(t.offset), Want::Rest);
    }
    t.verify = !ascii_ && spec_.files.count(t.name) != 0 && spec_.unsettled.count(t.name) == 0;
  } else if (w == Want::Stor || w == Want::Appe) {
    const bool existing = w == Want::Appe && r.chance(1, 2);
    t.name = existing ? "up" + std::to_string(spec_.id) + "_0.bin"
                      : "up" + std::to_string(spec_.id) + "_" + std::to_string(uploads_++) + ".bin";
    std::string data(r.between(0, r.chance(1, 4) ? 200'000 : 4000), '\0');
    std::uint64_t x = r.below(~0ULL);
    for (char& c : data) {
      x = x * 6364136223846793005ULL + 1442695040888963407ULL;
      c = static_cast<char>(x >> 56);
    }
    t.upload = std::move(data);
    t.verify = !ascii_ && spec_.unsettled.count(t.name) == 0;
  } else if (r.chance(1, 3)) {
    t.name = "d0";
  }
  const std::string line = t.name.empty() ? verb : verb + " " + t.name;
  transfer_ = std::move(t);
  say(line, w);
}

bool SimClient::flush_control() {
  if (!ctrl_) return false;
  if (!out_.empty()) {
    if (tls_ && tls_up_) {
      const auto* p = reinterpret_cast<const std::byte*>(out_.data());
      if (tls_->write_plaintext({p, out_.size()}).status != tls::IoStatus::Ok) {
        gone("TLS write failed");
        return true;
      }
      out_.clear();
    } else if (!tls_) {
      wire_ += out_;
      out_.clear();
    }
  }
  if (tls_) {
    const auto ct = tls_->pending_ciphertext();
    wire_ += bytes_text(ct);
    tls_->consume_ciphertext(ct.size());
  }
  if (wire_.empty()) return false;
  std::size_t n = wire_.size();
  if (env_.rng.chance(1, 2)) n = 1 + env_.rng.below(n);
  ssize_t sent = ::send(ctrl_.get(), wire_.data(), n, MSG_DONTWAIT | MSG_NOSIGNAL);
  if (sent < 0 && errno == EAGAIN) {
    Net::get().before_send_blocks(ctrl_.get());
    sent = ::send(ctrl_.get(), wire_.data(), n, MSG_DONTWAIT | MSG_NOSIGNAL);
  }
  if (sent < 0) {
    if (errno == EAGAIN || errno == ENOTCONN) return false;
    gone(std::string("send: ") + std::strerror(errno));
    return true;
  }
  connected_ = true;
  wire_.erase(0, static_cast<std::size_t>(sent));
  if (env_.log.tracing()) {
    env_.log.add(who() + ": sent " + std::to_string(sent) + " bytes, " +
                 std::to_string(wire_.size()) + " waiting");
  }
  return sent > 0;
}

bool SimClient::pump_control() {
  bool did = flush_control();
  if (!ctrl_ || paused_) return did;
  char buf[16384];
  const std::size_t want = 1 + env_.rng.below(sizeof buf);
  ssize_t n = ::recv(ctrl_.get(), buf, want, MSG_DONTWAIT);
  if (n < 0 && errno == EAGAIN) {
    Net::get().before_would_block(ctrl_.get());
    n = ::recv(ctrl_.get(), buf, want, MSG_DONTWAIT);
  }
  if (n < 0) {
    if (errno == EAGAIN) return did;
    gone(std::string("recv: ") + std::strerror(errno));
    return true;
  }
  if (n == 0) {
    gone("server closed the control connection");
    return true;
  }
  connected_ = true;
  on_control_bytes(buf, static_cast<std::size_t>(n));
  flush_control();
  return true;
}

void SimClient::on_control_bytes(const char* p, std::size_t n) {
  if (!tls_) {
    in_.append(p, n);
    parse_replies();
    return;
  }
  tls_->feed_ciphertext({reinterpret_cast<const std::byte*>(p), n});
  if (!tls_up_) {
    const tls::HandshakeStatus hs = tls_->handshake();
    if (hs == tls::HandshakeStatus::Failed) {
      gone("control TLS handshake failed: " + tls_->last_error_text());
      return;
    }
    if (hs == tls::HandshakeStatus::WantIO) return;
    tls_up_ = true;
    hold_ = false;
    env_.log.add(who() + ": control TLS up");
  }
  std::byte buf[16384];
  for (;;) {
    const tls::IoResult r = tls_->read_plaintext(buf);
    if (r.status == tls::IoStatus::Ok) {
      in_.append(reinterpret_cast<const char*>(buf), r.bytes);
      continue;
    }
    parse_replies();
    if (!ctrl_) return;
    if (r.status == tls::IoStatus::Closed) {
      if (!tls_closing_) {
        gone("server ended control TLS");
        return;
      }
      // REIN: answer the close_notify, continue in clear.
      (void)tls_->shutdown();
      wire_ += bytes_text(tls_->pending_ciphertext());
      tls_.reset();
      tls_up_ = false;
      tls_closing_ = false;
      hold_ = false;
      env_.log.add(who() + ": control TLS ended (REIN), clear again");
    } else if (r.status == tls::IoStatus::Failed) {
      gone("control TLS failed: " + tls_->last_error_text());
    }
    return;
  }
}

void SimClient::parse_replies() {
  for (;;) {
    const auto eol = in_.find("\r\n");
    if (eol == std::string::npos) {
      if (in_.size() > kMaxReplyLine && checking_) fail("reply line longer than 8 KiB");
      if (in_.size() > kMaxReplyLine) in_.clear();
      return;
    }
    const std::string line = in_.substr(0, eol);
    in_.erase(0, eol + 2);
    if (!checking_) continue;
    const bool digits = line.size() >= 4 && std::isdigit(static_cast<unsigned char>(line[0])) &&
                        std::isdigit(static_cast<unsigned char>(line[1])) &&
                        std::isdigit(static_cast<unsigned char>(line[2]));
    const int code = digits ? std::stoi(line.substr(0, 3)) : -1;
    if (multiline_code_ >= 0) {
      if (code == multiline_code_ && line[3] == ' ') {
        multiline_code_ = -1;
        on_reply(code, multiline_text_ + line);
        if (!ctrl_) return;
      } else {
        multiline_text_ += line + "\n";
      }
      continue;
    }
    if (!digits || (line[3] != ' ' && line[3] != '-')) {
      fail("malformed reply line \"" + line.substr(0, 60) + "\"");
      continue;
    }
    if (line[3] == '-') {
      multiline_code_ = code;
      multiline_text_ = line + "\n";
      continue;
    }
    on_reply(code, line);
    if (!ctrl_) return;
  }
}

void SimClient::on_reply(int code, const std::string& text) {
  env_.log.add(who() + ": < " + text.substr(0, 80));
  if (closing_) {
    // RFC 959: 421 means the server is closing the control connection.
    return fail("reply \"" + text.substr(0, 60) + "\" after a 421");
  }
  if (code == 421) closing_ = true;
  if (code < 200) {
    if (expects_.empty()) return fail("preliminary reply " + text + " with no command outstanding");
    Expect& e = expects_.front();
    const bool transfer = e.want == Want::Retr || e.want == Want::Stor || e.want == Want::Appe ||
                          e.want == Want::List || e.want == Want::Nlst || e.want == Want::Mlsd ||
                          e.want == Want::Rein;
    if (!transfer || e.prelim) {
      return fail("preliminary reply " + text + " to \"" + e.line.substr(0, 40) + "\"");
    }
    e.prelim = true;
    // Every earlier reply is in (replies come in order), so the PROT level
    // the server applies to this transfer is known now; as curl and lftp do,
    // the data connection's TLS starts only from here.
    if (transfer_ && e.want != Want::Rein) {
      transfer_->protect = prot_p_;
      transfer_->starting_seen = true;
      // A pipelined REIN (back to TYPE A) may have come between: bytes are
      // checked only while the type is surely binary.
      if (ascii_) transfer_->verify = false;
    }
    return;
  }
  if (expects_.empty()) {
    if (code == 421) return;  // a timeout or shutdown notice; the server closes
    return fail("reply " + text.substr(0, 60) + " with no command outstanding");
  }
  const Expect e = expects_.front();
  expects_.pop_front();
  on_final(e, code, text);
}

void SimClient::on_final(const Expect& e, int code, const std::string& text) {
  static const std::map<Want, std::vector<int>> kPositive = {{Want::Banner, {220}},
                                                             {Want::Auth, {234}},
                                                             {Want::Pbsz, {200}},
                                                             {Want::Prot, {200}},
                                                             {Want::User, {230, 232, 331, 332}},
                                                             {Want::Pass, {230, 202}},
                                                             {Want::Pasv, {227}},
                                                             {Want::Epsv, {229}},
                                                             {Want::Port, {200}},
                                                             {Want::Eprt, {200}},
                                                             {Want::Retr, {226, 250}},
                                                             {Want::Stor, {226, 250}},
                                                             {Want::Appe, {226, 250}},
                                                             {Want::List, {226, 250}},
                                                             {Want::Nlst, {226, 250}},
                                                             {Want::Mlsd, {226, 250}},
                                                             {Want::Abor, {225, 226}},
                                                             {Want::Rein, {220}},
                                                             {Want::Quit, {221}},
                                                             {Want::Noop, {200}},
                                                             {Want::Type, {200}},
                                                             {Want::Rest, {350}},
                                                             {Want::Size, {213}},
                                                             {Want::Cwd, {250}},
                                                             {Want::Mkd, {257}},
                                                             {Want::Garbage, {}},
                                                             {Want::TooLong, {}}};
  const auto& ok = kPositive.at(e.want);
  const bool positive = std::find(ok.begin(), ok.end(), code) != ok.end();
  if (!positive && code < 400) {
    fail("reply \"" + text.substr(0, 60) + "\" does not fit \"" + e.line.substr(0, 40) + "\"");
  }
  switch (e.want) {
    case Want::Auth:
      hold_ = false;
      if (code == 234) {
        tls_ = tls::Session::client(env_.tls);
        if (!tls_) return gone("no TLS client session");
        hold_ = true;  // until the handshake is done
        (void)tls_->handshake();
        flush_control();
      }
      break;
    case Want::Pbsz:
      pbsz_ = positive;
      break;
    case Want::Prot:
      if (positive) prot_p_ = e.line == "PROT P";
      break;
    case Want::User:
    case Want::Pass:
      if (code == 230) logged_in_ = true;
      if (code == 534 || code == 530) tls_wanted_ = true;
      break;
    case Want::Pasv:
    case Want::Epsv:
      if (positive) {
        unsigned port = 0;
        if (e.want == Want::Pasv) {
          unsigned h[6];
          const auto open = text.find('(');
          if (open == std::string::npos ||
              std::sscanf(text.c_str() + open, "(%u,%u,%u,%u,%u,%u)", &h[0], &h[1], &h[2], &h[3],
                          &h[4], &h[5]) != 6) {
            return fail("unparsable 227: " + text);
          }
          port = h[4] * 256 + h[5];
        } else {
          const auto open = text.find("(|||");
          if (open == std::string::npos ||
              std::sscanf(text.c_str() + open, "(|||%u|)", &port) != 1) {
            return fail("unparsable 229: " + text);
          }
        }
        // A later PASV/PORT already replaced this one (pipelined): ignore it.
        if (e.data_setup == data_setups_ && !env_.rng.chance(1, 20)) {
          open_passive_data(static_cast<std::uint16_t>(port));
        }
      }
      break;
    case Want::Port:
    case Want::Eprt:
      if (!positive) drop_data();
      break;
    case Want::Retr:
    case Want::Stor:
    case Want::Appe:
    case Want::List:
    case Want::Nlst:
    case Want::Mlsd:
      if (code == 521) prot_wanted_ = true;
      transfer_final(code);
      break;
    case Want::Rein:
      if (code == 220) {
        logged_in_ = false;
        prot_p_ = false;
        pbsz_ = false;
        ascii_ = true;
        if (!tls_closing_) hold_ = false;
      } else {
        hold_ = false;
        tls_closing_ = false;
      }
      break;
    case Want::Rest:
      if (code != 350 && transfer_) transfer_->offset = 0;
      break;
    case Want::Type:
      if (!positive) ascii_ = true;  // unknown now: do not verify bytes
      break;
    default:
      break;
  }
}

void SimClient::transfer_final(int code) {
  if (!transfer_) return;
  transfer_->final_seen = true;
  transfer_->final_ok = code == 226 || code == 250;
  Transfer& t = *transfer_;
  const bool upload = t.want == Want::Stor || t.want == Want::Appe;
  if (upload) {
    bool exists = false;
    const std::string disk = read_whole(spec_.root + "/" + t.name, exists);
    const auto known = spec_.files.find(t.name);
    const char* verb = t.want == Want::Stor ? "STOR " : "APPE ";
    if (t.verify && t.final_ok) {
      const std::string expected =
          t.want == Want::Appe && known != spec_.files.end() ? known->second + t.upload : t.upload;
      if (!exists || disk != expected) {
        fail(verb + t.name + ": 226 but the file holds " + std::to_string(disk.size()) +
             " bytes, expected " + std::to_string(expected.size()));
      } else {
        ++verified_up_;
      }
    } else if (t.verify && t.want == Want::Stor) {
      // atomic_uploads: a failed upload leaves the previous file (or none).
      if (known == spec_.files.end() && exists) {
        fail(verb + t.name + " failed (" + std::to_string(code) + ") but left a " +
             std::to_string(disk.size()) + "-byte file");
      } else if (known != spec_.files.end() && (!exists || disk != known->second)) {
        fail(verb + t.name + " failed (" + std::to_string(code) +
             ") and damaged the previous file");
      }
    }
    // The transfer is over: from now on the disk is what later transfers see.
    if (exists) {
      spec_.files[t.name] = disk;
    } else {
      spec_.files.erase(t.name);
    }
  }
  if (!t.final_ok || upload) {
    drop_data();
    transfer_.reset();
    return;
  }
  maybe_verify();
}

// A download is judged once both its 226 and the end of its data stream
// (close_notify under TLS) are in.
void SimClient::maybe_verify() {
  if (!transfer_ || !transfer_->final_seen) return;
  Transfer& t = *transfer_;
  if (data_ && !data_->eof && !data_->dead) return;  // still draining
  if (t.want == Want::Retr && t.verify && t.final_ok) {
    const std::string& file = spec_.files.at(t.name);
    const std::string expected = file.substr(std::min<std::size_t>(t.offset, file.size()));
    const std::string got = data_ ? data_->received : std::string();
    if (!data_ || data_->dead) {
      fail("RETR " + t.name + ": 226 but the data connection failed");
    } else if (t.protect && !data_->tls_closed) {
      fail("RETR " + t.name + ": 226 without the server's close_notify");
    } else if (got != expected) {
      fail("RETR " + t.name + " from " + std::to_string(t.offset) + ": 226 but received " +
           std::to_string(got.size()) + " bytes, expected " + std::to_string(expected.size()) +
           (got.size() == expected.size() ? " (contents differ)" : ""));
    } else {
      ++verified_down_;
    }
  }
  drop_data();
  transfer_.reset();
}

void SimClient::drop_data() {
  if (!data_) return;
  close_socket(data_->fd, env_.rng.chance(1, 8));
  close_socket(data_->listener);
  data_.reset();
}

bool SimClient::pump_data() {
  if (!data_) return false;
  Data& d = *data_;
  Rng& r = env_.rng;
  if (d.dead || d.eof) return false;
  if (!d.fd && d.listener) {
    d.fd =
        io::UniqueFd(::accept4(d.listener.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC));
    if (!d.fd) return false;
    Net::get().add(d.fd.get());
    env_.log.add(who() + ": accepted the server's data connection");
  }
  if (!d.fd) return false;
  const bool upload = transfer_ && (transfer_->want == Want::Stor || transfer_->want == Want::Appe);
  // Set up TLS once the 150 says the transfer is on and protected.
  if (!d.tls && transfer_ && transfer_->starting_seen && transfer_->protect) {
    d.tls = tls::Session::client(env_.tls);
    if (tls_ && r.chance(19, 20)) {
      if (auto saved = tls_->saved_session()) (void)d.tls->resume_from(saved.get());
    }
    (void)d.tls->handshake();
  }
  std::string out;
  if (d.tls && !d.tls_done) {
    // handshake bytes only
  } else if (upload && transfer_->starting_seen && !d.sent_all && d.wire.size() < 65536) {
    const std::string& src = transfer_->upload;
    const std::size_t n = std::min<std::size_t>(src.size() - d.sent, r.between(1, 65536));
    if (d.tls) {
      const auto* p = reinterpret_cast<const std::byte*>(src.data() + d.sent);
      (void)d.tls->write_plaintext({p, n});
    } else {
      out.assign(src, d.sent, n);
    }
    d.sent += n;
    if (d.sent == src.size()) {
      d.sent_all = true;
      if (d.tls) (void)d.tls->shutdown();
    }
  }
  if (d.tls) {
    const auto ct = d.tls->pending_ciphertext();
    out += bytes_text(ct);
    d.tls->consume_ciphertext(ct.size());
  }
  bool did = false;
  d.wire += out;
  if (!d.wire.empty()) {
    // What does not fit waits in d.wire for a later turn.
    ssize_t n = ::send(d.fd.get(), d.wire.data(), d.wire.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n < 0 && errno == EAGAIN) {
      Net::get().before_send_blocks(d.fd.get());
      n = ::send(d.fd.get(), d.wire.data(), d.wire.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
    }
    if (n < 0 && errno != EAGAIN && errno != ENOTCONN) {
      d.dead = true;
      maybe_verify();
      return true;
    }
    if (n > 0) {
      d.wire.erase(0, static_cast<std::size_t>(n));
      did = true;
    }
  }
  if (upload && d.sent_all && d.wire.empty() && !d.tls && !d.shut) {
    d.shut = true;
    const int peer = Net::get().peer_of(d.fd.get());
    ::shutdown(d.fd.get(), SHUT_WR);
    Net::get().after_close(peer);
  }
  char buf[65536];
  const std::size_t want = 1 + r.below(sizeof buf);
  ssize_t n = ::recv(d.fd.get(), buf, want, MSG_DONTWAIT);
  if (n < 0 && errno == EAGAIN) {
    Net::get().before_would_block(d.fd.get());
    n = ::recv(d.fd.get(), buf, want, MSG_DONTWAIT);
  }
  if (n < 0) {
    if (errno == EAGAIN || errno == ENOTCONN) return did;
    d.dead = true;
    maybe_verify();
    return true;
  }
  if (n == 0) {
    d.eof = true;
    maybe_verify();
    return true;
  }
  if (!d.tls) {
    d.received.append(buf, static_cast<std::size_t>(n));
    return true;
  }
  d.tls->feed_ciphertext({reinterpret_cast<const std::byte*>(buf), static_cast<std::size_t>(n)});
  if (!d.tls_done) {
    const tls::HandshakeStatus hs = d.tls->handshake();
    if (hs == tls::HandshakeStatus::Failed) {
      d.dead = true;
      return true;
    }
    if (hs == tls::HandshakeStatus::WantIO) return true;
    d.tls_done = true;
  }
  std::byte pbuf[16384];
  for (;;) {
    const tls::IoResult rr = d.tls->read_plaintext(pbuf);
    if (rr.status == tls::IoStatus::Ok) {
      d.received.append(reinterpret_cast<const char*>(pbuf), rr.bytes);
      continue;
    }
    if (rr.status == tls::IoStatus::Closed) d.tls_closed = true;
    if (rr.status == tls::IoStatus::Failed) d.dead = true;
    break;
  }
  return true;
}

}  // namespace ringftpd::sim
