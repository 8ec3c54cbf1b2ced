#include "tools/ftpsload/stats.hpp"

namespace ringftpd::ftpsload {

void LiveSample::add(const Live& live) noexcept {
  sessions_started += live.sessions_started.get();
  sessions_up += live.sessions_up.get();
  sessions_done += live.sessions_done.get();
  sessions_failed += live.sessions_failed.get();
  sessions_open += live.sessions_open.get();
  sessions_setting_up += live.sessions_setting_up.get();
  transfers_ok += live.transfers_ok.get();
  transfers_failed += live.transfers_failed.get();
  bytes_ok += live.bytes_ok.get();
  bytes_moved += live.bytes_moved.get();
  errors += live.errors.get();
}

void Totals::merge(const Totals& other) {
  const LiveSample& c = other.counts;
  counts.sessions_started += c.sessions_started;
  counts.sessions_up += c.sessions_up;
  counts.sessions_done += c.sessions_done;
  counts.sessions_failed += c.sessions_failed;
  counts.sessions_open += c.sessions_open;
  counts.sessions_setting_up += c.sessions_setting_up;
  counts.transfers_ok += c.transfers_ok;
  counts.transfers_failed += c.transfers_failed;
  counts.bytes_ok += c.bytes_ok;
  counts.bytes_moved += c.bytes_moved;
  counts.errors += c.errors;
  setup.merge(other.setup);
  transfer.merge(other.transfer);
  session.merge(other.session);
  control_full += other.control_full;
  control_resumed += other.control_resumed;
  data_full += other.data_full;
  data_resumed += other.data_resumed;
  data_no_close_notify += other.data_no_close_notify;
  transfers_cut += other.transfers_cut;
  sessions_cut += other.sessions_cut;
  listing_entries += other.listing_entries;
  peak_open += other.peak_open;
  for (const auto& [k, v] : other.errors) errors[k] += v;
  for (const auto& [k, v] : other.reply_codes) reply_codes[k] += v;
  if (tls_protocol.empty()) tls_protocol = other.tls_protocol;
  if (tls_cipher.empty()) tls_cipher = other.tls_cipher;
}

void ThreadStats::error(const std::string& kind, int reply_code) {
  live.errors.add();
  ++totals.errors[kind];
  if (reply_code != 0) ++totals.reply_codes[std::to_string(reply_code)];
}

}  // namespace ringftpd::ftpsload
