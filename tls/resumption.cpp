#include "tls/resumption.hpp"

#include <string.h>  // explicit_bzero

#include <algorithm>
#include <array>
#include <cstring>
#include <span>

#include "tls/error.hpp"

namespace ringftpd::tls {

namespace {

using detail::OriginTag;

// A ticket's key_name: the sealing key's id, then random bytes (which, with
// the IV, make each ticket's mask input unique).
constexpr std::size_t kKeyIdBytes = 4;
static_assert(WOLFSSL_TICKET_NAME_SZ == 16);
static_assert(WOLFSSL_TICKET_IV_SZ >= TicketKeys::kNonceBytes);
// mac[0..16) the GCM tag, mac[16..24) the masked origin, mac[24..32) zero.
constexpr std::size_t kOriginOffset = TicketKeys::kTagBytes;
constexpr std::size_t kOriginBytes = 8;
static_assert(WOLFSSL_TICKET_MAC_SZ == kOriginOffset + kOriginBytes + 8);
// The mask's input is key_name || iv; the AAD adds the masked origin, so the
// tag authenticates key id, IV and origin together.
constexpr std::size_t kMaskInputBytes = WOLFSSL_TICKET_NAME_SZ + WOLFSSL_TICKET_IV_SZ;
constexpr std::size_t kAadBytes = kMaskInputBytes + kOriginBytes;

// TLS 1.3 caps ticket lifetimes at 7 days (RFC 8446, 4.6.1).
constexpr std::chrono::seconds kMaxLifetime{7 * 24 * 3600};

int tag_index() noexcept {
  // wolfSSL hands out indexes from an unlocked counter: take one, once.
  static const int index = wolfSSL_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return index;
}

OriginTag* tag_of(WOLFSSL* ssl) noexcept {
  auto* tag = static_cast<OriginTag*>(wolfSSL_get_ex_data(ssl, tag_index()));
  return tag != nullptr && tag->resumption ? tag : nullptr;
}

bool is_tls13(WOLFSSL* ssl) noexcept {
  return wolfSSL_version(ssl) == TLS1_3_VERSION;
}

// The origin of what `ssl` is about to issue (a ticket or a cached session).
std::uint64_t issuing_origin(const OriginTag& tag, WOLFSSL* ssl) noexcept {
  // TLS 1.2 resumption keeps the master secret: same lineage as what it resumed.
  if (wolfSSL_session_reused(ssl) != 0 && !is_tls13(ssl)) return tag.resumed_origin;
  // A data connection's own full handshake vouches for nothing.
  if (tag.is_data) return 0;
  return tag.origin;
}

std::array<std::uint8_t, kAadBytes> ticket_aad(const unsigned char* key_name,
                                               const unsigned char* iv,
                                               const unsigned char* mac) noexcept {
  std::array<std::uint8_t, kAadBytes> aad;
  std::memcpy(aad.data(), key_name, WOLFSSL_TICKET_NAME_SZ);
  std::memcpy(aad.data() + WOLFSSL_TICKET_NAME_SZ, iv, WOLFSSL_TICKET_IV_SZ);
  std::memcpy(aad.data() + kMaskInputBytes, mac + kOriginOffset, kOriginBytes);
  return aad;
}

void store_be(unsigned char* out, std::uint64_t v, int bytes) noexcept {
  for (int i = bytes - 1; i >= 0; --i, v >>= 8) out[i] = static_cast<unsigned char>(v);
}

std::uint64_t load_be(const unsigned char* in, int bytes) noexcept {
  std::uint64_t v = 0;
  for (int i = 0; i < bytes; ++i) v = (v << 8) | in[i];
  return v;
}

SteadyTime now() noexcept {
  return std::chrono::steady_clock::now();
}

// Encrypts a ticket wolfSSL built (`ticket`, `len` bytes, in place) with the
// connection's origin masked into `mac`. Any failure is
// WOLFSSL_TICKET_RET_FATAL: without a ticket wolfSSL fails the handshake
// whatever we return.
int seal_ticket(OriginTag& tag, WOLFSSL* ssl, unsigned char* key_name, unsigned char* iv,
                unsigned char* mac, unsigned char* ticket, int len, int* out_len) noexcept {
  Resumption& r = *tag.resumption;
  TicketKeys& keys = r.ticket_keys();
  // *out_len arrives as the room wolfSSL has; we add nothing.
  if (*out_len < len) return WOLFSSL_TICKET_RET_FATAL;
  const std::optional<TicketKeys::KeyId> key = keys.current();
  if (!key ||
      !r.random().fill(
          std::span<std::uint8_t>(key_name + kKeyIdBytes, WOLFSSL_TICKET_NAME_SZ - kKeyIdBytes)) ||
      !r.random().fill(std::span<std::uint8_t>(iv, WOLFSSL_TICKET_IV_SZ))) {
    return WOLFSSL_TICKET_RET_FATAL;
  }
  store_be(key_name, *key, kKeyIdBytes);
  std::memset(mac, 0, WOLFSSL_TICKET_MAC_SZ);
  const auto mask_input = ticket_aad(key_name, iv, mac);
  const std::optional<std::uint64_t> mask =
      keys.mask(*key, std::span(mask_input).first(kMaskInputBytes));
  if (!mask) return WOLFSSL_TICKET_RET_FATAL;
  // Origin 0 (none) is masked like any other: no ticket says it is unbound.
  store_be(mac + kOriginOffset, issuing_origin(tag, ssl) ^ *mask, kOriginBytes);
  const auto aad = ticket_aad(key_name, iv, mac);
  if (!keys.seal(
          *key, std::span<std::uint8_t>(ticket, static_cast<std::size_t>(len)),
          std::span<const std::uint8_t, TicketKeys::kNonceBytes>(iv, TicketKeys::kNonceBytes), aad,
          std::span<std::uint8_t, TicketKeys::kTagBytes>(mac, TicketKeys::kTagBytes))) {
    return WOLFSSL_TICKET_RET_FATAL;
  }
  *out_len = len;
  return WOLFSSL_TICKET_RET_OK;
}

// Decrypts a client's ticket in place and unmasks its origin. A ticket we
// cannot open (unknown or expired key, bad tag, malformed) is
// WOLFSSL_TICKET_RET_REJECT: the client gets a full handshake, never a failure.
int open_ticket(OriginTag& tag, WOLFSSL* ssl, const unsigned char* key_name,
                const unsigned char* iv, const unsigned char* mac, unsigned char* ticket, int len,
                int* out_len) noexcept {
  // A TLS 1.3 ClientHello may offer several tickets: forget the previous one.
  tag.resumed_origin = 0;
  Resumption& r = *tag.resumption;
  if (!std::all_of(mac + kOriginOffset + kOriginBytes, mac + WOLFSSL_TICKET_MAC_SZ,
                   [](unsigned char b) { return b == 0; })) {
    return WOLFSSL_TICKET_RET_REJECT;
  }
  const auto key = static_cast<TicketKeys::KeyId>(load_be(key_name, kKeyIdBytes));
  const auto aad = ticket_aad(key_name, iv, mac);
  const TicketKeys::Opened opened = r.ticket_keys().open(
      key, now(), std::span<std::uint8_t>(ticket, static_cast<std::size_t>(len)),
      std::span<const std::uint8_t, TicketKeys::kNonceBytes>(iv, TicketKeys::kNonceBytes), aad,
      std::span<const std::uint8_t, TicketKeys::kTagBytes>(mac, TicketKeys::kTagBytes));
  if (opened != TicketKeys::Opened::WithCurrent && opened != TicketKeys::Opened::WithRetired) {
    return WOLFSSL_TICKET_RET_REJECT;
  }
  const std::optional<std::uint64_t> mask =
      r.ticket_keys().mask(key, std::span(aad).first(kMaskInputBytes));
  if (!mask) return WOLFSSL_TICKET_RET_REJECT;
  *out_len = len;
  tag.resumed_origin = load_be(mac + kOriginOffset, kOriginBytes) ^ *mask;
  // TLS 1.2 only (1.3 accepts nothing but OK): a control connection swaps a
  // ticket under a retired key for one under the current key. Data
  // connections keep what they have, so they issue nothing. (wolfSSL before
  // 5.6.0 drops the request: the client keeps the old ticket, which opens
  // until its key's time is up, then gets a full handshake.)
  if (!is_tls13(ssl) && !tag.is_data && opened == TicketKeys::Opened::WithRetired) {
    return WOLFSSL_TICKET_RET_CREATE;
  }
  return WOLFSSL_TICKET_RET_OK;
}

int ticket_callback(WOLFSSL* ssl, unsigned char key_name[WOLFSSL_TICKET_NAME_SZ],
                    unsigned char iv[WOLFSSL_TICKET_IV_SZ],
                    unsigned char mac[WOLFSSL_TICKET_MAC_SZ], int enc, unsigned char* ticket,
                    int len, int* out_len, void*) noexcept {
  OriginTag* tag = ssl != nullptr ? tag_of(ssl) : nullptr;
  if (tag == nullptr || key_name == nullptr || iv == nullptr || mac == nullptr ||
      ticket == nullptr || len <= 0 || out_len == nullptr) {
    return enc != 0 ? WOLFSSL_TICKET_RET_FATAL : WOLFSSL_TICKET_RET_REJECT;
  }
  return enc != 0 ? seal_ticket(*tag, ssl, key_name, iv, mac, ticket, len, out_len)
                  : open_ticket(*tag, ssl, key_name, iv, mac, ticket, len, out_len);
}

// wolfSSL offers every new server session (after each full TLS 1.2
// handshake, and each TLS 1.3 ticket). Returns 0: we keep a serialized copy,
// not the object.
int new_session_callback(WOLFSSL* ssl, WOLFSSL_SESSION* session) noexcept {
  OriginTag* tag = ssl != nullptr ? tag_of(ssl) : nullptr;
  if (tag == nullptr || session == nullptr) return 0;
  if (is_tls13(ssl)) return 0;  // TLS 1.3 resumes by (stateless) ticket only
  unsigned int id_len = 0;
  const unsigned char* id = wolfSSL_SESSION_get_id(session, &id_len);
  if (id == nullptr || id_len == 0) return 0;  // a ticket was issued instead of an ID
  // Stored even with origin 0 (a connection without one): it resumes, but
  // check_resumption() calls it UnknownOrigin, so a data connection refuses it.
  const std::uint64_t origin = issuing_origin(*tag, ssl);
  const std::span<std::uint8_t> der = tag->resumption->session_buffer();
  const int size = wolfSSL_i2d_SSL_SESSION(session, nullptr);
  if (size <= 0 || static_cast<std::size_t>(size) > der.size()) return 0;  // not cached
  unsigned char* out = der.data();  // i2d may or may not advance its pointer
  if (wolfSSL_i2d_SSL_SESSION(session, &out) == size) {
    const SteadyTime t = now();
    (void)tag->resumption->shared_state().put_session(std::span<const std::uint8_t>(id, id_len),
                                                      der.first(static_cast<std::size_t>(size)),
                                                      origin, t + tag->lifetime, t);
  }
  explicit_bzero(der.data(), static_cast<std::size_t>(size));  // holds the master secret
  return 0;
}

// A TLS 1.2 client offers a session ID. *copy = 0: wolfSSL copies the session
// we return and frees it.
WOLFSSL_SESSION* get_session_callback(WOLFSSL* ssl, const unsigned char* id, int id_len,
                                      int* copy) noexcept {
  if (copy != nullptr) *copy = 0;
  OriginTag* tag = ssl != nullptr ? tag_of(ssl) : nullptr;
  if (tag == nullptr || id == nullptr || id_len <= 0 || is_tls13(ssl)) return nullptr;
  const std::span<std::uint8_t> der = tag->resumption->session_buffer();
  const std::optional<SessionFound> found = tag->resumption->shared_state().get_session(
      std::span<const std::uint8_t>(id, static_cast<std::size_t>(id_len)), now(), der);
  if (!found) return nullptr;
  const unsigned char* in = der.data();
  WOLFSSL_SESSION* session = wolfSSL_d2i_SSL_SESSION(nullptr, &in, static_cast<long>(found->size));
  explicit_bzero(der.data(), found->size);
  if (session == nullptr) return nullptr;
  tag->resumed_origin = found->origin;
  return session;
}

}  // namespace

std::string_view describe(ResumeCheck check) noexcept {
  switch (check) {
    case ResumeCheck::Ok:
      return "resumed a session of this control connection";
    case ResumeCheck::NotResumed:
      return "full handshake, no session resumed";
    case ResumeCheck::ForeignOrigin:
      return "resumed a session of another control connection";
    case ResumeCheck::UnknownOrigin:
      return "resumed a session of unknown origin (expired or forgotten)";
  }
  return "?";
}

Resumption::Resumption()
    : Resumption(SharedTlsState::create(SharedTlsOptions{.max_sessions = kPrivateSessions})) {}

Resumption::Resumption(std::shared_ptr<SharedTlsState> state)
    : state_(state ? std::move(state) : throw TlsError("resumption: no shared TLS state")),
      keys_(state_),
      session_buffer_(state_->options().max_session_bytes) {}

Resumption::~Resumption() {
  explicit_bzero(session_buffer_.data(), session_buffer_.size());  // wiped after each use; again
}

std::uint64_t Resumption::new_origin() noexcept {
  return rng_.nonzero_u64().value_or(0);
}

namespace detail {

bool attach_tag(WOLFSSL* ssl, OriginTag* tag) noexcept {
  const int index = tag_index();
  return index >= 0 && wolfSSL_set_ex_data(ssl, index, tag) == WOLFSSL_SUCCESS;
}

void install_resumption(WOLFSSL_CTX* ctx, std::chrono::seconds lifetime) {
  if (lifetime < std::chrono::seconds{1} || lifetime > kMaxLifetime) {
    throw TlsError("TLS session lifetime must be between 1 second and 7 days");
  }
  if (tag_index() < 0) throw TlsError("wolfSSL has no ex_data index left");
  const auto seconds = static_cast<unsigned int>(lifetime.count());
  // TLS 1.2 session timeout (and, in this build, the ticket hint too).
  (void)wolfSSL_CTX_set_timeout(ctx, seconds);
  if (wolfSSL_CTX_set_TicketHint(ctx, static_cast<int>(seconds)) != WOLFSSL_SUCCESS ||
      wolfSSL_CTX_set_TicketEncCb(ctx, &ticket_callback) != WOLFSSL_SUCCESS) {
    throw TlsError("wolfSSL refused the session ticket settings");
  }
  // Our store only: wolfSSL's internal cache is global to the process, and a
  // session found there would carry no origin.
  (void)wolfSSL_CTX_set_session_cache_mode(
      ctx, WOLFSSL_SESS_CACHE_SERVER | WOLFSSL_SESS_CACHE_NO_INTERNAL);
  wolfSSL_CTX_sess_set_new_cb(ctx, &new_session_callback);
  wolfSSL_CTX_sess_set_get_cb(ctx, &get_session_callback);
  // No remove callback: wolfSSL 5.5.4 calls it whenever it frees a session
  // object it does not cache internally (wolfSSL_FreeSession: each
  // connection's own session, and each one get_session_callback returns),
  // so it would delete live entries. Entries leave the cache by expiry,
  // eviction, or SharedTlsState::remove_session.
}

}  // namespace detail

}  // namespace ringftpd::tls
