#include "server/process/sharedd.hpp"

#include <poll.h>
#include <signal.h>
#include <string.h>  // explicit_bzero
#include <sys/signalfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <system_error>

#include "io/unique_fd.hpp"
#include "server/shared/redis_link.hpp"
#include "server/shared/session_export.hpp"
#include "server/shared/session_import.hpp"
#include "server/shared/ticket_key_sync.hpp"
#include "tls/random.hpp"
#include "tls/shared_record.hpp"

namespace ringftpd::server {
namespace {

constexpr char kWho[] = "sharedd";
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

constexpr auto kRoundPeriod = 1s;
// Sessions queued by the workers are copied this often, at most kExportBatch
// at a time (the queue holds kExportSlots: SharedTlsOptions::export_slots).
constexpr auto kExportPeriod = 20ms;
constexpr std::uint32_t kExportBatch = 128;
// A secret or password file larger than this is not one.
constexpr std::size_t kMaxSecretFileBytes = 4096;

std::string read_small_file(const std::string& path, std::string_view what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error(std::string(what) + " " + path + " cannot be read");
  std::string data;
  data.resize(kMaxSecretFileBytes + 1);
  in.read(data.data(), static_cast<std::streamsize>(data.size()));
  data.resize(static_cast<std::size_t>(in.gcount()));
  if (data.size() > kMaxSecretFileBytes) {
    explicit_bzero(data.data(), data.size());
    throw std::runtime_error(std::string(what) + " " + path + " is larger than " +
                             std::to_string(kMaxSecretFileBytes) + " bytes");
  }
  return data;
}

// The lease value: unique to this process, and says who holds it.
std::string holder_name() {
  char host[256] = {};
  (void)gethostname(host, sizeof host - 1);
  std::uint8_t r[4] = {};
  try {
    tls::Random rng;
    (void)rng.fill(r);
  } catch (...) {
  }
  char tail[16];
  std::snprintf(tail, sizeof tail, "%02x%02x%02x%02x", r[0], r[1], r[2], r[3]);
  return std::string(host) + "/" + std::to_string(getpid()) + "/" + tail;
}

// Turns rounds into counters and log lines; logs changes, not every round.
class Reporter {
 public:
  Reporter(Log& log, CounterRegion& counters, std::string where)
      : log_(log), counters_(counters), where_(std::move(where)) {}

  [[nodiscard]] bool is_up() const noexcept { return state_ == State::Up; }

  void on_export(const shared::ExportRound& r, std::uint64_t queue_full) {
    counters_.add_to_totals(Counter::SharedSessionsStored, r.stored);
    counters_.add_to_totals(Counter::SharedSessionsDropped, r.dropped + queue_full);
    if (!r.error.empty() && state_ == State::Up && !export_failing_) {
      log_.warn(kWho, "cannot copy TLS sessions to Redis: " + r.error);
    }
    export_failing_ = !r.error.empty();
  }

  void on_import(const shared::ImportRound& r) {
    if (r.rejected != 0) {
      counters_.add_to_totals(Counter::SharedRecordsRejected, r.rejected);
      log_.warn(kWho, "ignored " + std::to_string(r.rejected) +
                          " TLS session record(s) in Redis that do not open with our secret");
    }
  }

  void on_round(const shared::SyncRound& r) {
    if (!r.ok) {
      counters_.add_to_totals(Counter::SharedRedisErrors, 1);
      if (state_ != State::Down) {
        log_.warn(kWho, "Redis " + where_ + " unreachable (" + r.error +
                            "): this host keeps its local ticket keys; TLS sessions resume "
                            "only on the host that made them until Redis is back");
      }
      state_ = State::Down;
      return;
    }
    if (state_ != State::Up) {
      log_.info(kWho, std::string("Redis ") + where_ + " reachable: sharing TLS ticket keys (" +
                          (r.leader ? "this host rotates them" : "following the rotation") + ")");
    }
    state_ = State::Up;
    if (r.lease_won) {
      counters_.add_to_totals(Counter::SharedLeaseWins, 1);
      log_.info(kWho, "took the ticket key lease: this host rotates the cluster's keys");
    }
    if (r.published != 0) {
      counters_.add_to_totals(Counter::SharedKeysPublished, r.published);
      log_.info(kWho, "published a new ticket key");
    }
    if (r.picked != 0) counters_.add_to_totals(Counter::SharedKeyPicks, r.picked);
    if (r.rejected != 0) {
      counters_.add_to_totals(Counter::SharedRecordsRejected, r.rejected);
      std::string fields;
      for (const auto& f : r.rejected_fields) fields += (fields.empty() ? "" : ", ") + f;
      log_.warn(kWho, "ignored " + std::to_string(r.rejected) +
                          " ticket key record(s) in Redis that are not ours: " + fields);
    }
    if (r.adopt_failed) log_.warn(kWho, "could not lock the shared TLS state; retrying");
  }

