"""Per-user max_sessions and bandwidth_bytes_per_second (users file), and a
per-listener bandwidth_bytes_per_second (issue 11), held across 2 workers.

- max_sessions = 2 for alice: a third concurrent login of alice gets 530 (and
  stays connected), another user is not affected, and after one of alice's
  sessions logs out a new login works.
- bandwidth_bytes_per_second for bulk: two concurrent downloads of SIZE each,
  on two sessions served by different workers (the test logs in until the
  kernel has given it one on each), share one bucket, so together they cannot
  take less than (2 * SIZE - bursts) / RATE.
- the same for a listener's cap, with users that have no limit of their own.

Lower bounds only: a slow machine takes longer, never shorter.
"""
import ftplib
import os
import signal
import threading
import time

from clients import (CLEAR_CONFIG, FULL_PASS, FULL_USER, HOST, IO_TIMEOUT, RO_PASS, RO_USER,
                     _start_server, close_ftp, password_hash, wait_until, write_file)
from harness import TestCase, status_counters
from test_processes import current_workers

RATE = 2_000_000  # bytes per second
SIZE = 2_000_000  # per download
# What may move beyond the rate: the shared bucket's burst (100 ms of the
# rate), full at the start, and a debt of at most one more burst at the end
# (two workers that saw the same tokens both spent them; a debt is repaid
# before anything moves again, so it never grows past that).
BURST = RATE // 10
SLACK = 2 * BURST
MIN_SECONDS = (2 * SIZE - SLACK) / RATE  # 1.8 s

BULK_USER, BULK_PASS = "bulk", "bulk-pw-3"

USERS = """
[[user]]
name = "{full}"
password = "{full_hash}"
root = "{root}"
permissions = ["all"]
max_sessions = 2

[[user]]
name = "{ro}"
password = "{ro_hash}"
root = "{root}"
permissions = ["list", "read"]

[[user]]
name = "{bulk}"
password = "{bulk_hash}"
root = "{root}"
permissions = ["list", "read"]
bandwidth_bytes_per_second = {rate}
"""


def start_server(ports, extra_listen=""):
    return _start_server("ringftpd-users-", CLEAR_CONFIG, ports, "", extra_listen, "workers = 2",
                         users=USERS, users_args=dict(bulk=BULK_USER,
                                                      bulk_hash=password_hash(BULK_PASS),
                                                      rate=RATE))


class Case(TestCase):
    PORTS = None
    EXTRA_LISTEN = ""

    @classmethod
    def setUpClass(cls):
        cls.srv = start_server(cls.PORTS, cls.EXTRA_LISTEN)
        cls.addClassCleanup(cls.srv.__exit__, None, None, None)
        cls.port = cls.srv.port

    def setUp(self):
        super().setUp()
        self.assertTrue(wait_until(lambda: len(current_workers(self.srv)) == 2, timeout=10))

    def connect(self):
        f = ftplib.FTP(timeout=IO_TIMEOUT)
        f.connect(HOST, self.port)
        self.addCleanup(close_ftp, f)
        return f

    def login(self, user, password):
        f = self.connect()
        f.login(user, password)
        return f

    def active_by_worker(self):
        return {pid: w["sessions_active"] for pid, w in current_workers(self.srv).items()}

    def connect_seen(self):
        """A connection (not logged in) and the pid of the worker that took it."""
        return self.login_seen(None, None)

    def connect_on_other_worker(self, pid, other=True):
        """A connection the kernel gave to a worker other than pid (or to pid
        itself when other is False); the connections it passes by stay open."""
        for _ in range(30):
            f, took = self.connect_seen()
            if (took != pid) == other:
                return f
        self.fail("30 connections in a row went to the same worker")

    def login_seen(self, user, password):
        """A login (none when user is None) and the pid of the worker that took it."""
        before = self.active_by_worker()
        f = self.connect() if user is None else self.login(user, password)
        self.assertTrue(wait_until(
            lambda: sum(self.active_by_worker().values()) > sum(before.values()), timeout=10))
        after = self.active_by_worker()
        return f, next(p for p in after if after[p] > before.get(p, 0))

    def two_on_different_workers(self, user, password):
        """Two sessions of user that the kernel gave to different workers (the
        others opened on the way stay idle)."""
        first, first_pid = self.login_seen(user, password)
        for _ in range(30):
            f, pid = self.login_seen(user, password)
            if pid != first_pid:
                return [first, f]
        self.fail("30 connections in a row went to one worker")

    def parallel_downloads(self, clients, name):
        data = os.urandom(SIZE)
        write_file(os.path.join(self.srv.root, name), data)
        got = [[] for _ in clients]
        errors = []

        def run(f, chunks):
            try:
                f.retrbinary("RETR " + name, chunks.append)
            except Exception as e:  # reported below, in the test's thread
                errors.append(e)

        threads = [threading.Thread(target=run, args=(f, c)) for f, c in zip(clients, got)]
        start = time.monotonic()
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        took = time.monotonic() - start
        self.assertEqual(errors, [])
        for chunks in got:
            self.assertEqual(b"".join(chunks), data)
        return took


