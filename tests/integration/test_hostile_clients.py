"""Hostile clients against the real binary (issue 10, "Figures to reach"),
bounded for CI; bench/hostile_network.sh runs the same code longer.

- Never-reading clients: 64 connections from each of 127.0.0.2 and 127.0.0.3
  pipeline commands for 10 s and never read (closed ones reconnect). The
  server's PSS (master, authd, workers) grows by at most 16 MiB, the server
  closes every one of them within its send timeout (plus slack), and a normal
  client meanwhile logs in and downloads with every byte checked.
- Lifecycle churn: 100 cycles per mode (REIN + login, ABOR, disconnect) of a
  slowly read RETR, clear and PROT P: every transfer gets exactly one final
  reply and one xferlog line; within 1 s of the last session's end the worker's
  descriptors and PSS are back at their baseline (+ small slack).
- REIN during a download, the issue's reproduction: ten rounds on one clear
  connection of a 64 MiB RETR cut by REIN, then login again.
"""
import ftplib
import os
import threading
import time
import unittest

from clients import CLEAR_CONFIG, TLS_CONFIG, _start_server, write_file
from harness import TestCase
import hostile

MIB = hostile.MIB
SEND_TIMEOUT = 4  # seconds; [limits] send_timeout_seconds for these servers
CLOSE_SLACK = 6.0  # seconds beyond the send timeout for a close to be seen
PSS_GROWTH_LIMIT_KIB = 16 * 1024
CHURN_PSS_SLACK_KIB = 2 * 1024  # allocator noise after a warm-up, per worker

