"""Hostile clients against the real binary, shared by test_hostile_clients.py
(bounded CI runs) and bench/hostile_network.py (the full figures of issue 10).

- measure: the server's process tree (master, authd, workers) from /proc: PSS
  (smaps_rollup) and open descriptors, worker pids from `ringftpd --status`.
- attack(): connections from several loopback source addresses that pipeline
  commands as fast as the socket takes them and never read a reply; runs in a
  child process (no GIL shared with the measuring client) and reports when the
  server closed each one.
- normal_downloads(): a well-behaved client's timed RETRs, sha256 checked.
- churn(): cycles of login, PASV, a slowly read RETR, then REIN + login, ABOR or
  a disconnect, in clear or under TLS (PROT P, data sessions resume the control
  session), each transfer's final reply recorded.

Every socket has a timeout, every loop a count or a deadline.
"""
import errno
import ftplib
import hashlib
import multiprocessing
import os
import re
import select
import shutil
import socket
import subprocess
import ssl
import threading
import time

from clients import (FULL_PASS, FULL_USER, HOST, IO_TIMEOUT, ReusingFTP_TLS, close_ftp, parse_pasv,
                     tls_client_context)
from harness import ControlConnection, make_tmpdir, run_binary

KIB = 1024
MIB = 1024 * 1024


# ---------------------------------------------------------------- measuring
def descendants(pid):
    """pid and every process below it (from /proc/<pid>/task/*/children)."""
    out, unvisited = [], [pid]
    while unvisited and len(out) < 1000:
        p = unvisited.pop()
        out.append(p)
        try:
            for tid in os.listdir("/proc/%d/task" % p):
                with open("/proc/%d/task/%s/children" % (p, tid)) as f:
                    unvisited.extend(int(c) for c in f.read().split())
        except OSError:
            pass  # it exited meanwhile
    return out


def pss_kib(pid):
    """Proportional set size of one process in KiB (0 if it is gone)."""
    try:
        with open("/proc/%d/smaps_rollup" % pid) as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def tree_pss_kib(master_pid):
    """PSS of the whole server (master, authd, workers) in KiB."""
    return sum(pss_kib(p) for p in descendants(master_pid))


def fd_count(pid):
    try:
        return len(os.listdir("/proc/%d/fd" % pid))
    except OSError:
        return -1


def steady_fd_count(pid, quiet=0.3, timeout=3.0):
    """A process's descriptor count once it has not changed for `quiet` seconds."""
    deadline = time.monotonic() + timeout
    last, since = fd_count(pid), time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.05)
        n = fd_count(pid)
        if n != last:
            last, since = n, time.monotonic()
        elif time.monotonic() - since >= quiet:
            break
    return last


def fd_targets(pid):
    """What a process's descriptors point to, for failure messages."""
    out = []
    try:
        for name in sorted(os.listdir("/proc/%d/fd" % pid), key=int):
            try:
                out.append("%s -> %s" % (name, os.readlink("/proc/%d/fd/%s" % (pid, name))))
            except OSError:
                pass
    except OSError:
        pass
    return out


def worker_pids(srv):
    """Pids of the serving (not retiring) workers, from `ringftpd --status`."""
    r = run_binary(["--status", "--config", srv.config_path])
    if r.returncode != 0:
        raise AssertionError("--status failed: " + r.stderr)
    pids = []
    for line in r.stdout.splitlines():
        m = re.match(r"worker \d+ pid (\d+) generation \d+( retiring)?:", line)
        if m and not m.group(2):
            pids.append(int(m.group(1)))
    return sorted(pids)


