"""ftpsload, black-box: the real binary against the real ringftpd (downloads
verified by size and SHA-256, sessions, uploads checked on disk, LIST, idle
sessions, the reuse requirement, a wrong password), and against fake servers
written here that misbehave: garbage instead of a greeting, an early close, a
server that never answers, non-TLS bytes after 234, wrong or short data, a
stalled transfer. Each must give a non-zero exit, the right error kinds, and
a run that ends on time.

Every subprocess has a timeout and every fake server thread a bound, so a
hang fails a test instead of hanging the run.
"""
import hashlib
import json
import os
import socket
import subprocess
import sys
import threading
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))

from clients import FULL_PASS, FULL_USER, TlsServerCase, write_file  # noqa: E402

FTPSLOAD = os.environ.get("FTPSLOAD_BIN", "")
RUN_TIMEOUT = 60  # seconds: no ftpsload run here may take longer


def ftpsload(*args, timeout=RUN_TIMEOUT):
    """Runs ftpsload with --json --quiet; returns (exit status, report dict or
    None, stderr, wall seconds)."""
    if not FTPSLOAD or not os.access(FTPSLOAD, os.X_OK):
        raise AssertionError("FTPSLOAD_BIN does not name the built ftpsload binary")
    start = time.monotonic()
    r = subprocess.run([FTPSLOAD] + [str(a) for a in args] + ["--json", "--quiet"],
                       capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    wall = time.monotonic() - start
    report = None
    if r.stdout.strip():
        report = json.loads(r.stdout)
    return r.returncode, report, r.stderr, wall


def upload_pattern(size):
    """The bytes ftpsload uploads (payload.cpp): xorshift64* from a fixed seed,
    1 MiB repeated."""
    mask = (1 << 64) - 1
    x = 0x9E3779B97F4A7C15
    out = bytearray()
    while len(out) < min(size, 1 << 20):
        x ^= x >> 12
        x ^= (x << 25) & mask
        x ^= x >> 27
        out += ((x * 0x2545F4914F6CDD1D) & mask).to_bytes(8, "little")
    pattern = bytes(out)
    return (pattern * (size // len(pattern) + 1))[:size]


class AgainstRingftpd(TlsServerCase):
    """The default strict policies: TLS before login, PROT P, reuse required."""
    PORTS = "30000-30499"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.big = os.urandom(3 * 1024 * 1024 + 17)
        cls.big_sha = write_file(os.path.join(cls.root, "big.bin"), cls.big)
        cls.small_sha = write_file(os.path.join(cls.root, "small.bin"), os.urandom(1024))
        os.mkdir(os.path.join(cls.root, "up"))

    def target(self, user=FULL_USER, password=FULL_PASS):
        return ["--port", self.port, "--user", user, "--password", password]

    def assert_clean(self, code, report, err):
        self.assertIsNotNone(report, err)
        self.assertEqual(report["errors"], {}, "%s\n%s\nserver log:\n%s"
                         % (report, err, self.log_tail()))
        self.assertEqual(code, 0, err)

    def test_download_verified_by_size_and_sha256(self):
        local = os.path.join(self.root, "big.bin")
        for version in ("1.2", "1.3"):
            with self.subTest(tls=version):
                code, r, err, _ = ftpsload("download", *self.target(), "--path", "big.bin",
                                           "--verify-file", local, "-c", 2, "-n", 6,
                                           "--tls", version)
                self.assert_clean(code, r, err)
                self.assertEqual(r["transfers"]["ok"], 6)
                self.assertEqual(r["bytes"]["completed"], 6 * len(self.big))
                self.assertEqual(r["checked"], "size and SHA-256")
                self.assertEqual(r["tls"]["protocol"], "TLSv" + version)
                self.assertEqual(r["tls"]["control_full"], 2)
                self.assertEqual(r["tls"]["data_resumed"], 6)
                self.assertEqual(r["tls"]["data_full"], 0)
                self.assertEqual(r["latency_ms"]["transfer"]["count"], 6)

    def test_wrong_checksum_and_size_are_errors(self):
        code, r, _, _ = ftpsload("download", *self.target(), "--path", "big.bin",
                                 "--expect-size", len(self.big), "--expect-sha256",
                                 hashlib.sha256(b"something else").hexdigest(), "-n", 2)
        self.assertEqual(code, 1)
        self.assertEqual(r["errors"], {"checksum mismatch": 2})
        self.assertEqual(r["transfers"]["ok"], 0)
        code, r, _, _ = ftpsload("download", *self.target(), "--path", "big.bin",
                                 "--expect-size", len(self.big) - 1, "-n", 1)
        self.assertEqual(code, 1)
        self.assertEqual(r["errors"], {"size mismatch": 1})

    def test_sessions_mode(self):
        local = os.path.join(self.root, "small.bin")
        for version in ("1.2", "1.3"):
            with self.subTest(tls=version):
                code, r, err, _ = ftpsload("sessions", *self.target(), "--path", "small.bin",
                                           "--verify-file", local, "-c", 4, "-n", 12,
                                           "--tls", version)
                self.assert_clean(code, r, err)
                self.assertEqual(r["sessions"]["completed"], 12)
                self.assertEqual(r["transfers"]["ok"], 12)
                self.assertEqual(r["tls"]["control_full"], 12)
                self.assertEqual(r["tls"]["data_resumed"], 12)
                self.assertEqual(r["latency_ms"]["session"]["count"], 12)
                self.assertEqual(r["latency_ms"]["setup"]["count"], 12)
                self.assertGreater(r["sessions"]["per_s"], 0)

    def test_upload_lands_on_disk(self):
        size = 200000 + 3
        for version in ("1.2", "1.3"):
            with self.subTest(tls=version):
                code, r, err, _ = ftpsload("upload", *self.target(), "--path", "up/f{}.bin",
                                           "--size", size, "-c", 2, "-n", 6, "--tls", version)
                self.assert_clean(code, r, err)
                self.assertEqual(r["transfers"]["ok"], 6)
                self.assertEqual(r["checked"], "226 and SIZE")
                expected = upload_pattern(size)
                for n in (0, 1):
                    with open(os.path.join(self.root, "up", "f%d.bin" % n), "rb") as f:
                        self.assertEqual(f.read(), expected)

    def test_list(self):
        code, r, err, _ = ftpsload("list", *self.target(), "-n", 3)
        self.assert_clean(code, r, err)
        self.assertEqual(r["transfers"]["ok"], 3)
        self.assertGreater(r["bytes"]["completed"], 0)

    def test_idle_holds_sessions_for_the_duration(self):
        code, r, err, wall = ftpsload("idle", *self.target(), "-c", 20, "-d", 3)
        self.assert_clean(code, r, err)
        self.assertEqual(r["sessions"]["peak_logged_in"], 20)
        self.assertEqual(r["sessions"]["failed"], 0)
        self.assertIsNotNone(r["all_up_s"])
        self.assertGreaterEqual(r["elapsed_s"], 2.9)
        self.assertLess(wall, 3 + 4)

    def test_duration_ends_the_run(self):
        code, r, err, wall = ftpsload("download", *self.target(), "--path", "big.bin",
                                      "--expect-size", len(self.big), "-c", 2, "-d", 2)
        self.assert_clean(code, r, err)
        self.assertAlmostEqual(r["elapsed_s"], 2.0, delta=0.5)
        self.assertLess(wall, 2 + 4)
        self.assertGreater(r["transfers"]["ok"], 0)

    def test_full_handshake_on_data_is_refused_522(self):
        code, r, _, _ = ftpsload("download", *self.target(), "--path", "small.bin",
                                 "--reuse", "off", "-n", 2)
        self.assertEqual(code, 1)
        self.assertEqual(r["errors"], {"reply 522 to RETR": 2})
        self.assertEqual(r["reply_codes"], {"522": 2})
        self.assertEqual(r["tls"]["data_full"], 2)

    def test_wrong_password_grouped_by_reply_code(self):
        code, r, _, _ = ftpsload("sessions", *self.target(password="wrong"), "--path",
                                 "small.bin", "-n", 2, "--timeout", 20)
        self.assertEqual(code, 1)
        self.assertEqual(r["errors"], {"reply 530 to PASS": 2})
        self.assertEqual(r["reply_codes"], {"530": 2})
        self.assertEqual(r["sessions"]["logged_in"], 0)


# ------------------------------------------------------------------ fake servers

def read_line(conn):
    """One command line from a clear control connection, or None at EOF."""
    data = b""
    while not data.endswith(b"\n"):
        chunk = conn.recv(1)
        if not chunk:
            return None
        data += chunk
        if len(data) > 4096:
            return None
    return data.decode(errors="replace").strip()


class FakeServer:
    """A TCP server on 127.0.0.1 running behaviour(conn, server) in a thread per
    connection. Threads are daemons; close() stops accepting and closes every
    connection it made, so none outlives the test."""

    def __init__(self, behaviour):
        self.behaviour = behaviour
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.2)
        self.port = self.listener.getsockname()[1]
        self.conns = []
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self):
        while not self.stopping.is_set():
            try:
                conn, _ = self.listener.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            conn.settimeout(30)
            self.conns.append(conn)
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn):
        try:
            self.behaviour(conn, self)
        except OSError:
            pass

    def hold(self, conn):
        """Keeps a connection open, silent, until the peer or close() ends it."""
        while not self.stopping.is_set():
            try:
                conn.settimeout(0.2)
                if conn.recv(4096) == b"":
                    return
            except socket.timeout:
                continue

    def close(self):
        self.stopping.set()
        self.listener.close()
        for c in self.conns:
            try:
                c.close()
            except OSError:
                pass
        self.thread.join(timeout=5)