 private:
  enum class State { Unknown, Up, Down };
  Log& log_;
  CounterRegion& counters_;
  std::string where_;
  State state_ = State::Unknown;
  bool export_failing_ = false;
};

}  // namespace

SharedSecrets read_shared_secrets(const config::SharedSettings& settings) {
  SharedSecrets out;
  std::string secret = read_small_file(settings.secret_file, "shared.secret_file");
  if (secret.size() < tls::kMinSharedSecretBytes) {
    explicit_bzero(secret.data(), secret.size());
    throw std::runtime_error("shared.secret_file " + settings.secret_file + " holds fewer than " +
                             std::to_string(tls::kMinSharedSecretBytes) +
                             " bytes (e.g. head -c 32 /dev/urandom | base64 > it)");
  }
  out.secret.assign(secret.begin(), secret.end());
  explicit_bzero(secret.data(), secret.size());
  if (!settings.redis_password_file.empty()) {
    std::string text = read_small_file(settings.redis_password_file, "shared.redis_password_file");
    const auto end = text.find_first_of("\r\n");
    out.redis_password = text.substr(0, end);
    explicit_bzero(text.data(), text.size());
    if (out.redis_password.empty()) {
      throw std::runtime_error("shared.redis_password_file " + settings.redis_password_file +
                               " is empty");
    }
  }
  return out;
}

int run_sharedd(SharedSetup setup, Log& log) noexcept {
  try {
    if (setup.run_as) drop_privileges(*setup.run_as);
    exit_with_master(setup.master);  // after the identity change, which clears it
    forbid_new_privileges();
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    io::UniqueFd signals(signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK));
    if (!signals) throw std::system_error(errno, std::generic_category(), "signalfd");

    tls::RecordSealer sealer(setup.secrets.secret);
    explicit_bzero(setup.secrets.secret.data(), setup.secrets.secret.size());
    shared::RedisLinkOptions link_options;
    link_options.endpoint = setup.settings.redis;
    link_options.user = setup.settings.redis_user;
    link_options.password = std::move(setup.secrets.redis_password);
    link_options.timeout = std::chrono::milliseconds(setup.settings.redis_timeout_ms);
    shared::RedisLink redis(std::move(link_options));

    shared::TicketKeySyncOptions sync_options;
    sync_options.prefix = setup.settings.key_prefix;
    sync_options.holder = holder_name();
    sync_options.rotation = setup.rotation;
    sync_options.lifetime = setup.lifetime;
    // A round takes at most a few commands' timeouts; the lease and the
    // hold outlast two rounds so a live leader and a live follower keep them.
    const auto round_bound =
        kRoundPeriod + 6 * std::chrono::milliseconds(setup.settings.redis_timeout_ms);
    sync_options.lease = 2 * round_bound + 1s;
    sync_options.hold = 2 * round_bound + 1s;
    shared::TicketKeySync sync(std::move(sync_options), sealer, *setup.tls_state);
    std::optional<shared::SessionExport> exports;
    std::optional<shared::SessionImport> imports;
    if (setup.settings.session_ids) {
      exports.emplace(setup.settings.key_prefix, sealer, *setup.tls_state);
      imports.emplace(setup.settings.key_prefix, sealer, *setup.tls_state);
    }
    std::uint32_t lookups_seen = setup.tls_state->lookup_signal();
    std::uint64_t queue_full_seen = setup.tls_state->stats().exports_dropped;
    Reporter reporter(log, *setup.counters, redis.describe());
    log.info(kWho, "sharing TLS state through Redis " + redis.describe() + " under \"" +
                       setup.settings.key_prefix + ":\" (pid " + std::to_string(getpid()) + ")");
    log.flush();

    auto next_round = Clock::now();
    auto next_export = Clock::now() + kExportPeriod;
    for (;;) {
      const auto now = Clock::now();
      // Workers wait on these (a few milliseconds at most): first, always.
      if (imports) {
        reporter.on_import(
            imports->serve(redis, reporter.is_up(), now, std::chrono::system_clock::now()));
      }
      if (now >= next_round) {
        reporter.on_round(sync.run(redis, now, std::chrono::system_clock::now()));
        next_round = Clock::now() + kRoundPeriod;
        log.flush();
        continue;
      }
      if (exports && now >= next_export) {
        const std::uint64_t queue_full = setup.tls_state->stats().exports_dropped;
        reporter.on_export(exports->drain(redis, reporter.is_up(), kExportBatch, now,
                                          std::chrono::system_clock::now()),
                           queue_full - queue_full_seen);
        queue_full_seen = queue_full;
        next_export = Clock::now() + kExportPeriod;
        log.flush();
        continue;
      }
      const auto until = exports ? std::min(next_round, next_export) : next_round;
      const auto wait =
          std::chrono::duration_cast<std::chrono::milliseconds>(until - now).count() + 1;
      if (imports) {
        // Sleeps on the lookup futex: a worker's request wakes it at once.
        // SIGTERM is seen within one wait (at most kExportPeriod).
        (void)setup.tls_state->wait_for_lookups(lookups_seen, std::chrono::milliseconds(wait));
      } else {
        pollfd p{signals.get(), POLLIN, 0};
        if (poll(&p, 1, static_cast<int>(wait)) < 0 && errno != EINTR) {
          throw std::system_error(errno, std::generic_category(), "poll");
        }
      }
      signalfd_siginfo info{};
      if (read(signals.get(), &info, sizeof info) == static_cast<ssize_t>(sizeof info) &&
          info.ssi_signo == SIGTERM) {
        break;
      }
    }
    log.info(kWho, "stopping");
  } catch (const std::exception& e) {
    log.error(kWho, std::string("fatal: ") + e.what());
    log.drain(std::chrono::milliseconds(200));
    return 1;
  }
  log.drain(std::chrono::milliseconds(200));
  return 0;
}

}  // namespace ringftpd::server
