// tls::Session: one TLS connection (one WOLFSSL*) driven entirely through
// memory: ciphertext in, plaintext out, and back. It owns no socket and never
// calls wolfSSL_set_fd; wolfSSL reaches the bytes through custom I/O callbacks
// that read an inbound buffer and append to an outbound buffer.
//
// Driving it (the caller's loop, e.g. a worker's completion handler):
//   on bytes received from the socket:  feed_ciphertext(bytes)
//   then call the operation you were waiting on (handshake, read_plaintext...)
//   after *every* call: if pending_ciphertext() is non-empty, send it and
//   consume_ciphertext(sent). Reads can produce output too (alerts, TLS 1.3
//   key updates), and a failed handshake may leave an alert to send.
//   WantIO always means "flush pending ciphertext, then feed more": sending
//   never blocks (the outbound buffer grows instead), so there is no
//   want-write state. Backpressure is the caller's: stop calling
//   write_plaintext while pending_ciphertext() is large.
//
// Contract:
// - Made from a ServerContext or ClientContext, which it keeps alive through
//   wolfSSL's own reference count (the context object may be destroyed first).
// - Movable (the I/O callbacks are re-pointed on move), not copyable; a
//   moved-from Session may only be destroyed or assigned to. Not thread-safe;
//   lives in one worker.
// - Every member function is noexcept: errors are values (Failed), never
//   exceptions, and no exception can cross a wolfSSL callback. Allocation
//   failure in a buffer also surfaces as Failed ("out of memory").
// - Once Failed, a Session stays failed; the caller closes the connection.
// - Buffers grow to the connection's high-water mark and keep their capacity,
//   so the steady state allocates nothing per record on our side (wolfSSL may
//   still grow and shrink its own record buffer internally).
//
// Required session reuse (resumption.hpp; DESIGN.md §4). The server calls:
//   control connection: s = Session::server(ctx); s->set_origin(ctx.new_origin());
//     handshake...; then while handling PASV/EPSV/PORT/EPRT, before the
//     reply: s->send_ticket() (a fresh TLS 1.3 ticket; a no-op under 1.2).
//   data connection: d = Session::server_data(ctx, control.data_origin());
//     handshake...; then d->check_resumption(): anything but Ok -> close the
//     data connection and reply 522 (log describe(check)).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "tls/context.hpp"
#include "tls/resumption.hpp"
#include "tls/wolfssl.hpp"

namespace ringftpd::tls {

enum class HandshakeStatus : std::uint8_t { Done, WantIO, Failed };

enum class IoStatus : std::uint8_t {
  Ok,      // `bytes` were transferred (may be 0 only for an empty span)
  WantIO,  // flush pending ciphertext, feed more, call again
  Closed,  // the peer's close_notify arrived: a clean end of stream
  Failed,  // fatal; see last_error_text()
};

struct IoResult {
  std::size_t bytes = 0;
  IoStatus status = IoStatus::Ok;
};

class Session {
 public:
  // nullopt only when wolfSSL cannot allocate the connection.
  [[nodiscard]] static std::optional<Session> server(const ServerContext& ctx) noexcept;
  // A data connection: server() then expect_origin(expected).
  [[nodiscard]] static std::optional<Session> server_data(const ServerContext& ctx,
                                                          ExpectedOrigin expected) noexcept;
  // `server_name`, if not empty, is sent as SNI.
  [[nodiscard]] static std::optional<Session> client(const ClientContext& ctx,
                                                     std::string_view server_name = {}) noexcept;

  Session(Session&& other) noexcept;
  Session& operator=(Session&& other) noexcept;
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;
  ~Session();

  // --- ciphertext, the transport side -------------------------------------
  // Copies bytes received from the peer into the inbound buffer.
  void feed_ciphertext(std::span<const std::byte> bytes) noexcept;
  // Ciphertext waiting to be sent. The span is invalidated by any non-const
  // call except consume_ciphertext; an asynchronous send that must outlive
  // further calls should use take_ciphertext instead.
  [[nodiscard]] std::span<const std::byte> pending_ciphertext() const noexcept;
  // Marks the first n pending bytes as sent (n <= pending_ciphertext().size()).
  void consume_ciphertext(std::size_t n) noexcept;
  // Moves all pending ciphertext out without copying and installs `spare`
  // (cleared, its capacity kept) as the new outbound buffer; hand the
  // returned vector back as `spare` once its send completes.
  [[nodiscard]] std::vector<std::byte> take_ciphertext(std::vector<std::byte> spare = {}) noexcept;

  // --- the TLS operations ----------------------------------------------------
  // Drives the handshake; Done once complete (and on every later call).
  [[nodiscard]] HandshakeStatus handshake() noexcept;
  // Seals all of `plaintext` into records (up to 16 KiB each) appended to the
  // pending ciphertext: bytes == plaintext.size() with Ok, or Failed. Before
  // the handshake is done, it drives the handshake and may return WantIO
  // having consumed nothing.
  [[nodiscard]] IoResult write_plaintext(std::span<const std::byte> plaintext) noexcept;
  // Opens records into `out`: Ok with bytes > 0, WantIO, Closed or Failed.
  [[nodiscard]] IoResult read_plaintext(std::span<std::byte> out) noexcept;
  // Queues our close_notify (once; later calls are no-ops). Failed if the
  // connection already failed. Further writes fail; reads still work until the
  // peer's close_notify (it need not be awaited). Note: with OPENSSL_EXTRA,
  // wolfSSL resets its connection state (wolfSSL_clear) when both sides'
  // close_notify have been exchanged; query the negotiated session before.
  [[nodiscard]] IoStatus shutdown() noexcept;

