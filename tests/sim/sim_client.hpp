// sim::SimClient: one simulated FTP client, a small state machine whose next
// action comes from the run's PRNG.
//
// It speaks over real loopback TCP (bound to its own 127.0.0.x, so clients can
// share an address), uses the real client side of tls::Session for AUTH TLS
// and PROT P (data connections resume the control connection's session), and
// keeps a reply model: every command it sends expects exactly one final reply,
// in order, of a kind that fits the command; 1xx only for transfers. A 226 for
// RETR must come with exactly the file's bytes (and, under TLS, the server's
// close_notify); a 226 for STOR/APPE means the file on disk equals what was
// sent. Violations go to the EventLog.
//
// A "chaos" client sends garbage, overlong lines and pipelined bursts
// (including bytes after AUTH TLS) and checks nothing but the server's survival.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <set>
#include <string>

#include "io/unique_fd.hpp"
#include "tests/sim/event_log.hpp"
#include "tests/sim/rng.hpp"
#include "tls/context.hpp"
#include "tls/session.hpp"

namespace ringftpd::sim {

struct ClientEnv {
  Rng& rng;
  EventLog& log;
  const tls::ClientContext& tls;
  std::uint16_t server_port;  // the simulated worker's listener on 127.0.0.1
  bool abor = true;           // normal clients may send ABOR during a transfer
};

struct ClientSpec {
  int id = 0;
  std::string ip;  // 127.0.0.x
  std::string user;
  std::string password;
  std::string root;                          // real path of the user's root
  std::map<std::string, std::string> files;  // name -> content, in the root
  // Files an upload was writing when the connection ended before its final
  // reply: the server may have stored it, dropped it, or still be busy with
  // it (the session drains after the client left), so their content is
  // unknown from then on and no later transfer checks it.
  std::set<std::string> unsettled;
  bool chaos = false;
  bool pipeline = false;  // sends commands without waiting for replies
};

class SimClient {
 public:
  SimClient(ClientEnv env, ClientSpec spec);
  ~SimClient();
  SimClient(const SimClient&) = delete;
  SimClient& operator=(const SimClient&) = delete;

  // Connects the control connection (non-blocking; the worker accepts it).
  void connect();
  // One action. False when there was nothing to do.
  bool act();
  // The end of the run: close everything (sometimes with a reset).
  void leave();
  [[nodiscard]] bool is_gone() const noexcept { return !ctrl_; }
  [[nodiscard]] int id() const noexcept { return spec_.id; }
  // What it knows of its files now (to come back as a new client).
  [[nodiscard]] const ClientSpec& spec() const noexcept { return spec_; }
  [[nodiscard]] std::uint64_t verified_downloads() const noexcept { return verified_down_; }
  [[nodiscard]] std::uint64_t verified_uploads() const noexcept { return verified_up_; }

 private:
  enum class Want : std::uint8_t {
    Banner,
    Auth,
    Pbsz,
    Prot,
    User,
    Pass,
    Pasv,
    Epsv,
    Port,
    Eprt,
    Retr,
    Stor,
    Appe,
    List,
    Nlst,
    Mlsd,
    Abor,
    Rein,
    Quit,
    Noop,
    Type,
    Rest,
    Size,
    Cwd,
    Mkd,
    Garbage,
    TooLong
  };
  struct Expect {
    Want want;
    std::string line;
    bool prelim = false;
    unsigned data_setup = 0;  // PASV/EPSV: which data set-up it was
  };
  struct Transfer {
    Want want = Want::Retr;
    std::string name;
    std::uint64_t offset = 0;
    std::string upload;  // STOR/APPE: what we send
    bool verify = false;
    bool protect = false;        // decided at the 150 (a pipelined PROT may change it)
    bool starting_seen = false;  // the 150 arrived
    bool final_ok = false;       // 226 received
    bool final_seen = false;
  };
  struct Data {
    io::UniqueFd fd;
    io::UniqueFd listener;  // active mode: ours, the server connects to it
    bool connected = false;
    std::optional<tls::Session> tls;
    bool tls_done = false;
    bool tls_closed = false;  // the server's close_notify
    std::string received;
    std::size_t sent = 0;
    bool sent_all = false;
    bool shut = false;  // our write side is shut (clear upload done)
    std::string wire;   // bytes for the socket, not yet sent
    bool eof = false;
    bool dead = false;  // error or closed by us
  };

  void say(std::string line, Want want);
  void send_command();
  void send_normal_command();
  void send_chaos();
  bool pump_control();
  bool flush_control();
  void on_control_bytes(const char* p, std::size_t n);
  void parse_replies();
  void on_reply(int code, const std::string& text);
  void on_final(const Expect& e, int code, const std::string& text);
  void transfer_final(int code);
  bool pump_data();
  void open_passive_data(std::uint16_t port);
  void open_active_listener(bool extended);
  void start_transfer(Want w);
  void drop_data();
  void maybe_verify();
  void fail(const std::string& what);
  void gone(const std::string& why);
  [[nodiscard]] std::string who() const;
  [[nodiscard]] bool idle() const noexcept { return expects_.empty() && !hold_; }

  ClientEnv env_;
  ClientSpec spec_;
  io::UniqueFd ctrl_;
  bool connected_ = false;
  std::optional<tls::Session> tls_;
  bool tls_up_ = false;
  bool tls_closing_ = false;  // REIN under TLS: the server's close_notify is coming
  bool checking_ = true;      // reply model active (off for chaos after AUTH)
  bool hold_ = false;         // send nothing until the outstanding replies arrived
  bool paused_ = false;       // not reading the control connection
  bool quit_sent_ = false;
  bool closing_ = false;
  bool tls_wanted_ = false;
  bool prot_wanted_ = false;  // the server asked for PROT P  // the server asked for AUTH TLS first
                              // // a 421 arrived: nothing else may follow
  std::string out_;           // plaintext commands not yet handed to TLS / the socket
  std::string wire_;          // bytes for the socket (clear, or ciphertext)
  std::string in_;            // plaintext replies not yet parsed
  std::deque<Expect> expects_;
  int multiline_code_ = -1;
  std::string multiline_text_;

  bool logged_in_ = false;
  bool ascii_ = true;    // RFC 959's default TYPE
  bool prot_p_ = false;  // PROT P acknowledged
  bool pbsz_ = false;
  std::optional<Transfer> transfer_;
  std::optional<Data> data_;
  int uploads_ = 0;
  unsigned data_setups_ = 0;  // PASV/EPSV/PORT/EPRT sent so far
  std::uint64_t verified_down_ = 0;
  std::uint64_t verified_up_ = 0;
};

}  // namespace ringftpd::sim
