"""systemd (issue 11, item 4): the shipped unit (dist/systemd/ringftpd.service)
passes `systemd-analyze verify`, and the real binary speaks the notify
protocol its Type=notify needs. The test plays the service manager: its own
AF_UNIX datagram socket as NOTIFY_SOCKET, credentials on every message (so it
sees who sent it, as systemd's NotifyAccess=main does)."""
import os
import shutil
import signal
import socket
import struct
import subprocess
import time
import unittest

from clients import FULL_PASS, FULL_USER, HOST, IO_TIMEOUT, PROC_TIMEOUT, USERS, password_hash
from harness import BINARY, RUN_AS, Server, free_port, make_tmpdir
from harness import TestCase as HarnessCase

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
UNIT = os.path.join(REPO, "dist", "systemd", "ringftpd.service")
SYSTEMD_ANALYZE = shutil.which("systemd-analyze") or "/usr/bin/systemd-analyze"
MESSAGE_TIMEOUT = 15.0  # a start with two workers takes well under a second

CONFIG = """workers = 2
state_dir = "@TMP@/state"
[[listen]]
address = "127.0.0.1"
port = @PORT@
[control]
tls = "optional"
[data]
protection = "clear_only"
[passive]
ports = "32350-32399"
[users]
file = "@TMP@/users.toml"
[log]
level = "info"
"""


class UnitFileTest(unittest.TestCase):
    def verify(self, text):
        """systemd-analyze verify on `text` as ringftpd.service in a fresh
        directory; returns (exit status, its output)."""
        if not os.access(SYSTEMD_ANALYZE, os.X_OK):
            self.fail("systemd-analyze is missing: tools/install-deps.sh installs systemd")
        tmp = make_tmpdir("ringftpd-unit-")
        self.addCleanup(shutil.rmtree, tmp, True)
        path = os.path.join(tmp, "ringftpd.service")
        with open(path, "w") as f:
            f.write(text)
        os.chmod(path, 0o644)  # the harness's umask is 0 as root; systemd warns on that
        r = subprocess.run([SYSTEMD_ANALYZE, "verify", path], capture_output=True, text=True,
                           timeout=PROC_TIMEOUT, stdin=subprocess.DEVNULL)
        return r.returncode, (r.stdout + r.stderr).strip()

    def unit_text(self):
        if not BINARY or not os.access(BINARY, os.X_OK):
            self.fail("RINGFTPD_BIN does not name the built ringftpd binary")
        with open(UNIT) as f:
            text = f.read()
        self.assertIn("/usr/sbin/ringftpd", text)
        # verify insists that ExecStart's binary exists: the one just built.
        return text.replace("/usr/sbin/ringftpd", BINARY)

    def test_systemd_analyze_verify_is_clean(self):
        rc, out = self.verify(self.unit_text())
        # verify exits 0 on unknown keys and bad values too, with a warning:
        # only silence is clean.
        self.assertEqual((rc, out), (0, ""))

    def test_verify_would_catch_a_mistake(self):
        # The check above can fail: a misspelt key and a bad value are reported.
        text = self.unit_text()
        rc, out = self.verify(text.replace("NoNewPrivileges=", "NoNewPrivilges=", 1))
        self.assertIn("Unknown key", out)
        rc, out = self.verify(text.replace("Type=notify", "Type=notfy", 1))
        self.assertIn("Failed to parse service type", out)

    def test_the_unit_says_what_the_server_needs(self):
        with open(UNIT) as f:
            keys = {}
            for line in f:
                line = line.strip()
                if line and not line.startswith("#") and "=" in line:
                    k, v = line.split("=", 1)
                    keys[k] = v
        self.assertEqual(keys["Type"], "notify")
        self.assertEqual(keys["NotifyAccess"], "main")
        self.assertEqual(keys["ExecReload"], "/bin/kill -HUP $MAINPID")
        self.assertEqual(keys["KillMode"], "mixed")  # SIGTERM to the master alone
        self.assertEqual(set(keys["CapabilityBoundingSet"].split()),
                         {"CAP_NET_BIND_SERVICE", "CAP_SETUID", "CAP_SETGID", "CAP_KILL"})
        self.assertEqual(keys["ProtectSystem"], "strict")
        self.assertEqual(keys["NoNewPrivileges"], "yes")
        # The stop grace (30 s) and the master's SIGKILL after 5 s fit in the stop timeout.
        self.assertGreater(int(keys["TimeoutStopSec"].rstrip("s")), 35)


class ServiceManager:
    """A NOTIFY_SOCKET of our own: a bound AF_UNIX datagram socket that takes
    the sender's credentials with every message."""

    def __init__(self, directory):
        self.path = os.path.join(directory, "notify")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)

    def close(self):
        self.sock.close()

    def receive(self, timeout=MESSAGE_TIMEOUT):
        """(sender pid, {key: value}) of the next message, or (None, None)."""
        self.sock.settimeout(timeout)
        try:
            data, ancillary, _, _ = self.sock.recvmsg(4096, socket.CMSG_SPACE(12))
        except socket.timeout:
            return None, None
        pid = None
        for level, kind, payload in ancillary:
            if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
                pid = struct.unpack("iII", payload[:12])[0]
        fields = dict(line.split("=", 1) for line in data.decode().splitlines() if "=" in line)
        return pid, fields

    def expect(self, key, timeout=MESSAGE_TIMEOUT):
        """The next message, which must carry key=1."""
        pid, fields = self.receive(timeout)
        if fields is None:
            raise AssertionError("no %s=1 within %.0f s" % (key, timeout))
        if fields.get(key) != "1":
            raise AssertionError("expected %s=1, got %r" % (key, fields))
        return pid, fields


