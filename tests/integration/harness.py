"""Starts the real ringftpd binary on 127.0.0.1 for black-box tests.

Every server runs in its own temporary directory with its own config file and
a free port, and is stopped (SIGTERM, then SIGKILL after a bounded wait) when
the test ends, whatever happened.
"""
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import unittest

BINARY = os.environ.get("RINGFTPD_BIN", "")
START_TIMEOUT = 15.0


# Run as root (as CI does), the server's workers become RUN_AS: everything the
# tests create must be usable by that user. Files and directories are made
# world-accessible (umask 0), except what the test makes private on purpose
# (the users file: authd alone reads it).
RUN_AS = "nobody"
IS_ROOT = os.geteuid() == 0
if IS_ROOT:
    os.umask(0)


def make_tmpdir(prefix):
    """A temporary directory the workers (RUN_AS when root) can use."""
    path = tempfile.mkdtemp(prefix=prefix)
    if IS_ROOT:
        os.chmod(path, 0o755)
    return path


# The default passive range; a control port there is a configuration error.
DEFAULT_PASSIVE = range(50000, 51000)
# The passive ranges the tests choose for their servers all lie here (see
# `grep -rhoE '"[0-9]{5}-[0-9]{5}"' tests/`); part of it is inside the kernel's
# ephemeral range, so a control port must not be taken from it either.
TEST_PASSIVE = range(20000, 36000)


def free_port():
    """A port free right now, outside every passive range tests use."""
    for _ in range(200):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port not in DEFAULT_PASSIVE and port not in TEST_PASSIVE:
            return port
    raise AssertionError("no free port outside the passive ranges")


def wait_for_port(port, proc, timeout=START_TIMEOUT):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return True
        except OSError:
            time.sleep(0.05)
    return False


class Server:
    """A running ringftpd. Use as a context manager."""

    def __init__(self, config_text=None, args=(), tmpdir=None):
        self.tmp = tmpdir or make_tmpdir("ringftpd-it-")
        self.port = free_port()
        self.args = [a.replace("@PORT@", str(self.port)).replace("@TMP@", self.tmp) for a in args]
        self.config_path = None
        if config_text is not None:
            self.config_path = os.path.join(self.tmp, "ringftpd.toml")
            text = config_text.replace("@PORT@", str(self.port)).replace("@TMP@", self.tmp)
            if "run_as" not in text:
                text = 'run_as = "%s"\n' % RUN_AS + text
            with open(self.config_path, "w") as f:
                f.write(text)
            self.args = ["--config", self.config_path] + self.args
        self.proc = None
        self.stdout_path = os.path.join(self.tmp, "stdout.log")
        self.stderr_path = os.path.join(self.tmp, "stderr.log")

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def start(self):
        self._out = open(self.stdout_path, "w")
        self._err = open(self.stderr_path, "w")
        self.proc = subprocess.Popen([BINARY] + self.args, stdout=self._out, stderr=self._err,
                                     stdin=subprocess.DEVNULL)
        if not wait_for_port(self.port, self.proc):
            self.stop()
            raise AssertionError("ringftpd did not start:\n" + self.stderr())

    def stop(self, sig=signal.SIGTERM, timeout=10.0):
        """Stops the server; returns its exit status."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._out.close()
        self._err.close()
        return self.proc.returncode

    def stdout(self):
        with open(self.stdout_path) as f:
            return f.read()

    def stderr(self):
        with open(self.stderr_path) as f:
            return f.read()


class ControlConnection:
    """A raw control connection that reads whole (multi-line) replies."""

    def __init__(self, port, timeout=10.0):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.buf = b""

    def close(self):
        self.sock.close()

    def send(self, line):
        self.sock.sendall(line.encode() + b"\r\n")

    def _line(self):
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise ConnectionError("connection closed; buffered: %r" % self.buf)
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line.decode("utf-8", "replace")

    def reply(self):
        """Returns (code, full text) of the next reply."""
        first = self._line()
        code = first[:3]
        lines = [first]
        if len(first) > 3 and first[3] == "-":
            while True:
                line = self._line()
                lines.append(line)
                if line.startswith(code + " "):
                    break
        return int(code), "\n".join(lines)

    def command(self, line):
        self.send(line)
        return self.reply()


def run_binary(args, timeout=20):
    return subprocess.run([BINARY] + list(args), capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL)


def status_counters(config_path):
    """The server-wide figures of `ringftpd --status` ("name value" lines) as
    a dict of ints."""
    r = run_binary(["--status", "--config", config_path])
    if r.returncode != 0:
        raise AssertionError("--status failed: " + r.stderr)
    out = {}
    for line in r.stdout.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[1].isdigit():
            out[parts[0]] = int(parts[1])
    return out


class TestCase(unittest.TestCase):
    def setUp(self):
        if not BINARY or not os.access(BINARY, os.X_OK):
            self.fail("RINGFTPD_BIN does not name the built ringftpd binary")