class UserLimitsTest(Case):
    PORTS = "33000-33099"

    def test_max_sessions_holds_across_workers(self):
        # One login on each worker; the third is refused on either.
        before = status_counters(self.srv.config_path)
        first, first_pid = self.login_seen(FULL_USER, FULL_PASS)
        second = self.connect_on_other_worker(first_pid)
        second.login(FULL_USER, FULL_PASS)
        for third in (self.connect_on_other_worker(first_pid),
                      self.connect_on_other_worker(first_pid, other=False)):
            with self.assertRaises(ftplib.error_perm) as refused:
                third.login(FULL_USER, FULL_PASS)
            self.assertTrue(
                str(refused.exception).startswith("530 Too many sessions for this user"),
                str(refused.exception))
        # Still connected: the client may try again later.
        self.assertTrue(third.voidcmd("NOOP").startswith("200"))
        self.assertRegex(self.srv.stderr(),
                         r"login of user %s refused: max_sessions \(2\) reached" % FULL_USER)
        # Counted as refusals by the user's limit, not as failed logins.
        figures = status_counters(self.srv.config_path)
        self.assertEqual(
            figures["logins_refused_user_limit"] - before["logins_refused_user_limit"], 2)
        self.assertEqual(figures["logins_failed"], before["logins_failed"])
        # Another user is not affected.
        self.login(RO_USER, RO_PASS).voidcmd("NOOP")
        # One of alice's leaves: a new login works (on whichever worker).
        first.quit()
        self.assertTrue(wait_until(lambda: self.try_login(third), timeout=10))
        second.voidcmd("NOOP")
        # REIN ends a login and gives its place back, too.
        self.assertTrue(second.sendcmd("REIN").startswith("220"))
        fourth = self.login(FULL_USER, FULL_PASS)
        fourth.voidcmd("NOOP")

    def try_login(self, f):
        try:
            f.login(FULL_USER, FULL_PASS)
            return True
        except ftplib.error_perm:
            return False

    def test_killed_workers_give_their_users_logins_back(self):
        held = [self.login(FULL_USER, FULL_PASS) for _ in range(2)]
        with self.assertRaises(ftplib.error_perm):
            self.connect().login(FULL_USER, FULL_PASS)
        victims = list(current_workers(self.srv))
        for pid in victims:
            os.kill(pid, signal.SIGKILL)
        self.assertTrue(wait_until(lambda: len(current_workers(self.srv)) == 2 and
                                   not set(victims) & set(current_workers(self.srv)),
                                   timeout=10))
        self.assertRegex(self.srv.stderr(), r"left \d+ login\(s\) in the per-user table")
        # The master purged the dead workers' logins: alice may log in twice again.
        again = [self.login(FULL_USER, FULL_PASS) for _ in range(2)]
        for f in again:
            f.voidcmd("NOOP")
        del held

    def test_user_bandwidth_is_shared_by_its_sessions(self):
        clients = self.two_on_different_workers(BULK_USER, BULK_PASS)
        took = self.parallel_downloads(clients, "user.bin")
        self.assertGreaterEqual(took, MIN_SECONDS, "2 x %d bytes at %d B/s" % (SIZE, RATE))


class ListenerCapTest(Case):
    PORTS = "33100-33199"
    EXTRA_LISTEN = "bandwidth_bytes_per_second = %d" % RATE

    def test_listener_cap_is_shared_by_all_its_sessions(self):
        # A user with no limit of its own, on two workers.
        clients = self.two_on_different_workers(RO_USER, RO_PASS)
        took = self.parallel_downloads(clients, "cap.bin")
        self.assertGreaterEqual(took, MIN_SECONDS, "2 x %d bytes at %d B/s" % (SIZE, RATE))


if __name__ == "__main__":
    import unittest
    unittest.main()
