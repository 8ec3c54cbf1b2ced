// What a run measures.
//
// Each event loop owns one ThreadStats and is its only writer. The Live
// counters are relaxed atomics so that the main thread can read them once a
// second for the progress line; everything else (histograms, error tallies)
// is read only after the loop's thread has been joined, when the per-thread
// figures are merged into one Totals.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <string>

#include "tools/ftpsload/histogram.hpp"

namespace ringftpd::ftpsload {

// A single-writer counter that another thread may read at any time.
class LiveCounter {
 public:
  void add(std::uint64_t n = 1) noexcept {
    v_.store(v_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
  void sub(std::uint64_t n = 1) noexcept {
    v_.store(v_.load(std::memory_order_relaxed) - n, std::memory_order_relaxed);
  }
  [[nodiscard]] std::uint64_t get() const noexcept { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::uint64_t> v_{0};
};

struct Live {
  LiveCounter sessions_started;
  LiveCounter sessions_up;          // reached "logged in, PBSZ/PROT/TYPE done"
  LiveCounter sessions_done;        // ended with QUIT and 221 (or the server's close after QUIT)
  LiveCounter sessions_failed;      // ended by an error
  LiveCounter sessions_open;        // logged in right now (a gauge)
  LiveCounter sessions_setting_up;  // connecting .. logged in right now (a gauge)
  LiveCounter transfers_ok;
  LiveCounter transfers_failed;
  LiveCounter bytes_ok;     // payload of transfers that completed and verified
  LiveCounter bytes_moved;  // every payload byte received or sent
  LiveCounter errors;
};

// The figures of one sample of the Live counters (progress line).
struct LiveSample {
  std::uint64_t sessions_started = 0, sessions_up = 0, sessions_done = 0, sessions_failed = 0;
  std::uint64_t sessions_open = 0, sessions_setting_up = 0;
  std::uint64_t transfers_ok = 0, transfers_failed = 0, bytes_ok = 0, bytes_moved = 0, errors = 0;

  void add(const Live& live) noexcept;
};

// Everything a run reports; summed over threads by merge().
struct Totals {
  LiveSample counts;
  Histogram setup;     // connect .. logged in with PBSZ/PROT/TYPE done
  Histogram transfer;  // PASV/EPSV sent or listener opened .. complete (226 and data closed)
  Histogram session;   // sessions mode: connect .. 221
  std::uint64_t control_full = 0, control_resumed = 0;
  std::uint64_t data_full = 0, data_resumed = 0;
  std::uint64_t data_no_close_notify = 0;  // TLS data ended by a bare FIN
  std::uint64_t transfers_cut = 0;         // in flight when the run ended: neither ok nor failed
  std::uint64_t sessions_cut = 0;          // in set-up when the run ended
  std::uint64_t listing_entries = 0;       // mlsd: entries in completed, well-formed listings
  std::uint64_t peak_open = 0;  // most sessions logged in at once (sum of threads' peaks)
  std::map<std::string, std::uint64_t> errors;       // by kind, e.g. "reply 530 to PASS"
  std::map<std::string, std::uint64_t> reply_codes;  // unexpected reply codes, e.g. "530"
  std::string tls_protocol, tls_cipher;              // as negotiated on a control connection

  void merge(const Totals& other);
};

class ThreadStats {
 public:
  Live live;
  Totals totals;  // written by the loop thread only; read after join

  // Counts an error of `kind`; `reply_code` (if not 0) is tallied too.
  void error(const std::string& kind, int reply_code = 0);
  void note_open() noexcept {
    live.sessions_open.add();
    if (live.sessions_open.get() > totals.peak_open) totals.peak_open = live.sessions_open.get();
  }
};

}  // namespace ringftpd::ftpsload