def wait_workers(srv, n, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pids = worker_pids(srv)
        if len(pids) == n:
            return pids
        time.sleep(0.1)
    raise AssertionError("expected %d workers, --status shows %r" % (n, worker_pids(srv)))


class PssSampler:
    """Samples the server tree's PSS every `interval` s in a thread; when it
    grows past cap_kib above the baseline it sets `abort` (an Event: the
    attack's), so a server without bounds cannot take the machine down."""

    def __init__(self, master_pid, baseline_kib, cap_kib, abort, interval=0.2):
        self.master, self.baseline, self.cap, self.abort = master_pid, baseline_kib, cap_kib, abort
        self.interval = interval
        self.peak = baseline_kib
        self.capped = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.is_set():
            v = tree_pss_kib(self.master)
            self.peak = max(self.peak, v)
            if v - self.baseline > self.cap and not self.capped:
                self.capped = True
                self.abort.set()
            self._stop.wait(self.interval)

    def start(self):
        self._thread.start()
        return self

    def stop(self):
        self._stop.set()
        self._thread.join(timeout=5)
        return self.peak


def send_timeout_line(seconds):
    """`send_timeout_seconds = <seconds>` if this binary's [limits] knows the
    setting (asked with --check-config), else "" (callers then report that the
    server has no send timeout rather than fail to start)."""
    tmp = make_tmpdir("ringftpd-probe-")
    try:
        path = os.path.join(tmp, "probe.toml")
        with open(path, "w") as f:
            f.write('state_dir = "%s"\n[limits]\nsend_timeout_seconds = %d\n' % (tmp, seconds))
        r = run_binary(["--check-config", "--config", path])
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return "send_timeout_seconds = %d" % seconds if r.returncode == 0 else ""


def percentile(values, p):
    """Nearest-rank percentile (p in 0..100) of a non-empty list."""
    s = sorted(values)
    k = max(0, min(len(s) - 1, int(round(p / 100.0 * len(s) + 0.5)) - 1))
    return s[k]


def xferlog_lines(path):
    try:
        with open(path) as f:
            return f.read().splitlines()
    except FileNotFoundError:
        return []


def server_send_queues(server_port, clients):
    """Send-Q of the server's side of each (address, port) client connection,
    read with ss(8); 0 where the connection is not found."""
    out = subprocess.run(["ss", "-tnH", "state", "established", "( sport = :%d )" % server_port],
                         capture_output=True, text=True).stdout
    queues = {}
    for line in out.splitlines():
        f = line.split()
        if len(f) < 4:
            continue
        try:
            queues[f[3]] = int(f[1])
        except ValueError:
            continue
    return [queues.get("%s:%d" % (host, p), 0) for host, p in clients]


# ---------------------------------------------------------------- the attack
def pipeline_blob(logged_in, units=256):
    """Commands a never-reading client repeats: mostly HELP, FEAT, STAT and NOOP
    (replies of ~0.1-1 KiB each), with garbage, LIST (530 before login, 425
    without PASV after), USER and, rarely, PASS (authd's work) mixed in."""
    lines = []
    for i in range(units):
        lines += ["HELP", "FEAT", "STAT", "NOOP"]
        if i % 16 == 0:
            lines += ["XYZZY garbage %d" % i, "LIST", "USER " + FULL_USER]
        if i % 128 == 127:
            lines += ["USER " + FULL_USER, "PASS " + (FULL_PASS if logged_in else "wrong-pw")]
    return ("\r\n".join(lines) + "\r\n").encode()


class _Attacker:
    """One never-reading connection (non-blocking after its optional login)."""

    def __init__(self, source, port, logged_in, rcvbuf, blobs):
        self.source, self.logged_in = source, logged_in
        self.blob = blobs[logged_in]
        self.off = 0
        self.sent = 0
        self.closed_at = None
        self.how = None
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        # A small receive window: the server's replies back up at once.
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        s.settimeout(IO_TIMEOUT)
        s.bind((source, 0))
        s.connect((HOST, port))
        if logged_in:  # the only replies it ever reads
            c = ControlConnection.__new__(ControlConnection)
            c.sock, c.buf = s, b""
            if c.reply()[0] != 220 or c.command("USER " + FULL_USER)[0] != 331 or \
                    c.command("PASS " + FULL_PASS)[0] != 230:
                s.close()
                raise ConnectionError("attacker login failed")
        s.setblocking(False)
        self.sock = s
        self.quiet_at = time.monotonic()  # from now on it never reads

    def pump(self, limit=1 << 20):
        """Sends until the socket refuses (or limit bytes); False once the server
        has closed the connection."""
        budget = limit
        while budget > 0:
            try:
                n = self.sock.send(self.blob[self.off:self.off + 65536])
            except BlockingIOError:
                return True
            except OSError as e:
                self.close_seen(e.errno == errno.ECONNRESET and "reset" or "send error")
                return False
            self.off = (self.off + n) % len(self.blob)
            self.sent += n
            budget -= n
        return True

    def close_seen(self, how):
        if self.closed_at is None:
            self.closed_at = time.monotonic()
            self.how = how


def _attack_main(conn, abort, port, sources, per_source, seconds, drain_seconds, rcvbuf,
                 reconnect):
    try:
        conn.send(_attack(abort, port, sources, per_source, seconds, drain_seconds, rcvbuf,
                          reconnect))
    except Exception as e:  # noqa: BLE001 - reported to the parent, which fails
        conn.send({"error": repr(e)})
    conn.close()


def _attack(abort, port, sources, per_source, seconds, drain_seconds, rcvbuf, reconnect):
    blobs = {False: pipeline_blob(False), True: pipeline_blob(True)}
    ep = select.epoll()
    live = {}
    done = []
    connect_errors = [0]
    hup = select.EPOLLERR | select.EPOLLHUP | select.EPOLLRDHUP

    def add(source, logged_in):
        try:
            a = _Attacker(source, port, logged_in, rcvbuf, blobs)
        except OSError:
            connect_errors[0] += 1
            return
        live[a.sock.fileno()] = a
        ep.register(a.sock.fileno(), select.EPOLLOUT | hup)

    def retire(fd, how):
        a = live.pop(fd)
        a.close_seen(how)
        ep.unregister(fd)
        a.sock.close()
        done.append(a)
        return a

    # Half of each address's connections log in first (post-login budget),
    # half never do (pre-login budget).
    for source in sources:
        for i in range(per_source):
            add(source, i % 2 == 1)
    started = time.monotonic()
    attack_end = started + seconds
    while time.monotonic() < attack_end and not abort.is_set():
        for fd, ev in ep.poll(0.05):
            a = live.get(fd)
            if a is None:
                continue
            if ev & hup:
                retire(fd, "hup")
            elif not a.pump():
                retire(fd, a.how)
            else:
                continue
            if reconnect and time.monotonic() < attack_end:
                add(a.source, a.logged_in)
    # Stop writing; every connection still open must be closed by the server.
    # Probing with a few bytes now and then notices a close whose FIN cannot
    # enter our full receive window (the reset that answers the probe can).
    for fd in live:
        ep.modify(fd, hup)
    drain_end = time.monotonic() + drain_seconds
    next_probe = 0.0
    while live and time.monotonic() < drain_end and not abort.is_set():
        for fd, ev in ep.poll(0.05):
            if fd in live:
                retire(fd, "hup")
        if time.monotonic() >= next_probe:
            next_probe = time.monotonic() + 0.25
            for fd in list(live):
                try:
                    live[fd].sock.send(b"NOOP\r\n")
                except BlockingIOError:
                    pass
                except OSError:
                    retire(fd, "probe error")
    still_open = len(live)
    # A connection still open is only evidence of a missed stall if the server
    # has replies queued for it that its kernel cannot deliver (its Send-Q).
    # One whose replies all fit in our receive window, or that waits in a
    # login back-off with nothing to send, is not detectably a non-reader.
    backed_up = server_send_queues(port, [live[fd].sock.getsockname() for fd in live])
    still_backed_up = sum(1 for q in backed_up if q > 0)
    for fd in list(live):
        live[fd].sock.close()
    ended = min(attack_end, drain_end - drain_seconds)
    closed_during = [a for a in done if a.closed_at <= ended]
    closed_after = [a for a in done if a.closed_at > ended]
    return {
        "connections": len(done) + still_open,
        "connect_errors": connect_errors[0],
        "closed_during_attack": len(closed_during),
        "closed_after_attack": len(closed_after),
        "still_open": still_open,
        "still_open_backed_up": still_backed_up,
        # seconds from "stopped reading" to the server's close, per closed connection
        "close_delays": [a.closed_at - a.quiet_at for a in done],
        # seconds from the end of the attack to the close, for those closed after it
        "close_after_end": [a.closed_at - ended for a in closed_after],
        "bytes_sent": sum(a.sent for a in done) + sum(a.sent for a in live.values()),
        "aborted": abort.is_set(),
        "attack_seconds": ended - started,
    }


class Attack:
    """attack() in a child process: start(), then result() (a dict, see _attack)."""

    def __init__(self, port, sources=("127.0.0.2", "127.0.0.3"), per_source=64, seconds=10.0,
                 drain_seconds=20.0, rcvbuf=4096, reconnect=True):
        ctx = multiprocessing.get_context("fork")
        self.parent, child = ctx.Pipe(duplex=False)
        self.abort = ctx.Event()  # set: end the attack (and the drain) now
        self.proc = ctx.Process(target=_attack_main, daemon=True,
                                args=(child, self.abort, port, tuple(sources), per_source, seconds,
                                      drain_seconds, rcvbuf, reconnect))
        self.child = child
        self.timeout = seconds + drain_seconds + 60.0

    def start(self):
        self.proc.start()
        self.child.close()
        return self

    def result(self):
        if not self.parent.poll(self.timeout):
            self.stop()
            raise AssertionError("the attack process did not report")
        r = self.parent.recv()
        self.proc.join(timeout=10)
        if "error" in r:
            raise AssertionError("the attack process failed: " + r["error"])
        return r

    def stop(self):
        if self.proc.is_alive():
            self.proc.kill()
            self.proc.join(timeout=10)


# ---------------------------------------------------------------- a normal client
def normal_downloads(port, name, sha, count=None, until=None, pause=0.0):
    """Logs in (clear) and downloads `name` one RETR after another: count times
    or until the monotonic time `until`. Returns (login seconds, [RETR seconds]);
    raises on a wrong byte or a failed transfer."""
    t0 = time.monotonic()
    f = ftplib.FTP(timeout=IO_TIMEOUT)
    try:
        f.connect(HOST, port)
        f.login(FULL_USER, FULL_PASS)
        login_s = time.monotonic() - t0
        times = []
        while (count is None or len(times) < count) and (until is None or time.monotonic() < until):
            h = hashlib.sha256()
            t = time.monotonic()
            resp = f.retrbinary("RETR " + name, h.update)
            times.append(time.monotonic() - t)
            if not resp.startswith("226") or h.hexdigest() != sha:
                raise AssertionError("download %d: %r, sha256 %s" % (len(times), resp,
                                                                    h.hexdigest()))
            if pause:
                time.sleep(pause)
        f.quit()
        return login_s, times
    finally:
        close_ftp(f)


# ---------------------------------------------------------------- churn
FINAL_TRANSFER = (226, 426, 451)


class _Control(ControlConnection):
    """A control connection that can go in and out of TLS. Final replies of
    transfers that arrive where another reply was expected (late, after REIN's
    220 for one) are collected in self.finals, not taken for that reply."""

    def __init__(self, port, tls, ctx):
        super().__init__(port, timeout=IO_TIMEOUT)
        self.tls, self.ctx = tls, ctx
        self.finals = []
        self.deferred = 0  # replies that came only after an older data socket closed
        self.reply_for(220)
        if tls:
            self.start_tls()
        self.login()

    def reply_for(self, *codes, bound=8):
        """The next reply whose code is one of `codes`, collecting transfer
        final replies that come first; any other reply fails."""
        for _ in range(bound):
            code, text = self.reply()
            if code in codes:
                return code, text
            if code in FINAL_TRANSFER:
                self.finals.append(code)
                continue
            raise AssertionError("expected %r, got %r" % (codes, text))
        raise AssertionError("expected %r: too many transfer replies %r" % (codes, self.finals))

    def start_tls(self, session=None):
        self.send("AUTH TLS")
        self.reply_for(234)
        self.sock = self.ctx.wrap_socket(self.sock, server_hostname=HOST, session=session)

    def login(self):
        self.send("USER " + FULL_USER)
        self.reply_for(331)
        self.send("PASS " + FULL_PASS)
        self.reply_for(230)
        if self.tls:
            self.send("PBSZ 0")
            self.reply_for(200)
            self.send("PROT P")
            self.reply_for(200)

    def open_data(self):
        self.send("PASV")
        _, text = self.reply_for(227)
        addr, dport = parse_pasv(text)
        return socket.create_connection((addr, dport), timeout=IO_TIMEOUT)

    def retr(self, name, data_open=None, wait=None):
        """Sends RETR; True when the transfer started (150), False when refused
        (425/450: the channel is busy). With data_open (an older data socket
        left unread), a reply that has not come within `wait` seconds is waited
        for again after that socket is closed (a server that defers the command
        until the older transfer ends)."""
        self.send("RETR " + name)
        codes = (125, 150, 425, 450)
        if data_open is None:
            return self.reply_for(*codes)[0] in (125, 150)
        self.sock.settimeout(wait)
        try:
            code, _ = self.reply_for(*codes)
        except (socket.timeout, TimeoutError):
            _close_quietly(data_open)
            self.deferred += 1
            self.sock.settimeout(IO_TIMEOUT)
            try:
                code, _ = self.reply_for(*codes)
            except (socket.timeout, TimeoutError):
                raise AssertionError("no reply to RETR within %s s of the older data "
                                     "connection's close" % IO_TIMEOUT) from None
        finally:
            self.sock.settimeout(IO_TIMEOUT)
        return code in (125, 150)

    def wrap_data(self, data):
        if not self.tls:
            return data
        return self.ctx.wrap_socket(data, server_hostname=HOST, session=self.sock.session)

    def rein(self, data_open=None, wait=None):
        """REIN, its 220 (collecting the transfer's final reply), and for TLS the
        shutdown back to clear and a new AUTH TLS. With data_open (a data socket
        left unread), a 220 that has not come within `wait` seconds is waited for
        again after that socket is closed (a server that lets the transfer
        finish first); returns whether the socket was closed here."""
        self.send("REIN")
        closed = False
        if data_open is not None:
            self.sock.settimeout(wait)
            try:
                self.reply_for(220)
            except (socket.timeout, TimeoutError):
                _close_quietly(data_open)
                closed = True
                self.deferred += 1
                self.sock.settimeout(IO_TIMEOUT)
                self.reply_for(220)
            finally:
                self.sock.settimeout(IO_TIMEOUT)
        else:
            self.reply_for(220)
        self.finish_rein(reply_read=True)
        return closed

    def finish_rein(self, reply_read=False):
        """REIN's 220 (unless already read) and, under TLS, the shutdown back to
        clear (220 sealed, close_notify: README) and a new AUTH TLS."""
        if not reply_read:
            self.reply_for(220)
        if self.tls:
            session = self.sock.session
            self.sock = self.sock.unwrap()
            self.start_tls(session)

    def quit(self):
        """QUIT, collecting late transfer replies before its 221."""
        self.send("QUIT")
        try:
            self.reply_for(221)
        finally:
            _close_quietly(self.sock)


def _read_slowly(data, chunks, chunk=64 * KIB, pause=0.002):
    for _ in range(chunks):
        if not data.recv(chunk):
            return False
        time.sleep(pause)
    return True


def _drain(data, limit=256 * MIB):
    """Reads a data connection to its end (bounded); errors end it too."""
    total = 0
    try:
        while total < limit:
            b = data.recv(256 * KIB)
            if not b:
                break
            total += len(b)
    except (OSError, ssl.SSLError):
        pass
    return total


def _close_quietly(s):
    try:
        s.close()
    except OSError:
        pass


def _reset(sock):
    """Closes a TCP socket with RST (SO_LINGER 0)."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    except OSError:
        pass
    _close_quietly(sock)


def _after_abor(c, i, finals, bad):
    """After ABOR: 426 then 225/226, or the transfer's 226 and then ABOR's
    225/226, or one 226 for both; a NOOP marks where the replies end. The first
    is the transfer's final reply."""
    c.send("NOOP")
    codes = []
    for _ in range(8):
        code, text = c.reply()
        if code == 200:
            break
        codes.append(code)
    else:
        raise AssertionError("cycle %d: no reply to NOOP after ABOR: %r" % (i, codes))
    if not codes or codes[0] not in FINAL_TRANSFER:
        bad.append("cycle %d: ABOR: no final reply for the transfer first: %r" % (i, codes))
        return
    finals[codes[0]] = finals.get(codes[0], 0) + 1
    if tuple(codes[1:]) not in ((), (225,), (226,)):
        bad.append("cycle %d: ABOR: unexpected replies %r" % (i, codes))


def _check_rein_order(c, before, i, bad):
    """With REIN deciding to abort the transfer: exactly one final reply of the
    transfer (426, or 226 for one that ended just before) came before the 220."""
    got = c.finals[before:]
    if len(got) != 1:
        bad.append("cycle %d: REIN: %d transfer replies before its 220 %r" % (i, len(got), got))


def churn(port, mode, tls, cycles, name, per_connection=10, chunks=4, rein_final_first=False):
    """Runs `cycles` transfers of `name` (a file much larger than what is read),
    each ended by `mode`:
      "rein": REIN, the data connection read to its end (a server may let the
              transfer finish or abort it), then log in again, same connection;
      "abor": ABOR, same connection;
      "disconnect": control and data closed mid-transfer, one in two by a reset.
    REIN and ABOR connections serve per_connection cycles, then QUIT. Returns a
    dict: transfers (RETRs answered 150), finals {code: count} of the transfers'
    final replies, bad (anomalies: a transfer without exactly one final reply),
    seconds."""
    ctx = tls_client_context() if tls else None
    finals, bad, transfers = {}, [], 0
    t0 = time.monotonic()
    c = None
    conn_transfers = 0

    def end_connection(conn, n):
        conn.quit()
        for code in conn.finals:
            finals[code] = finals.get(code, 0) + 1
        if mode == "rein" and len(conn.finals) != n:
            bad.append("a connection's %d REIN transfers got %d final replies %r"
                       % (n, len(conn.finals), conn.finals))

    try:
        for i in range(cycles):
            if c is None:
                c, conn_transfers = _Control(port, tls, ctx), 0
            data = c.open_data()
            if not c.retr(name):
                raise AssertionError("cycle %d: RETR refused on an idle channel" % i)
            transfers += 1
            conn_transfers += 1
            data = c.wrap_data(data)
            _read_slowly(data, chunks)
            if mode == "disconnect":
                if i % 2:
                    _reset(data)
                    _reset(c.sock)
                else:
                    _close_quietly(data)
                    _close_quietly(c.sock)
                c = None
                continue
            if mode == "rein":
                c.send("REIN")
                _drain(data)  # the server may finish the transfer or abort it
                _close_quietly(data)
                before = len(c.finals)
                c.finish_rein()
                if rein_final_first:
                    _check_rein_order(c, before, i, bad)
                c.login()
            else:
                c.send("ABOR")
                _drain(data)
                _close_quietly(data)
                _after_abor(c, i, finals, bad)
            if (i + 1) % per_connection == 0:
                end_connection(c, conn_transfers)
                c = None
        if c is not None:
            end_connection(c, conn_transfers)
            c = None
    finally:
        if c is not None:
            _close_quietly(c.sock)
    return {"transfers": transfers, "finals": finals, "bad": bad,
            "seconds": time.monotonic() - t0}


def rein_rounds(port, rounds, name, chunks=16, wait=2.0, rein_final_first=False):
    """The issue's reproduction on one clear control connection: `rounds` times
    login, PASV, RETR read slowly, REIN, leaving the old data connection open
    and unread until the next RETR has been answered (a server that finishes the
    transfer before REIN's 220, or defers the next RETR until it ends, gets the
    connection closed after `wait` s). Returns a dict like churn()'s plus
    refused (RETRs answered 425/450) and deferred (replies that came only after
    the old data connection was closed)."""
    c = _Control(port, False, None)
    transfers, refused, old, bad = 0, 0, None, []
    t0 = time.monotonic()
    try:
        for i in range(rounds):
            data = c.open_data()
            started = c.retr(name, data_open=old, wait=wait)
            if old is not None:
                _close_quietly(old)
                old = None
            if not started:
                refused += 1
                _close_quietly(data)
                continue
            transfers += 1
            _read_slowly(data, chunks)
            before = len(c.finals)
            if not c.rein(data_open=data, wait=wait):
                old = data
            if rein_final_first:
                _check_rein_order(c, before, i, bad)
            c.login()
        if old is not None:
            _close_quietly(old)
        c.quit()
    finally:
        if old is not None:
            _close_quietly(old)
        _close_quietly(c.sock)
    finals = {}
    for code in c.finals:
        finals[code] = finals.get(code, 0) + 1
    if len(c.finals) != transfers:
        bad.append("%d transfers got %d final replies %r" % (transfers, len(c.finals), c.finals))
    return {"transfers": transfers, "finals": finals, "bad": bad, "refused": refused,
            "deferred": c.deferred, "seconds": time.monotonic() - t0}


def touch_receive_buffers(port, tls, count=2048):
    """count NOOP round trips on one control connection. A worker's control
    receive buffers (a provided-buffer ring shared by all sessions: 1024 x 4 KiB
    today) become resident one by one as receives use them; touching them all
    before a baseline makes a comparison measure what stays, not the pool
    filling up."""
    c = _Control(port, tls, tls_client_context() if tls else None)
    try:
        for _ in range(count):
            c.send("NOOP")
            c.reply_for(200)
        c.quit()
    finally:
        _close_quietly(c.sock)


def settle(pid, baseline_fds, baseline_pss, pss_slack_kib, timeout=1.0, step=0.02):
    """Polls a worker for up to timeout seconds until its descriptors are back
    to baseline_fds and its PSS within pss_slack_kib of baseline_pss. Returns
    (fds, pss, seconds waited, reached)."""
    t0 = time.monotonic()
    while True:
        fds, pss = fd_count(pid), pss_kib(pid)
        waited = time.monotonic() - t0
        if fds <= baseline_fds and pss <= baseline_pss + pss_slack_kib:
            return fds, pss, waited, True
        if waited >= timeout:
            return fds, pss, waited, False
        time.sleep(step)