HOSTILE_LIMITS = """[limits]
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


def send_timeout_line():
    return hostile.send_timeout_line(SEND_TIMEOUT)


def start(kind, ports, workers):
    template = CLEAR_CONFIG if kind == "clear" else TLS_CONFIG
    # The templates end in a [log] table of their own: ours replaces it.
    template = template.replace('[log]\nlevel = "debug"\n', "")
    extra = HOSTILE_LIMITS.format(send_timeout=send_timeout_line())
    return _start_server("ringftpd-hostile-", template, ports, extra, "",
                         "workers = %d\n" % workers)


class HostileCase(TestCase):
    KIND = "clear"
    PORTS = None
    WORKERS = 1

    def setUp(self):
        super().setUp()
        self.srv = start(self.KIND, self.PORTS, self.WORKERS)
        self.addCleanup(self.srv.__exit__, None, None, None)
        self.port = self.srv.port
        self.workers = hostile.wait_workers(self.srv, self.WORKERS)
        self.xferlog = os.path.join(self.srv.tmp, "xferlog")

    def tearDown(self):
        self.assertIsNone(self.srv.proc.poll(), "server died:\n" + self.log_tail())

    def log_tail(self, lines=30):
        return "\n".join(self.srv.stderr().splitlines()[-lines:])


class NeverReadingClientsTest(HostileCase):
    PORTS = "30000-30199"
    WORKERS = 2
    PER_SOURCE = 64
    SECONDS = 10.0

    def test_never_reading_clients_are_bounded_and_closed(self):
        has_send_timeout = bool(send_timeout_line())
        sha = write_file(os.path.join(self.srv.root, "64k.bin"), os.urandom(64 * 1024))
        hostile.normal_downloads(self.port, "64k.bin", sha, count=5)  # warm-up
        master = self.srv.proc.pid
        baseline = min(hostile.tree_pss_kib(master) for _ in range(3))
        attack = hostile.Attack(self.port, per_source=self.PER_SOURCE, seconds=self.SECONDS,
                                drain_seconds=SEND_TIMEOUT + CLOSE_SLACK).start()
        self.addCleanup(attack.stop)
        # Far past the limit the attack stops early (the test fails either way).
        sampler = hostile.PssSampler(master, baseline, 16 * PSS_GROWTH_LIMIT_KIB,
                                     attack.abort).start()
        self.addCleanup(sampler.stop)
        attack_end = time.monotonic() + self.SECONDS
        time.sleep(2.0)  # the attackers are connected and have stopped reading
        normal_error, login_s, times = None, -1.0, []
        try:
            login_s, times = hostile.normal_downloads(self.port, "64k.bin", sha, until=attack_end)
        except (OSError, EOFError, AssertionError, ftplib.Error) as e:
            normal_error = repr(e)
            # What the server said about it (a worker that died, a refusal).
            lines = [l for l in self.srv.stderr().splitlines()
                     if "127.0.0.1" in l or "worker" in l or "error" in l or "refused" in l]
            print("server log around the failure:\n" + "\n".join(lines[-40:]))
        result = attack.result()
        peak = [sampler.stop()]
        growth = peak[0] - baseline
        print("\nnever-reading: baseline %d KiB, peak %d KiB, growth %d KiB; normal client: "
              "login %.3f s, %d downloads, p50 %.1f ms, max %.1f ms, error %s; attack: %r"
              % (baseline, peak[0], growth, login_s, len(times),
                 1000 * hostile.percentile(times, 50) if times else -1,
                 1000 * max(times) if times else -1, normal_error,
                 {k: v for k, v in result.items() if not isinstance(v, list)}))
        self.assertGreaterEqual(result["connections"], 2 * self.PER_SOURCE)
        self.assertEqual(result["connect_errors"], 0)
        self.assertGreater(result["bytes_sent"], 2 * self.PER_SOURCE * 4096,
                           "the attackers sent little: no attack happened")
        self.assertLessEqual(growth, PSS_GROWTH_LIMIT_KIB,
                             "PSS grew by %d KiB under never-reading clients" % growth)
        self.assertIsNone(normal_error, "the normal client failed during the attack")
        self.assertGreater(len(times), 0, "no download finished during the attack")
        self.assertTrue(has_send_timeout,
                        "the server has no [limits] send_timeout_seconds setting")
        self.assertEqual(result["still_open_backed_up"], 0,
                         "%d never-reading connections with replies backed up in the server "
                         "still open %d s after the attack (%d open in all)"
                         % (result["still_open_backed_up"], SEND_TIMEOUT + CLOSE_SLACK,
                            result["still_open"]))
        worst = max(result["close_delays"])
        self.assertLessEqual(worst, SEND_TIMEOUT + CLOSE_SLACK,
                             "a never-reading client was closed only after %.1f s" % worst)
        # The server is still fine for everyone else.
        hostile.normal_downloads(self.port, "64k.bin", sha, count=3)


class ChurnCase(HostileCase):
    """Lifecycle churn on a one-worker server; the worker's descriptors and PSS
    are compared before and after."""
    CYCLES = 100
    FILE_BYTES = 16 * MIB

    def setUp(self):
        super().setUp()
        self.worker = self.workers[0]
        write_file(os.path.join(self.srv.root, "large.bin"), os.urandom(self.FILE_BYTES))

    def run_churn(self, mode, cycles=None, name="large.bin"):
        cycles = cycles or self.CYCLES
        tls = self.KIND == "tls"
        # Warm-up: the same kind of cycles, so pools and caches have their size.
        hostile.churn(self.port, mode, tls, 10, name, per_connection=5)
        # REIN during a transfer aborts it (e636324): its 426 (226 if it had
        # just ended), then REIN's 220.
        return self.measure(mode, lambda: hostile.churn(self.port, mode, tls, cycles, name,
                                                        rein_final_first=True),
                            warm_transfers=10)

    def measure(self, what, run, warm_transfers):
        """Runs run() (a churn()-like dict) between a baseline of the worker and
        its state within 1 s of the end; checks replies, fds, PSS, xferlog."""
        hostile.touch_receive_buffers(self.port, self.KIND == "tls")
        warm_lines = self.wait_xferlog(warm_transfers)
        base_fds = hostile.steady_fd_count(self.worker)
        base_pss = hostile.pss_kib(self.worker)
        r = run()
        fds, pss, waited, ok = hostile.settle(self.worker, base_fds, base_pss,
                                              CHURN_PSS_SLACK_KIB)
        left = hostile.fd_targets(self.worker) if fds > base_fds else []
        lines = self.wait_xferlog(warm_lines + r["transfers"]) - warm_lines
        print("\nchurn %s %s: %d transfers in %.1f s, finals %r; worker fds %d -> %d, "
              "PSS %d -> %d KiB (settled: %s after %.2f s); xferlog lines %d"
              % (self.KIND, what, r["transfers"], r["seconds"], r["finals"], base_fds, fds,
                 base_pss, pss, ok, waited, lines))
        self.assertEqual(r["bad"], [])
        if what != "disconnect":
            self.assertEqual(sum(r["finals"].values()), r["transfers"],
                             "final replies for %d transfers" % r["transfers"])
        self.assertLessEqual(fds, base_fds, "worker descriptors did not return to baseline "
                             "within 1 s:\n" + "\n".join(left))
        self.assertLessEqual(pss - base_pss, CHURN_PSS_SLACK_KIB,
                             "worker PSS did not return to baseline within 1 s")
        self.assertEqual(lines, r["transfers"], "xferlog lines for %d transfers" % r["transfers"])
        return r

    def wait_xferlog(self, expected, timeout=3.0):
        """xferlog line count once it reaches `expected` (or after timeout; a
        count above it is returned at once, and fails the comparison)."""
        deadline = time.monotonic() + timeout
        while True:
            n = len(hostile.xferlog_lines(self.xferlog))
            if n >= expected or time.monotonic() >= deadline:
                return n
            time.sleep(0.05)


class ClearChurnTest(ChurnCase):
    PORTS = "30200-30999"

    def test_rein_cycles(self):
        self.run_churn("rein")

    def test_abor_cycles(self):
        self.run_churn("abor")

    def test_disconnect_cycles(self):
        self.run_churn("disconnect")


class TlsChurnTest(ChurnCase):
    KIND = "tls"
    PORTS = "31000-31799"

    def test_rein_cycles(self):
        self.run_churn("rein")

    def test_abor_cycles(self):
        self.run_churn("abor")

    def test_disconnect_cycles(self):
        self.run_churn("disconnect")


class ReinDuringTransferTest(ChurnCase):
    """The issue's reproduction: one clear control connection, ten rounds of
    login, PASV, RETR of a 64 MiB file read slowly, REIN. Whatever REIN does to
    the transfer (RFC 959 lets it finish; 426 is also defensible), each transfer
    gets exactly one final reply (226 or 426), one xferlog line, and nothing is
    left open afterwards."""
    PORTS = "31800-31899"
    CYCLES = 10
    FILE_BYTES = 64 * MIB

    def test_rein_during_download(self):
        # Warm-up: one round trip of the same kind.
        hostile.rein_rounds(self.port, 1, "large.bin")
        r = self.measure("rein during download",
                         lambda: hostile.rein_rounds(self.port, self.CYCLES, "large.bin",
                                                     rein_final_first=True),
                         warm_transfers=1)
        # A RETR refused (425/450) because the old transfer still runs is
        # allowed (never two transfers on one channel); it is reported.
        print("RETRs refused after REIN: %d; replies that waited for the old data connection "
              "to close: %d" % (r["refused"], r["deferred"]))
        self.assertTrue(set(r["finals"]) <= {226, 426}, r["finals"])


if __name__ == "__main__":
    unittest.main()