  // --- state -------------------------------------------------------------------
  [[nodiscard]] bool is_handshake_done() const noexcept { return handshake_done_; }
  [[nodiscard]] bool is_failed() const noexcept { return failed_; }
  // The peer's close_notify was received (a transport EOF without it is a
  // truncation: the caller knows of the EOF, and checks this).
  [[nodiscard]] bool peer_closed() const noexcept { return peer_closed_; }
  // The first inbound bytes cannot begin a TLS record (for instance FTP
  // commands sent in clear after AUTH TLS): with a Failed handshake, this is
  // the draft's "negotiation fails outright" case (reply 421 unprotected);
  // otherwise the handshake failed midway (just drop the connection).
  [[nodiscard]] bool received_non_tls() const noexcept { return received_non_tls_; }
  // After a failure: one line, e.g. "handshake: wolfSSL error -313: ...".
  [[nodiscard]] std::string last_error_text() const;

  // Negotiated parameters (empty before the handshake completes).
  [[nodiscard]] std::string_view protocol_version() const noexcept;  // "TLSv1.3"
  [[nodiscard]] std::string_view cipher_suite() const noexcept;      // wolfSSL's name
  [[nodiscard]] std::string_view alpn_protocol() const noexcept;     // "ftp" or empty
  [[nodiscard]] bool is_resumed() const noexcept;

  // --- the peer's certificate (client_cert.hpp) -------------------------------
  // Server side, after a full handshake with ClientCertMode Optional/Required
  // (query before the close_notify exchange, like the parameters above):
  // whether the client presented a certificate that verified. False before
  // the handshake, on a resumed handshake (no certificate is sent), and when
  // verification was not asked for; always false on the client side.
  [[nodiscard]] bool has_verified_peer_certificate() const noexcept;
  // A subject field of the peer's certificate: "CN", "emailAddress" or "UID"
  // (the first one if repeated). Empty if absent, for any other name, or
  // without a peer certificate. Throws only std::bad_alloc.
  [[nodiscard]] std::string peer_certificate_field(std::string_view field) const;
  // SHA-256 of the peer certificate's DER as "AB:CD:..." (fingerprint_sha256's
  // form); empty without a peer certificate. Throws only std::bad_alloc.
  [[nodiscard]] std::string peer_certificate_fingerprint() const;

  // --- session resumption, server side (resumption.hpp) -----------------------
  // Control connection, before its handshake: tickets and session IDs it
  // issues are bound to `origin` (non-zero, from ServerContext::new_origin).
  void set_origin(std::uint64_t origin) noexcept;
  [[nodiscard]] std::uint64_t origin() const noexcept { return tag_.origin; }
  // Control connection, after its handshake: what its data connections must
  // resume (its own origin, plus the one it inherited if it resumed itself).
  [[nodiscard]] ExpectedOrigin data_origin() const noexcept;
  // Control connection, after its handshake: queues a fresh TLS 1.3 session
  // ticket (flush pending ciphertext as after any call). Under TLS 1.2, on a
  // data connection, or after shutdown() it does nothing and returns Ok.
  // Failed only when wolfSSL fails (the session is then failed).
  [[nodiscard]] IoStatus send_ticket() noexcept;
  // Data connection, before its handshake: what it may resume. Also stops
  // TLS 1.3 tickets on it: a client that never reads (an upload) would turn
  // an unread ticket into a TCP reset on close and lose its tail.
  void expect_origin(ExpectedOrigin expected) noexcept;
  // Data connection, once the handshake is Done: whether it resumed a session
  // descending from its control connection. Anything but Ok: close, 522.
  [[nodiscard]] ResumeCheck check_resumption() const noexcept;

  // --- session resumption, client side (tests, benchmarks, ftpsload) ---------
  // After the handshake (and, under TLS 1.3, after reading the ticket that
  // follows it): a copy of the session, to resume later. Null if none.
  [[nodiscard]] SslSessionPtr saved_session() const noexcept;
  // Before the handshake: offer `saved` for resumption. false if wolfSSL
  // refused it (e.g. expired); the handshake is then a full one.
  [[nodiscard]] bool resume_from(WOLFSSL_SESSION* saved) noexcept;

  // For the rest of tls/ (session cache, tickets). Do not do I/O through it.
  [[nodiscard]] WOLFSSL* native_handle() const noexcept { return ssl_.get(); }

 private:
  Session(SslPtr ssl, bool is_server) noexcept;
  void take_from(Session& other) noexcept;
  void attach_io() noexcept;  // points wolfSSL's I/O callbacks at *this
  void fail(const char* operation, int error) noexcept;
  void note_first_bytes() noexcept;
  void note_handshake_done() noexcept;
  static int recv_cb(WOLFSSL* ssl, char* buf, int size, void* ctx) noexcept;
  static int send_cb(WOLFSSL* ssl, char* buf, int size, void* ctx) noexcept;

  SslPtr ssl_;
  detail::OriginTag tag_;      // wolfSSL's ex_data points here (attach_io)
  std::vector<std::byte> in_;  // inbound ciphertext; [in_off_, size) unread
  std::size_t in_off_ = 0;
  std::vector<std::byte> out_;  // outbound ciphertext; [out_off_, size) unsent
  std::size_t out_off_ = 0;
  const char* error_operation_ = "";
  int error_ = 0;
  bool is_server_ = false;
  bool handshake_done_ = false;
  bool resumed_ = false;  // as the handshake ended (wolfSSL forgets after close_notify)
  bool failed_ = false;
  bool peer_closed_ = false;
  bool shutdown_sent_ = false;
  bool first_bytes_checked_ = false;
  bool received_non_tls_ = false;
};

}  // namespace ringftpd::tls
