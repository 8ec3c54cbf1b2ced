// FtpClient, the transfer side: PASV/EPSV or a listener and PORT/EPRT, the
// data connection, REST, RETR / STOR / APPE / LIST / MLSD, the checks that
// make a transfer count, SIZE before an append and after an upload.
#include <arpa/inet.h>

#include <algorithm>

#include "tools/ftpsload/active_data.hpp"
#include "tools/ftpsload/ftp_client.hpp"
#include "tools/ftpsload/payload.hpp"

namespace ringftpd::ftpsload {
namespace {

// TLS uploads seal this much per call and keep at most the high-water mark
// queued; clear uploads send straight from the pattern, a chunk at a time.
constexpr std::size_t kUploadChunk = 256 * 1024;
constexpr std::size_t kUploadHighWater = 512 * 1024;

io::SocketAddress with_port(io::SocketAddress a, std::uint16_t port) {
  if (a.family() == AF_INET) {
    reinterpret_cast<sockaddr_in*>(&a.storage)->sin_port = htons(port);
  } else if (a.family() == AF_INET6) {
    reinterpret_cast<sockaddr_in6*>(&a.storage)->sin6_port = htons(port);
  }
  return a;
}

}  // namespace

bool FtpClient::protects_data() const noexcept {
  return env_.plan.options.tls && env_.plan.options.prot_private;
}

bool FtpClient::is_active() const noexcept {
  return ftpsload::is_active(env_.plan.options.data_command);
}

bool FtpClient::is_upload() const noexcept {
  const Mode m = env_.plan.options.mode;
  return m == Mode::Upload || m == Mode::Append;
}

bool FtpClient::sends_rest() const noexcept {
  const Mode m = env_.plan.options.mode;
  return env_.plan.options.rest > 0 &&
         (m == Mode::Download || m == Mode::Sessions || m == Mode::Upload);
}

const char* FtpClient::transfer_verb() const noexcept {
  switch (env_.plan.options.mode) {
    case Mode::Upload:
      return "STOR";
    case Mode::Append:
      return "APPE";
    case Mode::List:
      return "LIST";
    case Mode::Mlsd:
      return "MLSD";
    default:
      return "RETR";
  }
}

void FtpClient::start_transfer() noexcept {
  ++transfers_this_session_;
  in_transfer_ = true;
  xfer_.bytes = 0;
  xfer_.final_code = 0;
  xfer_.got_mark = xfer_.got_final = xfer_.data_tls_started = false;
  xfer_.data_done = xfer_.upload_sent = xfer_.clean_end = false;
  xfer_.stream_offset = env_.plan.options.mode == Mode::Upload ? env_.plan.options.rest : 0;
  xfer_.hash.reset();
  mlsd_.reset();
  // An append continues the upload stream where the file ends: learn that
  // once, then follow it.
  if (env_.plan.options.mode == Mode::Append && !append_size_) {
    return send_command("SIZE", upload_name_, Phase::SizeBefore);
  }
  open_data_path();
}

void FtpClient::on_size_before_reply(const Reply& r) noexcept {
  if (r.code == 550) {  // no such file yet: APPE creates it
    append_size_ = 0;
  } else if (r.code != 213) {
    return reply_error(r);
  } else {
    append_size_ = parse_size_reply(r.text);
    if (!append_size_) return fail("unparsable 213 reply to SIZE");
  }
  open_data_path();
}

void FtpClient::open_data_path() noexcept {
  transfer_start_ = env_.now;
  if (env_.plan.options.mode == Mode::Append) xfer_.stream_offset = *append_size_;
  if (!is_active()) {
    const bool epsv = env_.plan.options.data_command == DataCommand::Epsv;
    return send_command(epsv ? "EPSV" : "PASV", {}, Phase::Passive);
  }
  enter(Phase::DataConnecting);
  data_connect_pending_ = true;
  if (data_.is_idle()) connect_data();  // else when the last data connection has drained
}

void FtpClient::on_passive_reply(const Reply& r) noexcept {
  const bool epsv = env_.plan.options.data_command == DataCommand::Epsv;
  if (r.code != (epsv ? 229 : 227)) return reply_error(r);
  const auto port = epsv ? parse_epsv_port(r.text) : parse_pasv_port(r.text);
  if (!port) return fail(epsv ? "unparsable 229 reply" : "unparsable 227 reply");
  data_port_ = *port;
  enter(Phase::DataConnecting);
  data_connect_pending_ = true;
  if (data_.is_idle()) connect_data();  // else when the last data connection has drained
}

// The data connection goes to the control connection's server (the address
// inside a 227 reply is ignored) from the control connection's source.
// Active mode: a listener instead, and PORT/EPRT naming it.
void FtpClient::connect_data() noexcept {
  data_connect_pending_ = false;
  if (is_active()) return listen_for_data();
  if (env_.plan.options.trace) trace("*", "data connect to port " + std::to_string(data_port_));
  const auto& sources = env_.plan.sources;
  const io::SocketAddress* source = sources.empty() ? nullptr : &sources[index_ % sources.size()];
  if (const int rc = data_.connect(with_port(env_.plan.server, data_port_), source); rc < 0) {
    fail(connect_error("data connect", -rc));
  }
}

// On the control connection's source address (make_plan made sure every
// control connection has one), so the server accepts it as ours.
void FtpClient::listen_for_data() noexcept {
  const auto& sources = env_.plan.sources;
  if (sources.empty()) return fail("bug: active mode without a source address");
  ActiveListener listener;
  if (const int rc = open_active_listener(sources[index_ % sources.size()], listener); rc < 0) {
    return fail(connect_error("data listen", -rc));
  }
  const bool eprt = env_.plan.options.data_command == DataCommand::Eprt;
  std::string argument;
  if (eprt) {
    argument = format_eprt_argument(listener.address);
  } else if (auto port = format_port_argument(listener.address)) {
    argument = std::move(*port);
  } else {
    return fail("PORT cannot name an IPv6 address");
  }
  if (env_.plan.options.trace) trace("*", "data listen on " + listener.address.to_string());
  data_.accept(std::move(listener.fd));
  if (data_.failed()) return fail("data " + data_.error_text());
  send_command(eprt ? "EPRT" : "PORT", argument, Phase::Port);
}

void FtpClient::on_port_reply(const Reply& r) noexcept {
  if (r.code != 200) return reply_error(r);
  request_transfer();
}

void FtpClient::on_data_connected() noexcept {
  if (data_.failed()) return fail(connect_error("data connect", data_.error_number()));
  request_transfer();
}

// Active mode: the server's connection came. Its TLS (we are the TLS client
// whoever connected, RFC 4217 §7) starts now if the 1xx came first.
void FtpClient::on_data_accepted() noexcept {
  if (data_.failed()) return fail(connect_error("data accept", data_.error_number()));
  if (env_.plan.options.trace) trace("*", "data connection accepted");
  if (phase_ != Phase::Transfer) return;  // too early (before the verb): the 1xx decides
  if (protects_data()) {
    if (xfer_.got_mark) start_data_tls();
    return;
  }
  pump_data();
  if (phase_ == Phase::Transfer) pump_upload();
}

// The data path is ready (connected, or the server told where to connect):
// REST if asked, then the transfer command.
void FtpClient::request_transfer() noexcept {
  if (sends_rest()) {
    return send_command("REST", std::to_string(env_.plan.options.rest), Phase::Rest);
  }
  send_transfer_command();
}

void FtpClient::on_rest_reply(const Reply& r) noexcept {
  if (r.code != 350) return reply_error(r);
  send_transfer_command();
}

void FtpClient::send_transfer_command() noexcept {
  const Options& o = env_.plan.options;
  const std::string_view argument =
      is_upload() ? std::string_view(upload_name_) : std::string_view(o.path);
  send_command(transfer_verb(), argument, Phase::Transfer);
}

void FtpClient::on_transfer_reply(const Reply& r) noexcept {
  if (r.is_preliminary()) {
    if (xfer_.got_mark) return;
    xfer_.got_mark = true;
    enter(Phase::Transfer);  // a fresh deadline for the data to start
    // Like curl, lftp and Python: the data connection's TLS starts on 1xx
    // (active mode: once the server's connection is there too).
    if (protects_data()) return data_.has_socket() ? start_data_tls() : void();
    return pump_upload();
  }
  xfer_.got_final = true;
  xfer_.final_code = r.code;
  if (!r.is_success()) return reply_error(r);
  if (!xfer_.got_mark && protects_data()) {
    return fail("reply " + std::to_string(r.code) + " to " + verb_ + " without 1xx", r.code);
  }
  enter(Phase::Transfer);
  maybe_finish_transfer();
}

void FtpClient::start_data_tls() noexcept {
  xfer_.data_tls_started = true;
  // The newest session the control connection holds: under TLS 1.3 the
  // ticket that came with (or after) the handshake, or the fresh one a
  // server sends while answering PASV/EPSV.
  tls::SslSessionPtr resume;
  if (env_.plan.options.reuse && control_.tls() != nullptr)
    resume = control_.tls()->saved_session();
  if (!data_.start_tls(*env_.tls, resume.get()) || data_.failed()) {
    return fail("data " + data_.error_text());
  }
  pump_data();  // the connection may have ended already
}

void FtpClient::pump_data() noexcept {
  // Protected data: bytes before our ClientHello wait for the TLS start.
  if (protects_data() && !xfer_.data_tls_started) return;
  const Mode mode = env_.plan.options.mode;
  const bool counts_input = !is_upload();
  const bool hashes = env_.plan.hashes() && mode != Mode::List && mode != Mode::Mlsd;
  const bool parses_mlsd = mode == Mode::Mlsd;
  for (;;) {
    const Channel::Chunk c = data_.read();
    switch (c.status) {
      case Channel::Read::Data:
        if (counts_input) {
          xfer_.bytes += c.data.size();
          env_.stats.live.bytes_moved.add(c.data.size());
          if (hashes) xfer_.hash.update(c.data);
          if (parses_mlsd) mlsd_.feed(c.data);
          deadline_ = env_.now + env_.plan.timeout;  // progress
        }
        break;
      case Channel::Read::HandshakeDone:
        on_data_handshake();
        break;
      case Channel::Read::NeedMore:
        return;
      case Channel::Read::Closed:
        return on_data_end(/*clean=*/true);
      case Channel::Read::Truncated:
        return on_data_end(/*clean=*/false);
      case Channel::Read::Failed:
        return fail("data " + data_.error_text());
    }
    if (phase_ != Phase::Transfer) return;
  }
}

void FtpClient::on_data_handshake() noexcept {
  Totals& t = env_.stats.totals;
  ++(data_.tls()->is_resumed() ? t.data_resumed : t.data_full);
  if (env_.plan.options.trace) {
    trace("*",
          data_.tls()->is_resumed() ? "data TLS done, resumed" : "data TLS done, full handshake");
  }
  pump_upload();
}

void FtpClient::on_data_end(bool clean) noexcept {
  if (env_.plan.options.trace) {
    trace("*", "data end after " + std::to_string(xfer_.bytes) + " bytes" +
                   (clean ? "" : ", no close_notify"));
  }
  xfer_.data_done = true;
  xfer_.clean_end = clean;
  if (!clean) ++env_.stats.totals.data_no_close_notify;
  data_.close();
  if (is_upload() && !xfer_.upload_sent) {
    return fail("data connection closed during the upload");
  }
  maybe_finish_transfer();
}

void FtpClient::pump_upload() noexcept {
  if (!is_upload() || phase_ != Phase::Transfer || !xfer_.got_mark || xfer_.upload_sent ||
      !data_.has_socket()) {
    return;
  }
  if (protects_data() && !(data_.tls() != nullptr && data_.tls()->is_handshake_done())) return;
  const std::uint64_t size = env_.plan.options.upload_size;
  while (xfer_.bytes < size) {
    const std::uint64_t left = size - xfer_.bytes;
    std::span<const std::byte> chunk;
    if (data_.is_tls()) {
      if (data_.unsent() >= kUploadHighWater) break;
      chunk = upload_chunk(xfer_.stream_offset + xfer_.bytes,
                           static_cast<std::size_t>(std::min<std::uint64_t>(left, kUploadChunk)));
      if (!data_.send(chunk)) return fail("data " + data_.error_text());
    } else {
      if (data_.unsent() > 0) break;
      chunk = upload_chunk(xfer_.stream_offset + xfer_.bytes,
                           static_cast<std::size_t>(std::min<std::uint64_t>(left, kPatternBytes)));
      data_.send_borrowed(chunk);
    }
    xfer_.bytes += chunk.size();
    env_.stats.live.bytes_moved.add(chunk.size());
  }
  deadline_ = env_.now + env_.plan.timeout;  // progress
  if (xfer_.bytes == size) {
    // close_notify (TLS), then FIN once everything is out; the server
    // answers with its own close and the final reply.
    xfer_.upload_sent = true;
    data_.shutdown_write();
    if (data_.failed()) return fail("data " + data_.error_text());
  }
}

void FtpClient::maybe_finish_transfer() noexcept {
  if (!xfer_.got_final || !xfer_.data_done) return;
  xfer_.latency = env_.now - transfer_start_;
  const Options& o = env_.plan.options;
  if (is_upload()) return send_command("SIZE", upload_name_, Phase::Size);
  // Without a size or digest to compare, a TLS stream cut short is the one
  // sign of a truncated file left.
  if (!xfer_.clean_end && !env_.plan.verifies()) return fail("data truncated (no close_notify)");
  if (o.expect_size && xfer_.bytes != *o.expect_size) return fail("size mismatch");
  if (o.expect_sha256 && o.mode != Mode::List && xfer_.hash.finish() != *o.expect_sha256) {
    return fail("checksum mismatch");
  }
  if (o.mode == Mode::Mlsd) {
    if (!mlsd_.finish())
      return fail("malformed MLSD listing (" + std::string(mlsd_.problem()) + ")");
    if (o.expect_entries && mlsd_.entries() != *o.expect_entries) {
      return fail("MLSD entry count mismatch");
    }
    env_.stats.totals.listing_entries += mlsd_.entries();
  }
  transfer_ok();
}

void FtpClient::on_size_reply(const Reply& r) noexcept {
  if (r.code != 213) return reply_error(r);
  const auto size = parse_size_reply(r.text);
  if (!size) return fail("unparsable 213 reply to SIZE");
  // Upload: the bytes end at the REST offset plus --size (the server writes
  // in place from there). Append: the file grew by exactly --size.
  const std::uint64_t expected = xfer_.stream_offset + env_.plan.options.upload_size;
  if (*size != expected) {
    return fail(env_.plan.options.mode == Mode::Append ? "SIZE after append differs"
                                                       : "SIZE after upload differs");
  }
  if (env_.plan.options.mode == Mode::Append) append_size_ = expected;
  transfer_ok();
}

void FtpClient::transfer_ok() noexcept {
  in_transfer_ = false;
  env_.stats.totals.transfer.record(static_cast<std::uint64_t>(xfer_.latency.count()));
  env_.stats.live.transfers_ok.add();
  env_.stats.live.bytes_ok.add(xfer_.bytes);
  next_step();
}

}  // namespace ringftpd::ftpsload