def ftp_dialog(payload, cut_after=None):
    """A clear FTP server that logs anyone in and answers RETR with `payload`
    over an EPSV data connection; with cut_after, it sends only that many bytes
    and then stalls (never closes the data connection)."""

    def behaviour(conn, server):
        conn.sendall(b"220 fake\r\n")
        data_listener = None
        while not server.stopping.is_set():
            line = read_line(conn)
            if line is None:
                return
            verb = line.split(" ")[0].upper()
            if verb == "USER":
                conn.sendall(b"331 password\r\n")
            elif verb in ("PASS", "TYPE"):
                conn.sendall(b"230 ok\r\n" if verb == "PASS" else b"200 ok\r\n")
            elif verb == "EPSV":
                data_listener = socket.create_server(("127.0.0.1", 0))
                data_listener.settimeout(10)
                port = data_listener.getsockname()[1]
                conn.sendall(b"229 Entering Extended Passive Mode (|||%d|)\r\n" % port)
            elif verb == "RETR" and data_listener is not None:
                data, _ = data_listener.accept()
                data_listener.close()
                server.conns.append(data)
                conn.sendall(b"150 here it comes\r\n")
                if cut_after is None:
                    data.sendall(payload)
                    data.close()
                    conn.sendall(b"226 done\r\n")
                else:
                    data.sendall(payload[:cut_after])
                    server.hold(data)
                    return
            elif verb == "QUIT":
                conn.sendall(b"221 bye\r\n")
                return
            else:
                conn.sendall(b"500 ?\r\n")

    return behaviour


