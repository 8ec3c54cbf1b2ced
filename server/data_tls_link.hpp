// DataTlsLink: the TLS side of one protected data connection (the draft's
// PROT P), shared by TlsDownload and TlsUpload.
//
// The server side of the handshake starts as soon as the data socket is
// there (the ClientHello may already wait in the socket buffer: FileZilla
// sends it before our 150, curl and lftp after), with one plain receive at a
// time. A finished handshake must pass the draft's §10.2 check (required
// session reuse: it resumed a session of its own control connection) and may
// not show a client certificate other than the control connection's.
//
// Sending: one send in flight, of everything sealed so far. It takes all
// sealed bytes at once by swapping vectors with the session
// (take_ciphertext), so no ciphertext is copied after sealing.
//
// Part of its transfer (which owns it and outlives every operation it
// submits through the transfer's TransferCore); borrows the data socket.
#pragma once

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "server/data_transfer.hpp"
#include "server/process/counters.hpp"
#include "tls/context.hpp"
#include "tls/session.hpp"

namespace ringftpd::server {

class DataTlsLink {
 public:
  static constexpr std::size_t kHandshakeBytes = 16 * 1024;  // one receive

  struct Setup {
    const tls::ServerContext* context = nullptr;  // null: no PROT P possible
    tls::ExpectedOrigin expected;                 // the control connection's origin
    std::string control_certificate;              // its client certificate's fingerprint, or empty
    WorkerCounters* counters = nullptr;
    // The transfer command: the data connection's set-up time runs from here.
    std::chrono::steady_clock::time_point requested_at{};
  };

  DataTlsLink(TransferCore& core, const io::UniqueFd& data, Setup setup)
      : core_(core), data_(data), setup_(std::move(setup)) {}

  // Makes the session; an end when it cannot be had.
  [[nodiscard]] std::optional<TransferEnd> begin();
  [[nodiscard]] bool is_handshake_done() const noexcept;
  // During the handshake: sends what TLS wrote, keeps one receive in flight.
  void handshake_step();
  // The handshake's DataRecv completed; an end when the connection is refused.
  [[nodiscard]] std::optional<TransferEnd> on_handshake_bytes(int res);
  // A DataSend completed.
  [[nodiscard]] std::optional<TransferEnd> on_sent(int res);

  // One send in flight, of everything sealed so far (or the rest of a short
  // one).
  void flush();
  // false: TLS failed (logged).
  [[nodiscard]] bool seal(std::string_view plaintext);
  // Our close_notify after everything sealed; then flushes.
  void send_close_notify();

  [[nodiscard]] bool has_sent_close_notify() const noexcept { return close_notify_sent_; }
  [[nodiscard]] bool is_send_in_flight() const noexcept { return send_in_flight_; }
  // Sealed bytes not yet handed to a send.
  [[nodiscard]] std::size_t pending() const noexcept;
  [[nodiscard]] tls::Session& session() noexcept { return *session_; }
  [[nodiscard]] std::size_t memory_bytes() const noexcept;

 private:
  [[nodiscard]] std::optional<TransferEnd> check_resumption();

  TransferCore& core_;
  const io::UniqueFd& data_;
  Setup setup_;
  std::optional<tls::Session> session_;
  std::vector<std::byte> handshake_in_;  // the handshake's receive buffer
  std::vector<std::byte> cipher_send_;   // the ciphertext of the send in flight
  std::size_t cipher_sent_ = 0;
  bool receive_in_flight_ = false;
  bool send_in_flight_ = false;
  bool close_notify_sent_ = false;
};

}  // namespace ringftpd::server
