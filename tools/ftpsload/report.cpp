#include "tools/ftpsload/report.hpp"

#include <algorithm>
#include <cinttypes>
#include <cstdarg>
#include <cstdio>
#include <utility>
#include <vector>

namespace ringftpd::ftpsload {
namespace {

std::string format(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
std::string format(const char* fmt, ...) {
  char buf[512];
  va_list ap;
  va_start(ap, fmt);
  const int n = std::vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  return std::string(buf, static_cast<std::size_t>(std::clamp(n, 0, int{sizeof buf} - 1)));
}

double per_s(std::uint64_t n, double seconds) {
  return seconds > 0 ? static_cast<double>(n) / seconds : 0.0;
}

double mb(std::uint64_t bytes) {
  return static_cast<double>(bytes) / 1e6;
}

bool is_transfer_mode(Mode m) {
  return m == Mode::Download || m == Mode::Upload || m == Mode::Append || m == Mode::List ||
         m == Mode::Mlsd;
}

std::string_view checked_by(const Options& o) {
  if (o.mode == Mode::Upload) return "226 and SIZE";
  if (o.mode == Mode::Append) return "226 and SIZE grown by --size";
  if (o.mode == Mode::Mlsd) return o.expect_entries ? "MLSD syntax and entries" : "MLSD syntax";
  if (o.expect_sha256 && o.mode != Mode::List)
    return o.expect_size ? "size and SHA-256" : "SHA-256";
  if (o.expect_size) return "size";
  return "nothing (no --expect-*)";
}

std::string target(const Options& o) {
  std::string s = std::string(o.implicit_tls ? "ftps://" : "ftp://") + o.user + "@" + o.host + ":" +
                  std::to_string(o.port) + "/" + o.path;
  if (o.rest > 0) s += ", REST " + std::to_string(o.rest);
  if (!o.tls) return s + ", no TLS";
  const char* v = o.tls_versions == TlsVersions::Tls12   ? "1.2"
                  : o.tls_versions == TlsVersions::Tls13 ? "1.3"
                                                         : "any";
  return s + (o.implicit_tls ? ", implicit TLS " : ", AUTH TLS ") + v + ", PROT " +
         (o.prot_private ? "P" : "C") + ", reuse " + (o.reuse ? "on" : "off");
}

// Errors by count (most first), then by name.
std::vector<std::pair<std::string, std::uint64_t>> by_count(
    const std::map<std::string, std::uint64_t>& m) {
  std::vector<std::pair<std::string, std::uint64_t>> v(m.begin(), m.end());
  std::stable_sort(v.begin(), v.end(),
                   [](const auto& a, const auto& b) { return a.second > b.second; });
  return v;
}

void latency_row(std::string& out, const char* name, const Histogram& h) {
  if (h.count() == 0) return;
  auto d = [](std::uint64_t ns) { return format_duration_ns(static_cast<double>(ns)); };
  out +=
      format("  %-9s %9s %9s %9s %9s %9s %9s %9" PRIu64 "\n", name, d(h.min()).c_str(),
             d(h.percentile(50)).c_str(), d(h.percentile(90)).c_str(), d(h.percentile(99)).c_str(),
             d(h.max()).c_str(), format_duration_ns(h.mean()).c_str(), h.count());
}

std::string json_latency(const Histogram& h) {
  auto ms = [](double ns) { return format("%.3f", ns / 1e6); };
  return "{\"count\":" + std::to_string(h.count()) + ",\"min\":" + ms(h.min()) +
         ",\"p50\":" + ms(h.percentile(50)) + ",\"p90\":" + ms(h.percentile(90)) +
         ",\"p99\":" + ms(h.percentile(99)) + ",\"max\":" + ms(h.max()) +
         ",\"mean\":" + ms(h.mean()) + "}";
}

std::string json_map(const std::map<std::string, std::uint64_t>& m) {
  std::string s = "{";
  for (const auto& [k, v] : m) {
    if (s.size() > 1) s += ',';
    s += json_string(k) + ":" + std::to_string(v);
  }
  return s + "}";
}

}  // namespace

std::string format_duration_ns(double ns) {
  if (ns < 1e6) return format("%.0fus", ns / 1e3);
  if (ns < 1e9) return format("%.2fms", ns / 1e6);
  return format("%.3fs", ns / 1e9);
}

std::string json_string(std::string_view s) {
  std::string out = "\"";
  for (const char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += ch;
    } else if (c < 0x20) {
      out += format("\\u%04x", c);
    } else {
      out += ch;
    }
  }
  return out + "\"";
}

std::string progress_line(const Options& o, const LiveSample& now, const LiveSample& before,
                          double t, double interval_s) {
  const std::string head = format("[%6.1fs] ", t);
  if (o.mode == Mode::Idle) {
    return head + format("idle: %" PRIu64 " logged in, %" PRIu64 " in set-up, %" PRIu64
                         " failed | errors %" PRIu64,
                         now.sessions_open, now.sessions_setting_up, now.sessions_failed,
                         now.errors);
  }
  if (o.mode == Mode::Sessions) {
    return head + format("sessions %" PRIu64 " done (%.1f/s), %" PRIu64 " failed | %" PRIu64
                         " in set-up | errors %" PRIu64,
                         now.sessions_done,
                         per_s(now.sessions_done - before.sessions_done, interval_s),
                         now.sessions_failed, now.sessions_setting_up, now.errors);
  }
  return head + format("transfers %" PRIu64 " ok (%.1f/s), %" PRIu64
                       " failed | %.1f MB/s | "
                       "%" PRIu64 " sessions logged in | errors %" PRIu64,
                       now.transfers_ok, per_s(now.transfers_ok - before.transfers_ok, interval_s),
                       now.transfers_failed,
                       mb(now.bytes_moved - before.bytes_moved) / (interval_s > 0 ? interval_s : 1),
                       now.sessions_open, now.errors);
}

std::string text_report(const Options& o, const Totals& t, const RunFacts& f) {
  const LiveSample& c = t.counts;
  const double secs = f.elapsed_s;
  std::string out = "ftpsload " + std::string(mode_name(o.mode)) + " " + target(o) + "\n";
  out += format("  %u connection%s, %u thread%s, %s%s\n\n", o.concurrency,
                o.concurrency == 1 ? "" : "s", f.threads, f.threads == 1 ? "" : "s",
                std::string(data_command_name(o.data_command)).c_str(),
                f.interrupted ? ", INTERRUPTED by a signal" : "");
  if (is_transfer_mode(o.mode)) {
    out += format("finished in %.2fs: %.2f transfers/s, %.2f MB/s\n", secs,
                  per_s(c.transfers_ok, secs), mb(c.bytes_ok) / (secs > 0 ? secs : 1));
  } else if (o.mode == Mode::Sessions) {
    out += format("finished in %.2fs: %.2f sessions/s\n", secs, per_s(c.sessions_done, secs));
  } else {
    out += format("finished in %.2fs: %" PRIu64 " of %u sessions logged in at once", secs,
                  t.peak_open, o.concurrency);
    if (f.all_up_s < 0) {
      out += "\n";
    } else {
      out += format(", %s after %.2fs\n", t.peak_open >= o.concurrency ? "all up" : "set-up over",
                    f.all_up_s);
    }
  }
  if (o.mode != Mode::Idle) {
    out += format(
        "transfers: %" PRIu64 " ok, %" PRIu64 " failed, %" PRIu64 " cut at the end; checked: %s\n",
        c.transfers_ok, c.transfers_failed, t.transfers_cut, std::string(checked_by(o)).c_str());
    out += format("data:      %.2f MB in completed transfers (%.2f MB/s), %.2f MB moved in all\n",
                  mb(c.bytes_ok), mb(c.bytes_ok) / (secs > 0 ? secs : 1), mb(c.bytes_moved));
  }
  if (o.mode == Mode::Mlsd) {
    out += format("listings:  %" PRIu64 " MLSD entries in completed listings\n", t.listing_entries);
  }
  out += format("sessions:  %" PRIu64 " started, %" PRIu64 " logged in, %" PRIu64
                " completed (QUIT), %" PRIu64 " failed, %" PRIu64 " cut in set-up; at most %" PRIu64
                " logged in at once\n",
                c.sessions_started, c.sessions_up, c.sessions_done, c.sessions_failed,
                t.sessions_cut, t.peak_open);
  if (o.tls) {
    const std::string negotiated =
        t.tls_protocol.empty() ? "no handshake completed" : t.tls_protocol + " " + t.tls_cipher;
    out +=
        format("TLS:       %s; handshakes: control %" PRIu64 " full, %" PRIu64
               " resumed; data %" PRIu64 " full, %" PRIu64 " resumed\n",
               negotiated.c_str(), t.control_full, t.control_resumed, t.data_full, t.data_resumed);
    if (t.data_no_close_notify > 0) {
      out += format("           %" PRIu64 " data connections ended without close_notify\n",
                    t.data_no_close_notify);
    }
  }
  out += format("\n  %-9s %9s %9s %9s %9s %9s %9s %9s\n", "latency", "min", "p50", "p90", "p99",
                "max", "mean", "count");
  latency_row(out, "setup", t.setup);
  latency_row(out, "transfer", t.transfer);
  latency_row(out, "session", t.session);
  if (t.setup.count() + t.transfer.count() + t.session.count() == 0) out += "  (no samples)\n";
  out += format("\nerrors: %" PRIu64 "\n", c.errors);
  for (const auto& [kind, n] : by_count(t.errors)) {
    out += format("  %-60s x%" PRIu64 "\n", kind.c_str(), n);
  }
  if (!t.reply_codes.empty()) {
    out += "by reply code:";
    for (const auto& [code, n] : by_count(t.reply_codes)) {
      out += format(" %s x%" PRIu64, code.c_str(), n);
    }
    out += "\n";
  }
  return out;
}

std::string json_report(const Options& o, const Totals& t, const RunFacts& f) {
  const LiveSample& c = t.counts;
  const double secs = f.elapsed_s;
  std::string j = "{";
  j += "\"mode\":" + json_string(mode_name(o.mode));
  j += ",\"target\":" + json_string(target(o));
  j += ",\"data_command\":" + json_string(data_command_name(o.data_command));
  j += ",\"concurrency\":" + std::to_string(o.concurrency);
  j += ",\"threads\":" + std::to_string(f.threads);
  j += format(",\"elapsed_s\":%.3f", secs);
  j += std::string(",\"interrupted\":") + (f.interrupted ? "true" : "false");
  j += ",\"checked\":" + json_string(checked_by(o));
  j += ",\"sessions\":{\"started\":" + std::to_string(c.sessions_started) +
       ",\"logged_in\":" + std::to_string(c.sessions_up) +
       ",\"completed\":" + std::to_string(c.sessions_done) +
       ",\"failed\":" + std::to_string(c.sessions_failed) +
       ",\"cut\":" + std::to_string(t.sessions_cut) +
       ",\"peak_logged_in\":" + std::to_string(t.peak_open) +
       format(",\"per_s\":%.3f}", per_s(c.sessions_done, secs));
  if (o.mode == Mode::Idle) {
    j += f.all_up_s >= 0 ? format(",\"all_up_s\":%.3f", f.all_up_s) : ",\"all_up_s\":null";
  }
  j += ",\"transfers\":{\"ok\":" + std::to_string(c.transfers_ok) +
       ",\"failed\":" + std::to_string(c.transfers_failed) +
       ",\"cut\":" + std::to_string(t.transfers_cut) +
       format(",\"per_s\":%.3f}", per_s(c.transfers_ok, secs));
  j += ",\"bytes\":{\"completed\":" + std::to_string(c.bytes_ok) +
       ",\"moved\":" + std::to_string(c.bytes_moved) + "}";
  j += format(",\"mb_per_s\":%.3f", mb(c.bytes_ok) / (secs > 0 ? secs : 1));
  j += ",\"mlsd_entries\":" + std::to_string(t.listing_entries);
  j += ",\"tls\":{\"protocol\":" + json_string(t.tls_protocol) +
       ",\"cipher\":" + json_string(t.tls_cipher) +
       ",\"control_full\":" + std::to_string(t.control_full) +
       ",\"control_resumed\":" + std::to_string(t.control_resumed) +
       ",\"data_full\":" + std::to_string(t.data_full) +
       ",\"data_resumed\":" + std::to_string(t.data_resumed) +
       ",\"data_no_close_notify\":" + std::to_string(t.data_no_close_notify) + "}";
  j += ",\"latency_ms\":{\"setup\":" + json_latency(t.setup) +
       ",\"transfer\":" + json_latency(t.transfer) + ",\"session\":" + json_latency(t.session) +
       "}";
  j += ",\"errors_total\":" + std::to_string(c.errors);
  j += ",\"errors\":" + json_map(t.errors);
  j += ",\"reply_codes\":" + json_map(t.reply_codes);
  return j + "}";
}

}  // namespace ringftpd::ftpsload
