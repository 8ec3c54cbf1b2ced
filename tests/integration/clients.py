"""Shared fixtures for the clear-mode FTP tests: a configured server with two
users, and bounded wrappers around curl, lftp and ftplib.

Every subprocess has a timeout and every loop a bound, so a hung server makes a
test fail instead of hanging the run.
"""
import ftplib
import functools
import hashlib
import os
import re
import shutil
import socket
import subprocess
import tempfile
import time

from harness import BINARY, IS_ROOT, RUN_AS, ControlConnection, Server, TestCase, make_tmpdir

FULL_USER, FULL_PASS = "alice", "alice-pw-1"
RO_USER, RO_PASS = "reader", "reader-pw-2"
HOST = "127.0.0.1"
IO_TIMEOUT = 10  # seconds, for every socket and control-connection read
PROC_TIMEOUT = 60  # seconds, hard limit for one curl/lftp run

CLEAR_CONFIG = """{extra_top}
state_dir = "@TMP@/state"
[[listen]]
address = "127.0.0.1"
port = @PORT@
{extra_listen}
[control]
tls = "optional"
[data]
protection = "clear_only"
[passive]
ports = "{ports}"
[users]
file = "@TMP@/users.toml"
[transfer]
atomic_uploads = true
[log]
level = "debug"
{extra}
"""

USERS = """
[[user]]
name = "{full}"
password = "{full_hash}"
root = "{root}"
permissions = ["all"]

[[user]]
name = "{ro}"
password = "{ro_hash}"
root = "{root}"
permissions = ["list", "read"]
"""


@functools.lru_cache(maxsize=None)
def password_hash(password):
    r = subprocess.run([BINARY, "--hash-password", "--scheme", "sha512"], input=password + "\n",
                       capture_output=True, text=True, timeout=30)
    if r.returncode != 0 or not r.stdout.startswith("$6$"):
        raise AssertionError("--hash-password failed: %r %r" % (r.stdout, r.stderr))
    return r.stdout.strip()


def sha256_bytes(data):
    return hashlib.sha256(data).hexdigest()


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def write_file(path, data):
    """Writes a file the server's users own (RUN_AS when the tests run as root:
    some operations, MFMT's utimensat for one, need the owner)."""
    with open(path, "wb") as f:
        f.write(data)
    if IS_ROOT:
        shutil.chown(path, RUN_AS, None)
    return sha256_bytes(data)


def read_file(path):
    with open(path, "rb") as f:
        return f.read()


def _start_server(prefix, template, ports, extra, extra_listen, extra_top, users=None,
                  users_args=None):
    """A running Server from a config template; its root is srv.root (the full
    user and the read-only user share it). The caller stops it (srv.__exit__).
    users: another users-file template (USERS by default), filled with the same
    fields plus users_args."""
    if not BINARY or not os.access(BINARY, os.X_OK):
        raise AssertionError("RINGFTPD_BIN does not name the built ringftpd binary")
    tmp = make_tmpdir(prefix)
    root = os.path.join(tmp, "root")
    os.mkdir(root)
    users_path = os.path.join(tmp, "users.toml")
    with open(users_path, "w") as f:
        f.write((users or USERS).format(full=FULL_USER, full_hash=password_hash(FULL_PASS),
                                        ro=RO_USER, ro_hash=password_hash(RO_PASS), root=root,
                                        **(users_args or {})))
    os.chmod(users_path, 0o600)  # for authd alone
    text = template.format(ports=ports, extra=extra, extra_listen=extra_listen,
                           extra_top=extra_top)
    srv = Server(text, tmpdir=tmp)
    srv.root = root
    try:
        srv.__enter__()
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return srv


def start_clear_server(ports, extra="", extra_listen="", extra_top=""):
    """A running Server in clear mode (see _start_server)."""
    return _start_server("ringftpd-clear-", CLEAR_CONFIG, ports, extra, extra_listen, extra_top)