def garbage(conn, server):
    conn.sendall(b"hello, this is not FTP\r\n")
    server.hold(conn)


def early_close(conn, server):
    conn.close()


def silent(conn, server):
    server.hold(conn)


def not_tls_after_234(conn, server):
    conn.sendall(b"220 fake\r\n")
    if read_line(conn) is not None:
        conn.sendall(b"234 go ahead\r\n")
        time.sleep(0.05)
        conn.sendall(b"500 this is plain text, not a TLS record\r\n")
        server.hold(conn)


class AgainstFakeServers(unittest.TestCase):
    """Bad servers: reported by kind, exit status 1, never past the duration."""

    def serve(self, behaviour):
        srv = FakeServer(behaviour)
        self.addCleanup(srv.close)
        return srv

    def run_against(self, behaviour, *args, duration=2):
        srv = self.serve(behaviour)
        code, r, err, wall = ftpsload(*args, "--port", srv.port, "-d", duration)
        self.assertIsNotNone(r, err)
        self.assertEqual(code, 1, r)
        self.assertLess(wall, duration + 4, "ran past its duration")
        return r

    def test_garbage_greeting(self):
        r = self.run_against(garbage, "sessions", "--path", "f", "--no-tls", "-c", 2)
        self.assertEqual(list(r["errors"]), ["malformed reply (220 greeting)"])
        self.assertGreaterEqual(r["errors_total"], 2)
        self.assertEqual(r["sessions"]["completed"], 0)

    def test_early_close(self):
        r = self.run_against(early_close, "download", "--path", "f", "-c", 2)
        self.assertEqual(list(r["errors"]), ["closed by server (220 greeting)"])
        self.assertGreaterEqual(r["errors_total"], 4)  # retried every 100 ms, 2 connections

    def test_silent_server_times_out(self):
        r = self.run_against(silent, "download", "--path", "f", "--timeout", 0.5, duration=3)
        self.assertEqual(list(r["errors"]), ["timeout (220 greeting)"])
        self.assertGreaterEqual(r["errors_total"], 2)

    def test_silent_server_with_long_timeout_still_ends_on_time(self):
        srv = self.serve(silent)
        code, r, err, wall = ftpsload("download", "--path", "f", "--port", srv.port, "-c", 3,
                                      "--timeout", 60, "-d", 1.5)
        self.assertEqual(code, 1, err)  # nothing completed
        self.assertIn("nothing completed", err)
        self.assertEqual(r["errors_total"], 0)
        self.assertEqual(r["sessions"]["cut"], 3)
        self.assertLess(wall, 1.5 + 4)

    def test_plain_text_after_234(self):
        r = self.run_against(not_tls_after_234, "sessions", "--path", "f")
        (kind,) = r["errors"]
        self.assertIn("TLS", kind)
        self.assertIn("did not speak TLS", kind)
        self.assertEqual(r["tls"]["control_full"], 0)

    def test_wrong_bytes_fail_the_checksum(self):
        good = os.urandom(100000)
        wrong = bytearray(good)
        wrong[5000] ^= 1
        r = self.run_against(ftp_dialog(bytes(wrong)), "download", "--path", "f", "--no-tls",
                             "--expect-size", len(good), "--expect-sha256",
                             hashlib.sha256(good).hexdigest())
        self.assertEqual(list(r["errors"]), ["checksum mismatch"])
        self.assertEqual(r["transfers"]["ok"], 0)
        self.assertGreater(r["transfers"]["failed"], 0)

    def test_short_data_fails_the_size(self):
        good = os.urandom(100000)
        r = self.run_against(ftp_dialog(good[:-1]), "sessions", "--path", "f", "--no-tls",
                             "--expect-size", len(good))
        self.assertEqual(list(r["errors"]), ["size mismatch"])

    def test_stalled_transfer_times_out(self):
        good = os.urandom(100000)
        r = self.run_against(ftp_dialog(good, cut_after=50000), "download", "--path", "f",
                             "--no-tls", "--timeout", 0.5, duration=3)
        self.assertEqual(list(r["errors"]), ["timeout (data of RETR)"])

    def test_good_fake_server_passes(self):
        # The fake dialog itself is right: the failures above are the data's.
        good = os.urandom(100000)
        srv = self.serve(ftp_dialog(good))
        code, r, err, _ = ftpsload("sessions", "--path", "f", "--no-tls", "--port", srv.port,
                                   "-n", 3, "--expect-size", len(good), "--expect-sha256",
                                   hashlib.sha256(good).hexdigest())
        self.assertEqual(code, 0, err)
        self.assertEqual(r["sessions"]["completed"], 3)


if __name__ == "__main__":
    unittest.main()
