"""The process model (DESIGN.md §2, server/process/): a master, authd and two
workers. Sessions spread over the workers and resume each other's TLS
sessions through the shared cache; a worker or authd killed with SIGKILL is
replaced while the other sessions go on; SIGHUP reloads the banner and the
certificate without dropping anyone; SIGTERM lets a download finish; as root,
the workers are `nobody` and cannot read the users file."""
import concurrent.futures
import hashlib
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import threading
import time
import unittest

from clients import (FULL_PASS, FULL_USER, HOST, IO_TIMEOUT, PROC_TIMEOUT, ReusingFTP_TLS,
                     TlsServerCase, close_ftp, sha256_bytes, start_tls_server, tls_client_context,
                     wait_until, write_file)
from harness import IS_ROOT, RUN_AS, ControlConnection, run_binary
from harness import TestCase as HarnessCase

TWO_WORKERS = 'workers = 2\nbanner = "first banner"\n'


def status(srv):
    """The master's counters via `ringftpd --status`: (totals, workers), where
    workers maps pid -> {"slot", "generation", "retiring", counter: value}."""
    r = run_binary(["--status", "--config", srv.config_path])
    if r.returncode != 0:
        raise AssertionError("--status failed: " + r.stderr)
    totals, workers = {}, {}
    for line in r.stdout.splitlines():
        m = re.match(r"worker (\d+) pid (\d+) generation (\d+)( retiring)?: (.*)", line)
        if m:
            w = {"slot": int(m.group(1)), "generation": int(m.group(3)),
                 "retiring": bool(m.group(4))}
            for kv in m.group(5).split():
                k, v = kv.split("=")
                w[k] = int(v)
            workers[int(m.group(2))] = w
        elif " " in line:
            k, v = line.split(" ", 1)
            if v.isdigit():
                totals[k] = int(v)
    return totals, workers


def current_workers(srv):
    return {pid: w for pid, w in status(srv)[1].items() if not w["retiring"]}


def tls_control(port, session=None, version=None, context=None):
    """A TLS control connection (AUTH TLS), optionally resuming `session`;
    returns (ControlConnection, banner text)."""
    c = ControlConnection(port)
    code, banner = c.reply()
    assert code == 220, banner
    code, text = c.command("AUTH TLS")
    assert code == 234, text
    ctx = context or tls_client_context(version)
    c.sock = ctx.wrap_socket(c.sock, server_hostname=HOST, session=session)
    return c, banner


def login(c):
    assert c.command("USER " + FULL_USER)[0] == 331
    code, text = c.command("PASS " + FULL_PASS)
    assert code == 230, text


class ProcessCase(TlsServerCase):
    """A fresh two-worker TLS server per test (the tests kill and reload it)."""
    EXTRA_TOP = TWO_WORKERS

    @classmethod
    def setUpClass(cls):
        pass

    def setUp(self):
        HarnessCase.setUp(self)  # not the shared-server checks of TlsServerCase
        self.srv = start_tls_server(self.PORTS, self.EXTRA, self.EXTRA_LISTEN, self.EXTRA_TOP)
        self.addCleanup(self.srv.__exit__, None, None, None)
        self.port = self.srv.port
        self.root = self.srv.root
        wait_until(lambda: len(current_workers(self.srv)) == 2, timeout=10)

    def tearDown(self):
        pass  # a test may have stopped the server on purpose


class SpreadAndResumeTest(ProcessCase):
    PORTS = "29200-29299"

    def test_sessions_spread_and_resume_across_workers(self):
        ctx = tls_client_context("1.2")  # a session resumes only in its own context
        # No tickets: resumption by session ID, through the shared session cache.
        ctx.options |= ssl.OP_NO_TICKET
        first, _ = tls_control(self.port, context=ctx)
        login(first)
        session = first.sock.session
        resumed = 0
        for _ in range(16):
            c, _ = tls_control(self.port, session=session, context=ctx)
            resumed += c.sock.session_reused
            login(c)
            c.command("QUIT")
            c.close()
        first.command("QUIT")
        first.close()
        self.assertEqual(resumed, 16, "every control connection resumes the first session")
        workers = current_workers(self.srv)
        self.assertEqual(len(workers), 2)
        for pid, w in workers.items():
            # 17 connections, hashed by source port: both workers get some
            # (all on one: odds 2^-16), and each resumed the other's session.
            self.assertGreater(w["sessions_total"], 0, "worker %d served nobody" % pid)
        totals, _ = status(self.srv)
        self.assertEqual(totals["control_tls_resumed"], 16)
        self.assertGreater(totals["tls_cache_hits"], 0)
        resumed_by = [w["control_tls_resumed"] for w in workers.values()]
        self.assertTrue(all(n > 0 for n in resumed_by),
                        "each worker resumed a session: %r" % resumed_by)

    def test_tls13_tickets_resume_on_both_workers_and_data_reuse_holds(self):
        sha = write_file(os.path.join(self.root, "spread.bin"), os.urandom(200_000))
        for _ in range(8):
            f = self.ftps("1.3")
            chunks = []
            f.retrbinary("RETR spread.bin", chunks.append)
            self.assertEqual(sha256_bytes(b"".join(chunks)), sha)
            self.assertTrue(f.last_data_resumed)
            f.quit()
        totals, workers = status(self.srv)
        self.assertEqual(totals["data_tls_resumed"], 8)
        self.assertEqual(totals["transfers_ok"], 8)
        self.assertTrue(all(w["sessions_total"] > 0 for w in workers.values()))