class ClearServerCase(TestCase):
    """One clear-mode server per test class. Subclasses set PORTS (a passive
    sub-range of their own) and may set EXTRA (TOML tables appended), EXTRA_LISTEN
    (more [[listen]] entries) and EXTRA_TOP (top-level keys)."""
    PORTS = None
    EXTRA = ""
    EXTRA_LISTEN = ""
    EXTRA_TOP = ""

    @classmethod
    def setUpClass(cls):
        cls.srv = start_clear_server(cls.PORTS, cls.EXTRA, cls.EXTRA_LISTEN, cls.EXTRA_TOP)
        # A class cleanup runs even when a subclass's setUpClass fails after this.
        cls.addClassCleanup(cls.srv.__exit__, None, None, None)
        cls.port = cls.srv.port
        cls.root = cls.srv.root

    def setUp(self):
        super().setUp()
        self.assertIsNone(self.srv.proc.poll(), "server died earlier:\n" + self.log_tail())

    def tearDown(self):
        self.assertIsNone(self.srv.proc.poll(),
                          "server died during the test:\n" + self.log_tail())

    def log_tail(self, lines=40):
        return "\n".join(self.srv.stderr().splitlines()[-lines:])

    def path(self, *parts):
        return os.path.join(self.root, *parts)

    # ---- clients
    def ftp(self, user=FULL_USER, password=FULL_PASS, host=HOST, port=None):
        f = ftplib.FTP(timeout=IO_TIMEOUT)
        f.connect(host, port or self.port)
        f.login(user, password)
        self.addCleanup(close_ftp, f)
        return f

    def raw(self, user=FULL_USER, password=FULL_PASS, login=True):
        c = ControlConnection(self.port, timeout=IO_TIMEOUT)
        self.addCleanup(c.close)
        self.assertEqual(c.reply()[0], 220)
        if login:
            self.assertEqual(c.command("USER " + user)[0], 331)
            code, text = c.command("PASS " + password)
            self.assertEqual(code, 230, text)
        return c

    def url(self, path="", user=FULL_USER, password=FULL_PASS):
        return "ftp://%s:%s@%s:%d/%s" % (user, password, HOST, self.port, path)

    def curl(self, *args, check=True):
        return run_curl(self, args, check)

    def lftp(self, commands, user=FULL_USER, password=FULL_PASS, check=True):
        return run_lftp(self, self.port, commands, user, password, check)


def close_ftp(f):
    try:
        f.close()
    except OSError:
        pass


def run_curl(case, args, check=True):
    cmd = ["curl", "--silent", "--show-error", "--max-time", "30", "--connect-timeout", "5"]
    cmd += list(args)
    r = subprocess.run(cmd, capture_output=True, timeout=PROC_TIMEOUT, stdin=subprocess.DEVNULL)
    if check:
        case.assertEqual(r.returncode, 0, "curl %r failed: %s\nserver log:\n%s"
                         % (args, r.stderr.decode(errors="replace"), case.log_tail()))
    return r


def run_lftp(case, port, commands, user, password, check=True):
    script = ("set net:timeout 5; set net:max-retries 1; set net:reconnect-interval-base 1; "
              "set ftp:ssl-allow no; set ftp:passive-mode yes; set cmd:fail-exit yes; "
              "set xfer:clobber yes; "
              "open -u %s,%s -p %d %s; %s" % (user, password, port, HOST, commands))
    r = subprocess.run(["lftp", "-c", script], capture_output=True, timeout=PROC_TIMEOUT,
                       stdin=subprocess.DEVNULL)
    if check:
        case.assertEqual(r.returncode, 0, "lftp %r failed: %s\nserver log:\n%s"
                         % (commands, r.stderr.decode(errors="replace"), case.log_tail()))
    return r


def parse_pasv(text):
    m = re.search(r"\((\d+),(\d+),(\d+),(\d+),(\d+),(\d+)\)", text)
    if not m:
        raise AssertionError("bad 227 reply: %r" % text)
    n = [int(x) for x in m.groups()]
    return "%d.%d.%d.%d" % tuple(n[:4]), n[4] * 256 + n[5]


