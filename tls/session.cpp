#include "tls/session.hpp"

#include <algorithm>
#include <cstring>
#include <string>
#include <utility>

namespace ringftpd::tls {

namespace {

// wolfSSL counts in int; hand it at most this much per call.
constexpr std::size_t kMaxChunk = std::size_t{1} << 30;

int clamp_size(std::size_t n) noexcept {
  return static_cast<int>(std::min(n, kMaxChunk));
}

bool is_retry(int error) noexcept {
  return error == WOLFSSL_ERROR_WANT_READ || error == WOLFSSL_ERROR_WANT_WRITE;
}

// Can the stream's first bytes `head` begin a TLS record? Content types 20..23 (change_cipher_spec,
// alert, handshake, application_data) with major version 3; a first byte with
// the top bit set is an SSLv2-style ClientHello header, which is TLS enough
// to let wolfSSL reject it properly.
bool could_start_tls(const std::uint8_t* head, std::size_t len) noexcept {
  if (len == 0) return true;
  if (head[0] & 0x80) return true;
  if (head[0] < 20 || head[0] > 23) return false;
  return len < 2 || head[1] == 3;
}

// wolfSSL_UseALPN takes a mutable list; it copies it.
constexpr char kAlpnFtp[] = "ftp";

int use_alpn_ftp(WOLFSSL* ssl) noexcept {
  char list[sizeof kAlpnFtp];
  std::memcpy(list, kAlpnFtp, sizeof list);
  return wolfSSL_UseALPN(ssl, list, sizeof list - 1, WOLFSSL_ALPN_CONTINUE_ON_MISMATCH);
}

}  // namespace

Session::Session(SslPtr ssl, bool is_server) noexcept
    : ssl_(std::move(ssl)), is_server_(is_server) {
  attach_io();
}

Session::Session(Session&& other) noexcept {
  take_from(other);
}

Session& Session::operator=(Session&& other) noexcept {
  if (this != &other) {
    ssl_.reset();
    take_from(other);
  }
  return *this;
}

void Session::take_from(Session& other) noexcept {
  ssl_ = std::move(other.ssl_);
  tag_ = std::move(other.tag_);
  in_ = std::move(other.in_);
  in_off_ = std::exchange(other.in_off_, 0);
  out_ = std::move(other.out_);
  out_off_ = std::exchange(other.out_off_, 0);
  error_operation_ = other.error_operation_;
  error_ = other.error_;
  is_server_ = other.is_server_;
  handshake_done_ = other.handshake_done_;
  resumed_ = other.resumed_;
  failed_ = other.failed_;
  peer_closed_ = other.peer_closed_;
  shutdown_sent_ = other.shutdown_sent_;
  first_bytes_checked_ = other.first_bytes_checked_;
  received_non_tls_ = other.received_non_tls_;
  attach_io();  // wolfSSL's callbacks carry a pointer to the owning Session
}

Session::~Session() = default;

void Session::attach_io() noexcept {
  if (!ssl_) return;
  wolfSSL_SSLSetIORecv(ssl_.get(), &Session::recv_cb);
  wolfSSL_SSLSetIOSend(ssl_.get(), &Session::send_cb);
  wolfSSL_SetIOReadCtx(ssl_.get(), this);
  wolfSSL_SetIOWriteCtx(ssl_.get(), this);
  (void)detail::attach_tag(ssl_.get(), &tag_);  // checked once in server()
}

std::optional<Session> Session::server(const ServerContext& ctx) noexcept {
  SslPtr ssl(wolfSSL_new(ctx.native_handle()));
  if (!ssl) return std::nullopt;
  // Our list is just "ftp": selected when the client offers it; a client that
  // offers only other protocols gets no ALPN answer rather than a fatal
  // no_application_protocol alert (FTPS clients rarely send ALPN at all).
  if (use_alpn_ftp(ssl.get()) != WOLFSSL_SUCCESS) return std::nullopt;
  std::optional<Session> session(Session(std::move(ssl), /*is_server=*/true));
  // Without its tag, the ticket callback would fail every handshake.
  if (!detail::attach_tag(session->ssl_.get(), &session->tag_)) return std::nullopt;
  session->tag_.resumption = ctx.resumption();
  session->tag_.lifetime = ctx.session_lifetime();
  return session;
}

std::optional<Session> Session::server_data(const ServerContext& ctx,
                                            ExpectedOrigin expected) noexcept {
  std::optional<Session> session = server(ctx);
  if (session) session->expect_origin(expected);
  return session;
}

std::optional<Session> Session::client(const ClientContext& ctx,
                                       std::string_view server_name) noexcept {
  SslPtr ssl(wolfSSL_new(ctx.native_handle()));
  if (!ssl) return std::nullopt;
  if (!server_name.empty() && wolfSSL_UseSNI(ssl.get(), WOLFSSL_SNI_HOST_NAME, server_name.data(),
                                             static_cast<unsigned short>(std::min<std::size_t>(
                                                 server_name.size(), 255))) != WOLFSSL_SUCCESS) {
    return std::nullopt;
  }
  if (ctx.offers_alpn_ftp() && use_alpn_ftp(ssl.get()) != WOLFSSL_SUCCESS) return std::nullopt;
  return std::optional<Session>(Session(std::move(ssl), /*is_server=*/false));
}

// --- ciphertext buffers ------------------------------------------------------

void Session::feed_ciphertext(std::span<const std::byte> bytes) noexcept {
  if (bytes.empty() || failed_) return;
  if (!first_bytes_checked_) {
    // Only the first two bytes of the stream matter; they may straddle feeds.
    std::uint8_t head[2];
    std::size_t len = 0;
    for (std::size_t i = in_off_; i < in_.size() && len < 2; ++i) {
      head[len++] = std::to_integer<std::uint8_t>(in_[i]);
    }
    for (std::size_t i = 0; i < bytes.size() && len < 2; ++i) {
      head[len++] = std::to_integer<std::uint8_t>(bytes[i]);
    }
    received_non_tls_ = !could_start_tls(head, len);
    first_bytes_checked_ = received_non_tls_ || len >= 2;
  }
  if (in_off_ > 0) {  // keep the unread tail (a partial record) at the front
    in_.erase(in_.begin(), in_.begin() + static_cast<std::ptrdiff_t>(in_off_));
    in_off_ = 0;
  }
  try {
    in_.insert(in_.end(), bytes.begin(), bytes.end());
  } catch (const std::bad_alloc&) {
    fail("receive", MEMORY_E);
  }
}

std::span<const std::byte> Session::pending_ciphertext() const noexcept {
  return std::span<const std::byte>(out_).subspan(out_off_);
}

void Session::consume_ciphertext(std::size_t n) noexcept {
  out_off_ += std::min(n, out_.size() - out_off_);
  if (out_off_ == out_.size()) {
    out_.clear();  // keeps the capacity: no allocation for the next record
    out_off_ = 0;
  }
}

std::vector<std::byte> Session::take_ciphertext(std::vector<std::byte> spare) noexcept {
  if (out_off_ > 0) {
    out_.erase(out_.begin(), out_.begin() + static_cast<std::ptrdiff_t>(out_off_));
    out_off_ = 0;
  }
  spare.clear();
  std::swap(spare, out_);
  return spare;
}

int Session::recv_cb(WOLFSSL*, char* buf, int size, void* ctx) noexcept {
  auto* self = static_cast<Session*>(ctx);
  const std::size_t available = self->in_.size() - self->in_off_;
  if (available == 0) return WOLFSSL_CBIO_ERR_WANT_READ;
  const std::size_t n = std::min(available, static_cast<std::size_t>(size));
  std::memcpy(buf, self->in_.data() + self->in_off_, n);
  self->in_off_ += n;
  if (self->in_off_ == self->in_.size()) {
    self->in_.clear();
    self->in_off_ = 0;
  }
  return static_cast<int>(n);
}

int Session::send_cb(WOLFSSL*, char* buf, int size, void* ctx) noexcept {
  auto* self = static_cast<Session*>(ctx);
  auto& out = self->out_;
  if (self->out_off_ > 0 && self->out_off_ * 2 >= out.size()) {
    // Mostly sent already: move the unsent tail down instead of growing.
    out.erase(out.begin(), out.begin() + static_cast<std::ptrdiff_t>(self->out_off_));
    self->out_off_ = 0;
  }
  const auto* bytes = reinterpret_cast<const std::byte*>(buf);
  try {
    out.insert(out.end(), bytes, bytes + size);
  } catch (...) {  // bad_alloc or length_error: nothing may cross into C
    return WOLFSSL_CBIO_ERR_GENERAL;
  }
  return size;
}

// --- TLS operations ------------------------------------------------------------

// Records the end of the handshake, once wolfSSL says it is over.
void Session::note_handshake_done() noexcept {
  if (handshake_done_ || wolfSSL_is_init_finished(ssl_.get()) == 0) return;
  handshake_done_ = true;
  resumed_ = wolfSSL_session_reused(ssl_.get()) != 0;
}

void Session::fail(const char* operation, int error) noexcept {
  failed_ = true;
  error_operation_ = operation;
  error_ = error;
  // wolfSSL (OPENSSL_EXTRA) also queues errors per thread; nobody reads that
  // queue, so keep it from growing.
  wolfSSL_ERR_clear_error();
}

HandshakeStatus Session::handshake() noexcept {
  if (failed_) return HandshakeStatus::Failed;
  if (handshake_done_) return HandshakeStatus::Done;
  const int rc = is_server_ ? wolfSSL_accept(ssl_.get()) : wolfSSL_connect(ssl_.get());
  if (rc == WOLFSSL_SUCCESS) {
    note_handshake_done();
    return HandshakeStatus::Done;
  }
  const int error = wolfSSL_get_error(ssl_.get(), rc);
  if (is_retry(error)) return HandshakeStatus::WantIO;
  fail("handshake", error);
  return HandshakeStatus::Failed;
}

IoResult Session::write_plaintext(std::span<const std::byte> plaintext) noexcept {
  if (failed_) return {0, IoStatus::Failed};
  if (shutdown_sent_) {
    fail("write after shutdown", BAD_FUNC_ARG);
    return {0, IoStatus::Failed};
  }
  std::size_t done = 0;
  while (done < plaintext.size()) {
    const int rc =
        wolfSSL_write(ssl_.get(), plaintext.data() + done, clamp_size(plaintext.size() - done));
    if (rc > 0) {
      done += static_cast<std::size_t>(rc);
      continue;
    }
    const int error = wolfSSL_get_error(ssl_.get(), rc);
    if (is_retry(error)) return {done, done > 0 ? IoStatus::Ok : IoStatus::WantIO};
    fail("write", error);
    return {done, IoStatus::Failed};
  }
  note_handshake_done();
  return {done, IoStatus::Ok};
}

IoResult Session::read_plaintext(std::span<std::byte> out) noexcept {
  if (failed_) return {0, IoStatus::Failed};
  if (peer_closed_) return {0, IoStatus::Closed};
  if (out.empty()) return {0, IoStatus::Ok};
  const int rc = wolfSSL_read(ssl_.get(), out.data(), clamp_size(out.size()));
  if (rc > 0) {
    note_handshake_done();
    return {static_cast<std::size_t>(rc), IoStatus::Ok};
  }
  const int error = wolfSSL_get_error(ssl_.get(), rc);
  if (error == WOLFSSL_ERROR_ZERO_RETURN) {
    peer_closed_ = true;
    return {0, IoStatus::Closed};
  }
  if (is_retry(error)) {
    note_handshake_done();
    return {0, IoStatus::WantIO};
  }
  fail("read", error);
  return {0, IoStatus::Failed};
}

IoStatus Session::shutdown() noexcept {
  if (failed_) return IoStatus::Failed;
  if (shutdown_sent_) return IoStatus::Ok;
  const int rc = wolfSSL_shutdown(ssl_.get());
  if (rc == WOLFSSL_SUCCESS || rc == WOLFSSL_SHUTDOWN_NOT_DONE) {
    shutdown_sent_ = true;
    return IoStatus::Ok;
  }
  fail("shutdown", wolfSSL_get_error(ssl_.get(), rc));
  return IoStatus::Failed;
}

// --- state ---------------------------------------------------------------------

std::string Session::last_error_text() const {
  if (!failed_) return {};
  std::string text = std::string(error_operation_) + ": " + wolfssl_error_text(error_);
  if (received_non_tls_) text += " (the peer did not speak TLS)";
  return text;
}

std::string_view Session::protocol_version() const noexcept {
  if (!handshake_done_) return {};
  const char* v = wolfSSL_get_version(ssl_.get());
  return v != nullptr ? std::string_view(v) : std::string_view{};
}

std::string_view Session::cipher_suite() const noexcept {
  if (!handshake_done_) return {};
  const char* c = wolfSSL_get_cipher_name(ssl_.get());
  return c != nullptr ? std::string_view(c) : std::string_view{};
}

std::string_view Session::alpn_protocol() const noexcept {
  if (!handshake_done_) return {};
  char* name = nullptr;
  unsigned short size = 0;
  if (wolfSSL_ALPN_GetProtocol(ssl_.get(), &name, &size) != WOLFSSL_SUCCESS || name == nullptr) {
    return {};
  }
  return {name, size};
}

bool Session::is_resumed() const noexcept {
  return handshake_done_ && wolfSSL_session_reused(ssl_.get()) != 0;
}

// --- session resumption --------------------------------------------------------

void Session::set_origin(std::uint64_t origin) noexcept {
  tag_.origin = origin;
}

ExpectedOrigin Session::data_origin() const noexcept {
  return {tag_.origin, handshake_done_ && resumed_ ? tag_.resumed_origin : 0};
}

IoStatus Session::send_ticket() noexcept {
  if (failed_) return IoStatus::Failed;
  if (!is_server_ || tag_.is_data || !handshake_done_ || shutdown_sent_ || !tag_.resumption ||
      wolfSSL_version(ssl_.get()) != TLS1_3_VERSION) {
    return IoStatus::Ok;  // TLS 1.2 tickets come with the handshake
  }
  const int rc = wolfSSL_send_SessionTicket(ssl_.get());
  if (rc == WOLFSSL_SUCCESS) return IoStatus::Ok;
  fail("send ticket", wolfSSL_get_error(ssl_.get(), rc));
  return IoStatus::Failed;
}

void Session::expect_origin(ExpectedOrigin expected) noexcept {
  tag_.expected = expected;
  tag_.is_data = true;
  // Fails (harmlessly) only when this connection cannot be TLS 1.3 at all.
  (void)wolfSSL_no_ticket_TLSv13(ssl_.get());
}

ResumeCheck Session::check_resumption() const noexcept {
  if (!handshake_done_ || !resumed_) return ResumeCheck::NotResumed;
  if (tag_.resumed_origin == 0) return ResumeCheck::UnknownOrigin;
  return tag_.expected.matches(tag_.resumed_origin) ? ResumeCheck::Ok : ResumeCheck::ForeignOrigin;
}

SslSessionPtr Session::saved_session() const noexcept {
  if (!handshake_done_) return nullptr;
  // A copy: the live session changes as later tickets arrive.
  const SslSessionPtr live(wolfSSL_get1_session(ssl_.get()));
  return SslSessionPtr(live ? wolfSSL_SESSION_dup(live.get()) : nullptr);
}

bool Session::resume_from(WOLFSSL_SESSION* saved) noexcept {
  if (is_server_ || saved == nullptr || handshake_done_) return false;
  return wolfSSL_set_session(ssl_.get(), saved) == WOLFSSL_SUCCESS;
}

}  // namespace ringftpd::tls