def slow_download(port, name, results, key, version="1.3", pause=0.02):
    """Downloads `name` reading slowly; results[key] = sha256 hex or the error."""
    try:
        f = ReusingFTP_TLS(context=tls_client_context(version), timeout=IO_TIMEOUT)
        f.connect(HOST, port)
        f.login(FULL_USER, FULL_PASS)
        f.prot_p()
        h = hashlib.sha256()

        def take(chunk):
            h.update(chunk)
            time.sleep(pause)

        f.retrbinary("RETR " + name, take, blocksize=64 * 1024)
        results[key] = h.hexdigest()
        close_ftp(f)
    except Exception as e:  # noqa: BLE001 - the test inspects what went wrong
        results[key] = e


class WorkerKillTest(ProcessCase):
    PORTS = "29300-29399"

    def test_kill_9_worker_mid_transfer(self):
        data = os.urandom(24 << 20)
        sha = write_file(os.path.join(self.root, "big.bin"), data)
        results = {}
        threads = [threading.Thread(target=slow_download, args=(self.port, "big.bin", results, i))
                   for i in range(8)]
        for t in threads:
            t.start()
        # Wait until every download is running, then kill a worker whose
        # death leaves at least one download on the other.
        self.assertTrue(wait_until(lambda: status(self.srv)[0].get("sessions_active", 0) == 8,
                                   timeout=15))
        workers = current_workers(self.srv)
        victim = max(workers, key=lambda pid: workers[pid]["sessions_active"])
        survivor_sessions = sum(w["sessions_active"] for p, w in workers.items() if p != victim)
        os.kill(victim, signal.SIGKILL)
        for t in threads:
            t.join(timeout=120)
        self.assertFalse(any(t.is_alive() for t in threads), "a download hung")
        good = [r for r in results.values() if r == sha]
        wrong = [r for r in results.values() if isinstance(r, str) and r != sha]
        self.assertEqual(wrong, [], "a download completed with wrong bytes")
        self.assertGreaterEqual(len(good), survivor_sessions,
                                "the other worker's downloads must finish: %r" % results)
        self.assertIn("killed by signal 9", self.srv.stderr())
        # A replacement takes the slot, and new sessions are served (several,
        # so both workers' sockets are exercised).
        self.assertTrue(wait_until(lambda: len(current_workers(self.srv)) == 2 and
                                   victim not in current_workers(self.srv), timeout=10))
        small = write_file(os.path.join(self.root, "small.bin"), b"after the kill\n" * 100)
        for _ in range(6):
            f = self.ftps("1.3")
            chunks = []
            f.retrbinary("RETR small.bin", chunks.append)
            self.assertEqual(sha256_bytes(b"".join(chunks)), small)
            f.quit()

    def test_kill_9_authd(self):
        totals, _ = status(self.srv)
        authd = totals["authd_pid"]
        os.kill(authd, signal.SIGKILL)
        self.assertTrue(wait_until(lambda: status(self.srv)[0]["authd_pid"] not in (0, authd),
                                   timeout=10), self.srv.stderr()[-2000:])
        # Logins work again (a login racing the restart may get a clean 530).
        deadline = time.monotonic() + 10
        while True:
            c, _ = tls_control(self.port)
            c.command("USER " + FULL_USER)
            code, text = c.command("PASS " + FULL_PASS)
            c.close()
            if code == 230 or time.monotonic() > deadline:
                break
            self.assertEqual(code, 530, text)
            time.sleep(0.2)
        self.assertEqual(code, 230, text)
        self.assertIn("authd killed by signal 9", self.srv.stderr())


def make_certificate(directory, name, cn):
    key, crt = os.path.join(directory, name + ".key"), os.path.join(directory, name + ".crt")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-days", "2", "-subj", "/CN=" + cn,
                    "-keyout", key, "-out", crt], check=True, capture_output=True,
                   timeout=PROC_TIMEOUT, stdin=subprocess.DEVNULL)
    return crt, key


def server_certificate_sha(port):
    c, banner = tls_control(port)
    der = c.sock.getpeercert(binary_form=True)
    c.close()
    return hashlib.sha256(der).hexdigest(), banner