def parse_epsv(text):
    m = re.search(r"\(\|\|\|(\d+)\|\)", text)
    if not m:
        raise AssertionError("bad 229 reply: %r" % text)
    return int(m.group(1))


def recv_all(sock, limit=64 << 20):
    """Reads until EOF (bounded by limit bytes and the socket timeout)."""
    chunks, total = [], 0
    while total <= limit:
        chunk = sock.recv(65536)
        if not chunk:
            break
        chunks.append(chunk)
        total += len(chunk)
    return b"".join(chunks)


def connect_from(source_ip, port, dest=HOST, timeout=IO_TIMEOUT):
    """A TCP connection to dest:port from a socket bound to source_ip."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.bind((source_ip, 0))
    s.connect((dest, port))
    return s


def ipv6_loopback_usable():
    if not socket.has_ipv6:
        return False
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


def wait_until(predicate, timeout=5.0, step=0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return predicate()


def time_wait_ports():
    """Local TCP ports that have a connection in TIME_WAIT (from /proc/net/tcp*)."""
    ports = set()
    for name in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(name) as f:
                next(f, None)
                for line in f:
                    fields = line.split()
                    if len(fields) > 3 and fields[3] == "06":
                        ports.add(int(fields[1].rsplit(":", 1)[1], 16))
        except OSError:
            pass
    return ports


def quiet_port_window(first, last, size):
    """A "a-b" range of size ports inside first..last with no TIME_WAIT connection
    on any of its ports, else the first window. (A passive port whose last data
    connection is in TIME_WAIT cannot be bound again by ringftpd for 60 s; see
    PassivePortReuseTest.) This keeps quick re-runs of a many-transfer test
    from failing for that one known reason."""
    busy = time_wait_ports()
    start = first
    while start + size - 1 <= last:
        if not any(p in busy for p in range(start, start + size)):
            return "%d-%d" % (start, start + size - 1)
        start += size
    return "%d-%d" % (first, first + size - 1)


# ---------------------------------------------------------------- FTPS fixtures
# The default TLS policies (no [control] / [data] tables): TLS required before
# login, PROT P required, required session reuse.
import ssl  # noqa: E402  (kept with the FTPS helpers it serves)

TLS_CONFIG = """{extra_top}
state_dir = "@TMP@/state"
[[listen]]
address = "127.0.0.1"
port = @PORT@
{extra_listen}
[passive]
ports = "{ports}"
[users]
file = "@TMP@/users.toml"
[log]
level = "debug"
{extra}
"""

TLS_VERSIONS = {"1.2": ssl.TLSVersion.TLSv1_2, "1.3": ssl.TLSVersion.TLSv1_3}


def start_tls_server(ports, extra="", extra_listen="", extra_top=""):
    """A running Server with the default (strict) TLS policies (see _start_server)."""
    return _start_server("ringftpd-tls-", TLS_CONFIG, ports, extra, extra_listen, extra_top)


def tls_client_context(version=None):
    """A client SSLContext that does not verify the (self-signed) certificate;
    version "1.2" or "1.3" pins the protocol version, None leaves it open."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    if version is not None:
        ctx.minimum_version = TLS_VERSIONS[version]
        ctx.maximum_version = TLS_VERSIONS[version]
    return ctx


class ReusingFTP_TLS(ftplib.FTP_TLS):
    """ftplib's FTP_TLS resumes nothing on data connections; this one resumes the
    control connection's session (what curl, lftp and FileZilla do)."""
    data_session = None  # a test may set a foreign session to resume instead
    last_data_resumed = None  # did the last protected data connection resume a session?

    def ntransfercmd(self, cmd, rest=None):
        conn, size = ftplib.FTP.ntransfercmd(self, cmd, rest)
        if self._prot_p:
            session = self.data_session if self.data_session is not None else self.sock.session
            conn = self.context.wrap_socket(conn, server_hostname=self.host, session=session)
            self.last_data_resumed = conn.session_reused
        return conn, size


