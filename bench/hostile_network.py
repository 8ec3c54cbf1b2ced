"""The hostile-network figures of issue 10 ("Figures to reach"), measured on the
real binary on loopback; driven by bench/hostile_network.sh (see its header).
The clients and the measuring are tests/integration/hostile.py, the code the
bounded CI tests (tests/integration/test_hostile_clients.py) run.
"""
import argparse
import ftplib
import os
import signal
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "integration"))

import harness  # noqa: E402
import hostile  # noqa: E402
from clients import CLEAR_CONFIG, TLS_CONFIG, _start_server, write_file  # noqa: E402

LIMITS = """[limits]
max_sessions_per_address = 1000
error_budget = 10000
max_failed_logins = 1000000
failed_logins_before_delay = 1000000
login_timeout_seconds = 300
{send_timeout}
[log]
level = "info"
xferlog = "@TMP@/xferlog"
"""


def start(kind, ports, workers, send_timeout):
    template = (CLEAR_CONFIG if kind == "clear" else TLS_CONFIG).replace(
        '[log]\nlevel = "debug"\n', "")
    return _start_server("ringftpd-bench-hostile-", template, ports,
                         LIMITS.format(send_timeout=send_timeout), "", "workers = %d\n" % workers)


def ms(values, p):
    return "%.2f" % (1000 * hostile.percentile(values, p)) if values else "n/a"


def attack_figures(args, send_timeout):
    srv = start("clear", "61000-61999", 2, send_timeout)
    try:
        hostile.wait_workers(srv, 2)
        sha = write_file(os.path.join(srv.root, "64k.bin"), os.urandom(64 * 1024))
        hostile.normal_downloads(srv.port, "64k.bin", sha, count=20)  # warm-up
        _, idle = hostile.normal_downloads(srv.port, "64k.bin", sha, count=args.downloads)
        master = srv.proc.pid
        baseline = min(hostile.tree_pss_kib(master) for _ in range(3))
        attack = hostile.Attack(srv.port, per_source=args.per_source, seconds=args.seconds,
                                drain_seconds=args.drain).start()
        sampler = hostile.PssSampler(master, baseline, args.pss_cap_mib * 1024,
                                     attack.abort, interval=0.25).start()
        end = time.monotonic() + args.seconds
        normal_error, login_s, hot = None, -1.0, []
        try:
            time.sleep(min(2.0, args.seconds / 4))
            try:
                login_s, hot = hostile.normal_downloads(srv.port, "64k.bin", sha,
                                                        count=args.downloads, until=end)
            except (OSError, EOFError, AssertionError, ftplib.Error) as e:
                normal_error = repr(e)
            result = attack.result()
        finally:
            attack.stop()
            peak = [sampler.stop()]
        after = hostile.tree_pss_kib(master)
        alive = srv.proc.poll() is None
    finally:
        srv.__exit__(None, None, None)
    delays = result["close_delays"]
    print("\n## Never-reading clients: %d from each of 2 addresses, %.0f s, clear, 2 workers"
          % (args.per_source, args.seconds))
    print("\n| figure | value |\n|---|---|")
    rows = [
        ("send timeout configured", send_timeout or "none (setting unknown to this binary)"),
        ("server PSS before (KiB)", baseline),
        ("server PSS peak during attack (KiB)", peak[0]),
        ("growth (KiB) [target <= 16384]", peak[0] - baseline),
        ("server PSS after attack + drain (KiB)", after),
        ("attack connections made", result["connections"]),
        ("attack bytes sent (MiB)", "%.1f" % (result["bytes_sent"] / hostile.MIB)),
        ("closed by server during attack", result["closed_during_attack"]),
        ("closed by server after attack (<= %.0f s)" % args.drain, result["closed_after_attack"]),
        ("still open %.0f s after the attack" % args.drain if not result["aborted"]
         else "still open (no drain: the attack was stopped early)", result["still_open"]),
        ("stop-reading -> close, median / max (s)",
         "%.1f / %.1f" % (hostile.percentile(delays, 50), max(delays)) if delays else "n/a"),
        ("attack stopped early (PSS growth > %d MiB)" % args.pss_cap_mib,
         "yes, after %.1f s" % result["attack_seconds"] if result["aborted"] else "no"),
        ("server alive", alive),
    ]
    for k, v in rows:
        print("| %s | %s |" % (k, v))
    print("\n| normal client, 64 KiB RETR | idle server | under attack |\n|---|---|---|")
    print("| downloads (sha256 checked) | %d | %d |" % (len(idle), len(hot)))
    print("| p50 (ms) | %s | %s |" % (ms(idle, 50), ms(hot, 50)))
    print("| p99 (ms) | %s | %s |" % (ms(idle, 99), ms(hot, 99)))
    print("| max (ms) | %s | %s |" % (ms(idle, 100), ms(hot, 100)))
    if idle and hot:
        print("| p99 ratio [target <= 2] | | %.2f |"
              % (hostile.percentile(hot, 99) / hostile.percentile(idle, 99)))
    print("| login under attack (ms) | | %s |"
          % ("%.1f" % (1000 * login_s) if login_s >= 0 else "failed"))
    if normal_error:
        print("| normal client error under attack | | %s |" % normal_error.replace("|", "/"))
    sys.stdout.flush()