class ReloadTest(ProcessCase):
    PORTS = "29400-29499"
    CERTS = None

    @classmethod
    def setUpClass(cls):
        cls.CERTS = tempfile.mkdtemp(prefix="ringftpd-reload-certs-")
        cls.addClassCleanup(shutil.rmtree, cls.CERTS, True)
        cls.first = make_certificate(cls.CERTS, "first", "first.example")
        cls.second = make_certificate(cls.CERTS, "second", "second.example")
        cls.EXTRA = '[tls]\ncertificate = "%s"\nprivate_key = "%s"\n' % cls.first

    def rewrite_config(self, old, new):
        with open(self.srv.config_path) as f:
            text = f.read()
        self.assertIn(old, text)
        with open(self.srv.config_path, "w") as f:
            f.write(text.replace(old, new))

    def test_sighup_new_banner_and_certificate_open_session_keeps_working(self):
        sha = write_file(os.path.join(self.root, "r.bin"), os.urandom(300_000))
        before_sha, banner = server_certificate_sha(self.port)
        self.assertIn("first banner", banner)
        f = self.ftps("1.3")  # an open session, on the old generation
        self.rewrite_config('banner = "first banner"', 'banner = "second banner"')
        self.rewrite_config(self.first[0], self.second[0])
        self.rewrite_config(self.first[1], self.second[1])
        old_pids = set(current_workers(self.srv))
        self.srv.proc.send_signal(signal.SIGHUP)
        self.assertTrue(wait_until(
            lambda: len(current_workers(self.srv)) == 2 and
            not (set(current_workers(self.srv)) & old_pids), timeout=10), self.srv.stderr()[-3000:])
        # New sessions see the new banner and certificate.
        after_sha, banner = server_certificate_sha(self.port)
        self.assertIn("second banner", banner)
        self.assertNotEqual(before_sha, after_sha)
        # The old session goes on: a transfer with data-connection reuse.
        chunks = []
        f.retrbinary("RETR r.bin", chunks.append)
        self.assertEqual(sha256_bytes(b"".join(chunks)), sha)
        self.assertEqual(f.voidcmd("NOOP")[:3], "200")
        f.quit()
        # Its worker, retiring, leaves once the session has ended.
        self.assertTrue(wait_until(lambda: not (set(status(self.srv)[1]) & old_pids),
                                   timeout=10))

    def test_broken_reload_is_refused_and_the_old_snapshot_stays(self):
        old_pids = set(current_workers(self.srv))
        self.rewrite_config('banner = "first banner"', 'banner = "second banner"\nworkers = "x"')
        self.srv.proc.send_signal(signal.SIGHUP)
        self.assertTrue(wait_until(lambda: "reload refused" in self.srv.stderr(), timeout=10))
        self.assertRegex(self.srv.stderr(), r"reload refused.*ringftpd\.toml:\d+:\d+")
        # (--status reads the config file for the pid file's place: mend it.)
        self.rewrite_config('workers = "x"', "")
        self.assertEqual(set(current_workers(self.srv)), old_pids)
        _, banner = server_certificate_sha(self.port)
        self.assertIn("first banner", banner)


class StopTest(ProcessCase):
    PORTS = "29500-29599"
    EXTRA = "[limits]\nshutdown_grace_seconds = 20\n"

    def test_sigterm_lets_a_download_finish(self):
        data = os.urandom(8 << 20)
        sha = write_file(os.path.join(self.root, "drain.bin"), data)
        results = {}
        t = threading.Thread(target=slow_download,
                             args=(self.port, "drain.bin", results, "d", "1.3", 0.02))
        t.start()
        self.assertTrue(wait_until(lambda: status(self.srv)[0].get("logins_ok", 0) == 1,
                                   timeout=10))
        time.sleep(0.5)  # the transfer is under way (8 MiB at ~3 MB/s: ~3 s)
        idle, _ = tls_control(self.port)
        login(idle)
        started = time.monotonic()
        self.srv.proc.send_signal(signal.SIGTERM)
        # The idle session is told at once.
        code, text = idle.reply()
        self.assertEqual(code, 421, text)
        t.join(timeout=60)
        self.assertEqual(results.get("d"), sha, "the download must complete: %r" % results)
        self.srv.proc.wait(timeout=20)
        self.assertEqual(self.srv.proc.returncode, 0)
        self.assertLess(time.monotonic() - started, 20)


@unittest.skipUnless(IS_ROOT, "privilege separation needs root")
class PrivilegeTest(ProcessCase):
    PORTS = "29600-29699"

    def test_workers_run_as_run_as_and_cannot_read_the_users_file(self):
        import pwd
        nobody = pwd.getpwnam(RUN_AS).pw_uid
        nogroup = pwd.getpwnam(RUN_AS).pw_gid
        totals, workers = status(self.srv)
        for pid in workers:
            with open("/proc/%d/status" % pid) as f:
                uids = re.search(r"^Uid:\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)", f.read(), re.M).groups()
            self.assertEqual(set(int(u) for u in uids), {nobody})
        users = os.path.join(self.srv.tmp, "users.toml")
        r = subprocess.run(["setpriv", "--reuid", str(nobody), "--regid", str(nogroup), "--clear-groups",
                            "cat", users], capture_output=True, timeout=PROC_TIMEOUT)
        self.assertNotEqual(r.returncode, 0, "the run_as user can read the users file")
        with open("/proc/%d/status" % totals["authd_pid"]) as f:
            self.assertRegex(f.read(), r"(?m)^NoNewPrivs:\s+1")
        # And yet logins work: authd reads the file.
        f = self.ftps("1.2")
        f.quit()


if __name__ == "__main__":
    unittest.main()