def curl_tls_args(version):
    """curl options for explicit FTPS with a pinned TLS version."""
    pin = ["--tlsv1.2", "--tls-max", "1.2"] if version == "1.2" else ["--tlsv1.3"]
    return ["--ssl-reqd", "-k"] + pin


def lftp_tls_settings(version):
    return ('set ftp:ssl-force true; set ftp:ssl-protect-data true; '
            'set ftp:ssl-auth TLS; set ssl:verify-certificate no; '
            'set ssl:priority "NORMAL:-VERS-ALL:+VERS-TLS%s"; ' % version)


def run_lftp_tls(case, port, commands, version, user=FULL_USER, password=FULL_PASS, check=True):
    """lftp over explicit FTPS (AUTH TLS, PROT P) with a pinned TLS version."""
    script = ("set net:timeout 5; set net:max-retries 1; set net:reconnect-interval-base 1; "
              "set ftp:passive-mode yes; set cmd:fail-exit yes; set xfer:clobber yes; " +
              lftp_tls_settings(version) +
              "open -u %s,%s -p %d %s; %s" % (user, password, port, HOST, commands))
    r = subprocess.run(["lftp", "-c", script], capture_output=True, timeout=PROC_TIMEOUT,
                       stdin=subprocess.DEVNULL)
    if check:
        case.assertEqual(r.returncode, 0, "lftp %r (TLS %s) failed: %s\nserver log:\n%s"
                         % (commands, version, r.stderr.decode(errors="replace"),
                            case.log_tail()))
    return r


class TlsServerCase(ClearServerCase):
    """One server with the default TLS policies per test class; same knobs as
    ClearServerCase (PORTS, EXTRA, EXTRA_LISTEN, EXTRA_TOP)."""

    @classmethod
    def setUpClass(cls):
        cls.srv = start_tls_server(cls.PORTS, cls.EXTRA, cls.EXTRA_LISTEN, cls.EXTRA_TOP)
        cls.addClassCleanup(cls.srv.__exit__, None, None, None)
        cls.port = cls.srv.port
        cls.root = cls.srv.root

    def ftps(self, version=None, user=FULL_USER, password=FULL_PASS, prot_p=True,
             cls=ReusingFTP_TLS, port=None, context=None):
        """A logged-in ftplib FTPS client (AUTH TLS, then USER/PASS, then
        PBSZ 0 + PROT P unless prot_p is false)."""
        f = cls(context=context or tls_client_context(version), timeout=IO_TIMEOUT)
        self.addCleanup(close_ftp, f)
        f.connect(HOST, port or self.port)
        f.login(user, password)  # FTP_TLS.login sends AUTH TLS first
        if prot_p:
            f.prot_p()
        return f

    def tls_raw(self, version=None, login=True):
        """A raw control connection after AUTH TLS and the handshake (and USER/PASS
        unless login is false)."""
        c = self.raw(login=False)
        code, text = c.command("AUTH TLS")
        self.assertEqual(code, 234, text)
        self.assertEqual(c.buf, b"", "bytes after the 234 reply, before the handshake")
        c.sock = tls_client_context(version).wrap_socket(c.sock, server_hostname=HOST)
        if login:
            self.assertEqual(c.command("USER " + FULL_USER)[0], 331)
            code, text = c.command("PASS " + FULL_PASS)
            self.assertEqual(code, 230, text)
        return c

    def log_mark(self):
        """The current length of the server log, for log_since()."""
        return len(self.srv.stderr())

    def log_since(self, mark):
        return self.srv.stderr()[mark:]

    def assert_tls_version_logged(self, mark, version):
        """The server logged only TLS `version` handshakes (control and data) since mark."""
        text = self.log_since(mark)
        other = "1.3" if version == "1.2" else "1.2"
        self.assertIn("TLS TLSv" + version, text)
        self.assertNotIn("TLSv" + other, text)