class NotifiedServer(Server):
    """Started with NOTIFY_SOCKET and without waiting for the port: the
    notifications are what the test is about."""

    def __init__(self, config_text, notify_path):
        super().__init__(config_text)
        self.notify_path = notify_path

    def start(self):
        self._out = open(self.stdout_path, "w")
        self._err = open(self.stderr_path, "w")
        env = dict(os.environ, NOTIFY_SOCKET=self.notify_path)
        self.proc = subprocess.Popen([BINARY] + self.args, stdout=self._out, stderr=self._err,
                                     stdin=subprocess.DEVNULL, env=env)


def greeting(port):
    """The first reply on a new control connection, or the error."""
    try:
        with socket.create_connection((HOST, port), timeout=IO_TIMEOUT) as s:
            return s.recv(512).decode(errors="replace")
    except OSError as e:
        return "error: %s" % e


def login_works(port):
    with socket.create_connection((HOST, port), timeout=IO_TIMEOUT) as s:
        f = s.makefile("rb")
        assert f.readline().startswith(b"220")
        s.sendall(("USER %s\r\n" % FULL_USER).encode())
        assert f.readline().startswith(b"331")
        s.sendall(("PASS %s\r\n" % FULL_PASS).encode())
        return f.readline().decode().strip()


def monotonic_usec():
    return time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000


class NotifyTest(HarnessCase):
    def setUp(self):
        super().setUp()
        self.manager_dir = make_tmpdir("ringftpd-notify-")
        self.addCleanup(shutil.rmtree, self.manager_dir, True)
        self.manager = ServiceManager(self.manager_dir)
        self.addCleanup(self.manager.close)
        self.srv = NotifiedServer(CONFIG, self.manager.path)
        self.addCleanup(self.srv.__exit__, None, None, None)
        root = os.path.join(self.srv.tmp, "root")
        os.mkdir(root)
        users = os.path.join(self.srv.tmp, "users.toml")
        with open(users, "w") as f:
            f.write(USERS.format(full=FULL_USER, full_hash=password_hash(FULL_PASS), ro="reader",
                                 ro_hash=password_hash("reader-pw"), root=root))
        os.chmod(users, 0o600)

    def log(self):
        return self.srv.stderr()

    def expect(self, key):
        try:
            return self.manager.expect(key)
        except AssertionError as e:
            raise AssertionError("%s\nserver log:\n%s" % (e, self.log())) from None

    def test_ready_reloading_stopping(self):
        self.srv.start()
        master = self.srv.proc.pid

        # READY=1 from the master, and only when a worker greets at once.
        pid, fields = self.expect("READY")
        self.assertEqual(pid, master, "READY=1 must come from the main pid")
        self.assertTrue(greeting(self.srv.port).startswith("220"), self.log())
        self.assertIn("2 worker(s) serving", fields.get("STATUS", ""))
        log = self.log()
        # Every worker of the start said it serves before the master said ready.
        self.assertEqual(log[:log.index("[master] ready:")].count("serving as"), 2, log)
        self.assertTrue(login_works(self.srv.port).startswith("230"), self.log())

        # SIGHUP: RELOADING=1 with the monotonic time of the reload, then
        # READY=1 once the new generation serves.
        before = monotonic_usec()
        self.srv.proc.send_signal(signal.SIGHUP)
        pid, fields = self.expect("RELOADING")
        after = monotonic_usec()
        self.assertEqual(pid, master)
        self.assertTrue(before <= int(fields["MONOTONIC_USEC"]) <= after, fields)
        pid, fields = self.expect("READY")
        self.assertEqual(pid, master)
        self.assertIn("generation 2", fields.get("STATUS", ""))
        self.assertTrue(greeting(self.srv.port).startswith("220"), self.log())
        self.assertIn("ready: 2 worker(s) serving, generation 2", self.log())

        # A broken configuration: refused, and the reload still ends (READY=1).
        with open(self.srv.config_path, "a") as f:
            f.write("no_such_key = 1\n")
        self.srv.proc.send_signal(signal.SIGHUP)
        self.expect("RELOADING")
        pid, fields = self.expect("READY")
        self.assertIn("reload refused", fields.get("STATUS", ""))
        self.assertTrue(greeting(self.srv.port).startswith("220"), self.log())

        # SIGTERM: STOPPING=1, then the master exits cleanly.
        self.srv.proc.send_signal(signal.SIGTERM)
        pid, fields = self.expect("STOPPING")
        self.assertEqual(pid, master)
        self.assertEqual(self.srv.proc.wait(timeout=20), 0, self.log())
        # Nothing more: no READY=1 after STOPPING=1.
        self.assertEqual(self.manager.receive(timeout=0.5), (None, None))


if __name__ == "__main__":
    unittest.main()
