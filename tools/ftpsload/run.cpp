#include "tools/ftpsload/run.hpp"

#include <netdb.h>
#include <pthread.h>
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <memory>
#include <stdexcept>
#include <thread>
#include <vector>

#include "tls/library.hpp"
#include "tools/ftpsload/active_data.hpp"
#include "tools/ftpsload/load_loop.hpp"
#include "tools/ftpsload/report.hpp"

namespace ringftpd::ftpsload {
namespace {

// How long after the deadline the loops may take to stop before the run is
// abandoned (they drain within ~2 s; this only guards against a bug).
constexpr auto kGiveUpAfter = std::chrono::seconds(5);
constexpr auto kPoll = std::chrono::milliseconds(100);
constexpr auto kProgressEvery = std::chrono::seconds(1);

// The size and digest of what a download receives: the file, or with --rest
// its tail from that offset on.
void apply_verify_file(Options& o) {
  std::ifstream in(o.verify_file, std::ios::binary);
  if (!in) throw std::runtime_error(o.verify_file + ": " + std::strerror(errno));
  if (o.rest > 0) {
    in.seekg(0, std::ios::end);
    if (static_cast<std::uint64_t>(in.tellg()) < o.rest) {
      throw std::runtime_error(o.verify_file + ": shorter than --rest " + std::to_string(o.rest));
    }
    in.seekg(static_cast<std::streamoff>(o.rest));
  }
  std::vector<char> buf(1 << 20);
  Sha256Hash hash;
  std::uint64_t size = 0;
  while (in) {
    in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
    const auto n = static_cast<std::size_t>(in.gcount());
    hash.update(std::string_view(buf.data(), n));
    size += n;
  }
  if (in.bad()) throw std::runtime_error(o.verify_file + ": read error");
  o.expect_size = size;
  o.expect_sha256 = hash.finish();
}

io::SocketAddress resolve(const std::string& host, std::uint16_t port) {
  if (auto a = io::SocketAddress::parse(host, port)) return *a;
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (const int rc = getaddrinfo(host.c_str(), nullptr, &hints, &found); rc != 0) {
    throw std::runtime_error(host + ": " + gai_strerror(rc));
  }
  io::SocketAddress a;
  std::memcpy(&a.storage, found->ai_addr, found->ai_addrlen);
  a.length = found->ai_addrlen;
  freeaddrinfo(found);
  auto parsed = io::SocketAddress::parse(a.ip(), port);
  if (!parsed) throw std::runtime_error(host + ": unusable address");
  return *parsed;
}

// RLIMIT_NOFILE bounds both the process's fd table and each ring's file
// table (where the loops keep their sockets when they can): raise it to
// `needed`, above the hard limit if we may (root with CAP_SYS_RESOURCE).
// Returns the limit in force.
rlim_t raise_fd_limit(rlim_t needed) {
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return 0;
  if (rl.rlim_cur >= needed) return rl.rlim_cur;
  if (rl.rlim_max < needed) {
    const rlimit want{needed, needed};
    if (setrlimit(RLIMIT_NOFILE, &want) == 0) return needed;
  }
  rl.rlim_cur = std::min(rl.rlim_max, needed);
  if (setrlimit(RLIMIT_NOFILE, &rl) != 0) (void)getrlimit(RLIMIT_NOFILE, &rl);
  return rl.rlim_cur;
}

// Many connections from one address to one server port make the kernel's
// search for a free ephemeral port long (most of a connect's CPU past ~10 000
// connections here) and end at ~28 000. Against a loopback server, spread
// them over 127.0.0.x unless --bind chose.
void maybe_spread_sources(Plan& plan) {
  constexpr unsigned kAutoSpreadAbove = 10000;
  constexpr unsigned kPerSource = 2500;
  const Options& o = plan.options;
  const unsigned connections = o.concurrency * (o.mode == Mode::Idle ? 1 : 2);
  if (!plan.sources.empty() || connections <= kAutoSpreadAbove || plan.server.family() != AF_INET ||
      plan.server.ip().rfind("127.", 0) != 0) {
    return;
  }
  const unsigned n = std::min(254u, (connections + kPerSource - 1) / kPerSource);
  for (unsigned i = 1; i <= n; ++i) {
    plan.sources.push_back(*io::SocketAddress::parse("127.0.0." + std::to_string(i), 0));
  }
  std::fprintf(stderr,
               "ftpsload: %u connections: source addresses 127.0.0.1-127.0.0.%u "
               "(--bind to choose)\n",
               connections, n);
}

Plan make_plan(Options o) {
  if (!o.verify_file.empty()) apply_verify_file(o);
  Plan plan;
  plan.options = std::move(o);
  const Options& opt = plan.options;
  plan.server = resolve(opt.host, opt.port);
  for (const auto& ip : opt.bind) {
    auto a = io::SocketAddress::parse(ip, 0);
    if (!a) throw std::runtime_error("--bind: bad address " + ip);
    plan.sources.push_back(*a);
  }
  maybe_spread_sources(plan);
  if (is_active(opt.data_command)) {
    // The listener of an active-mode transfer must be on the control
    // connection's own address (the server checks PORT/EPRT against it), so
    // every control connection gets a known source.
    if (opt.data_command == DataCommand::Port && plan.server.family() != AF_INET) {
      throw std::runtime_error("PORT cannot name an IPv6 address: use --data eprt");
    }
    if (plan.sources.empty()) {
      auto source = route_source(plan.server);
      if (!source) throw std::runtime_error("no local address to reach " + opt.host);
      plan.sources.push_back(*source);
    }
  }
  plan.timeout =
      std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(opt.timeout_s));
  plan.keepalive =
      std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(opt.keepalive_s));
  return plan;
}