def churn_figures(args, send_timeout):
    print("\n## Lifecycle churn: %d cycles per mode, one worker, RETR of 16 MiB read slowly"
          % args.cycles)
    print("\n\"rein\" reads the data connection to its end after REIN; \"rein, data unread\" is "
          "the issue's reproduction (%d rounds: the old data connection stays open and unread "
          "until the next RETR is answered)." % args.rein_rounds)
    print("\n| mode | transfers | s | final replies | anomalies | worker fds before -> "
          "1 s after | worker PSS KiB before -> 1 s after | back to baseline | xferlog lines |")
    print("|---|---|---|---|---|---|---|---|---|")
    for kind, ports in (("clear", "62000-63499"), ("tls", "63500-64999")):
        tls = kind == "tls"
        srv = start(kind, ports, 1, send_timeout)
        try:
            worker = hostile.wait_workers(srv, 1)[0]
            write_file(os.path.join(srv.root, "large.bin"), os.urandom(16 * hostile.MIB))
            xferlog = os.path.join(srv.tmp, "xferlog")
            runs = [(mode, lambda m=mode: hostile.churn(srv.port, m, tls, 10, "large.bin",
                                                        per_connection=5),
                     lambda m=mode: hostile.churn(srv.port, m, tls, args.cycles, "large.bin"))
                    for mode in ("rein", "abor", "disconnect")]
            if not tls:
                runs.append(("rein, data unread",
                             lambda: hostile.rein_rounds(srv.port, 2, "large.bin"),
                             lambda: hostile.rein_rounds(srv.port, args.rein_rounds, "large.bin",
                                                         wait=1.0)))
            for label, warm, run in runs:
                try:
                    warm()
                    hostile.touch_receive_buffers(srv.port, tls)
                    time.sleep(0.5)
                    base_fds = hostile.steady_fd_count(worker)
                    base_pss = hostile.pss_kib(worker)
                    lines0 = len(hostile.xferlog_lines(xferlog))
                    r = run()
                except (AssertionError, OSError, EOFError) as e:
                    print("| %s %s | failed: %s |" % (kind, label, repr(e).replace("|", "/")[:200]))
                    continue
                fds, pss, waited, ok = hostile.settle(worker, base_fds, base_pss, 2048)
                time.sleep(2.0)  # the log lines of the last transfers
                lines = len(hostile.xferlog_lines(xferlog)) - lines0
                print("| %s %s | %d | %.1f | %s | %d | %d -> %d | %d -> %d | %s (%.2f s) | %d |"
                      % (kind, label, r["transfers"], r["seconds"],
                         " ".join("%d:%d" % kv for kv in sorted(r["finals"].items())) or "-",
                         len(r["bad"]), base_fds, fds, base_pss, pss, "yes" if ok else "NO",
                         waited, lines))
                sys.stdout.flush()
        finally:
            srv.__exit__(None, None, None)


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--seconds", type=float, default=30.0, help="attack length")
    p.add_argument("--per-source", type=int, default=64, help="connections per address")
    p.add_argument("--downloads", type=int, default=200, help="normal client's RETRs")
    p.add_argument("--send-timeout", type=int, default=10,
                   help="[limits] send_timeout_seconds of the server under attack")
    p.add_argument("--drain", type=float, default=None,
                   help="seconds to wait for closes after the attack (send timeout + 10)")
    p.add_argument("--cycles", type=int, default=1000, help="churn cycles per mode")
    p.add_argument("--rein-rounds", type=int, default=100,
                   help="rounds of the issue's REIN reproduction (data left unread)")
    p.add_argument("--pss-cap-mib", type=int, default=1024,
                   help="end the attack early when the server has grown this much")
    p.add_argument("--only", choices=("attack", "churn"), default=None)
    args = p.parse_args()
    # timeout(1)'s SIGTERM unwinds the finally blocks that stop the servers.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(124))
    if args.drain is None:
        args.drain = args.send_timeout + 10.0
    if not harness.BINARY or not os.access(harness.BINARY, os.X_OK):
        sys.exit("RINGFTPD_BIN must name the ringftpd binary")
    send_timeout = hostile.send_timeout_line(args.send_timeout)
    print("# ringftpd hostile-network figures: %s, %s" % (
        time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()), harness.BINARY))
    if args.only in (None, "attack"):
        attack_figures(args, send_timeout)
    if args.only in (None, "churn"):
        churn_figures(args, send_timeout)


if __name__ == "__main__":
    main()