bool achieved_something(const Options& o, const LiveSample& c) {
  switch (o.mode) {
    case Mode::Idle:
      return c.sessions_up > 0;
    case Mode::Sessions:
      return c.sessions_done > 0;
    default:
      return c.transfers_ok > 0;
  }
}

double seconds_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

}  // namespace

int run(Options options) {
  const Plan plan = make_plan(std::move(options));
  const Options& o = plan.options;
  // Control, data, and in active mode the listener of a transfer (an
  // ordinary fd, never in a ring's table).
  const unsigned per_connection = o.mode == Mode::Idle ? 1 : is_active(o.data_command) ? 3 : 2;
  const rlim_t wanted = static_cast<rlim_t>(o.concurrency) * per_connection + 64;
  const rlim_t fd_limit = raise_fd_limit(wanted);

  // Blocked before any thread exists, so every thread inherits the mask and
  // only the sigtimedwait below takes them.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  tls::Library library;
  RunControl control(o.count);
  std::vector<std::unique_ptr<LoadLoop>> loops;
  const unsigned per_thread_ramp = std::max(1u, o.ramp / o.threads);
  for (unsigned t = 0, first = 0; t < o.threads; ++t) {
    const unsigned n = o.concurrency / o.threads + (t < o.concurrency % o.threads ? 1 : 0);
    loops.push_back(std::make_unique<LoadLoop>(plan, control, n, first, per_thread_ramp));
    first += n;
  }
  // With every socket in a ring's table, only the per-ring table size must
  // fit the limit; otherwise the whole process's connections must.
  const bool all_fixed =
      std::all_of(loops.begin(), loops.end(), [](auto& l) { return l->uses_fixed_files(); });
  if (!all_fixed && fd_limit < wanted) {
    std::fprintf(stderr,
                 "ftpsload: warning: RLIMIT_NOFILE is %llu and some connections need ordinary "
                 "fds (~%llu wanted); connections beyond the limit fail. More --threads "
                 "split the load over more rings.\n",
                 static_cast<unsigned long long>(fd_limit),
                 static_cast<unsigned long long>(wanted));
  }

  const Clock::time_point start = Clock::now();
  const Clock::time_point deadline = o.duration_s > 0
                                         ? start + std::chrono::duration_cast<Clock::duration>(
                                                       std::chrono::duration<double>(o.duration_s))
                                         : Clock::time_point::max();
  control.set_deadline(deadline);
  std::vector<std::thread> threads;
  for (auto& loop : loops) threads.emplace_back([l = loop.get()] { l->run(); });

  FILE* progress = o.json ? stderr : stdout;
  const bool progress_tty = isatty(fileno(progress)) == 1;
  if (o.quiet || (o.json && !progress_tty)) progress = nullptr;
  LiveSample before;
  Clock::time_point last_progress = start;
  bool interrupted = false;
  double all_up_s = -1;
  for (;;) {
    const timespec wait{0, std::chrono::nanoseconds(kPoll).count()};
    if (sigtimedwait(&stop_signals, nullptr, &wait) > 0) {
      if (interrupted) _exit(130);  // a second ^C: now
      interrupted = true;
      control.request_stop();
    }
    const Clock::time_point now = Clock::now();
    if (std::all_of(loops.begin(), loops.end(), [](auto& l) { return l->has_finished(); })) break;
    LiveSample sample;
    for (auto& loop : loops) sample.add(loop->stats().live);
    if (o.mode == Mode::Idle && all_up_s < 0 && sample.sessions_started >= o.concurrency &&
        sample.sessions_setting_up == 0 && now < deadline) {
      // Once, whatever the output options: a script measuring the server
      // waits for this line (stderr unless the progress goes to stdout).
      all_up_s = seconds_between(start, now);
      FILE* out = progress != nullptr ? progress : stderr;
      std::fprintf(out, "%sready: %llu of %u sessions logged in after %.2fs\n",
                   progress != nullptr && progress_tty ? "\r\033[K" : "",
                   static_cast<unsigned long long>(sample.sessions_open), o.concurrency, all_up_s);
      std::fflush(out);
    }
    if (progress != nullptr && now - last_progress >= kProgressEvery) {
      const std::string line = progress_line(o, sample, before, seconds_between(start, now),
                                             seconds_between(last_progress, now));
      std::fprintf(progress, progress_tty ? "\r%s\033[K" : "%s\n", line.c_str());
      std::fflush(progress);
      before = sample;
      last_progress = now;
    }
    if (deadline != Clock::time_point::max() && now > deadline + kGiveUpAfter) {
      std::fprintf(stderr,
                   "\nftpsload: the event loops did not stop within 5 s of the end; "
                   "giving up without a report\n");
      _exit(kExitErrors);
    }
  }
  if (progress != nullptr && progress_tty) std::fputs("\r\033[K", progress);
  for (auto& t : threads) t.join();

  Totals totals;
  Clock::time_point end = start;
  for (auto& loop : loops) {
    Totals t = loop->stats().totals;
    t.counts = {};
    t.counts.add(loop->stats().live);
    totals.merge(t);
    end = std::max(end, loop->end_time());
    if (loop->late_completions() > 0) {
      std::fprintf(stderr, "ftpsload: bug: %llu completions for finished sessions\n",
                   static_cast<unsigned long long>(loop->late_completions()));
    }
  }
  const RunFacts facts{seconds_between(start, end), all_up_s, interrupted, o.threads};
  const std::string report =
      o.json ? json_report(o, totals, facts) + "\n" : text_report(o, totals, facts);
  std::fputs(report.c_str(), stdout);
  std::fflush(stdout);
  if (totals.counts.errors > 0) return kExitErrors;
  if (!achieved_something(o, totals.counts)) {
    std::fprintf(stderr, "ftpsload: nothing completed\n");
    return kExitErrors;
  }
  return kExitOk;
}

}  // namespace ringftpd::ftpsload
