"""[shared]: TLS state shared across hosts through Redis (docs/scale-out.md).

A real redis-server on 127.0.0.1 (a port and directory of its own, stopped by
pid) and two ringftpd instances standing for two hosts: their own state
directories and control ports, the same certificate, secret file and Redis.
A TLS session made on A resumes on B (B counts a resumed control handshake);
a record planted in Redis without the secret is ignored, counted and logged;
with Redis stopped, both keep serving, and say so."""
import os
import shutil
import signal
import socket
import ssl
import subprocess
import time

from clients import start_tls_server, tls_client_context, wait_until
from harness import IS_ROOT, make_tmpdir
from harness import TestCase as HarnessCase
from test_processes import login, status, tls_control

REDIS_PORT = 16379  # < 32768: outside the ephemeral range, used by no other test
PORTS_A = "33810-33829"
PORTS_B = "33830-33849"
PREFIX = "it-shared"


def redis_cli(*args):
    r = subprocess.run(["redis-cli", "-h", "127.0.0.1", "-p", str(REDIS_PORT)] + list(args),
                       capture_output=True, text=True, timeout=10)
    if r.returncode != 0:
        raise AssertionError("redis-cli %r: %s" % (args, r.stderr))
    return r.stdout.strip()


def port_open(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


def resumes(port_from, port_to, version="1.2", by_id=False):
    """A session made on port_from, offered to port_to: was it resumed?
    by_id: TLS 1.2 without tickets (resumption by session ID)."""
    ctx = tls_client_context(version)
    if by_id:
        ctx.options |= ssl.OP_NO_TICKET
    first, _ = tls_control(port_from, context=ctx)
    login(first)
    if version == "1.3":
        first.command("NOOP")  # the server's ticket arrives after the handshake
    session = first.sock.session
    first.command("QUIT")
    first.close()
    second, _ = tls_control(port_to, session=session, context=ctx)
    reused = second.sock.session_reused
    login(second)
    second.command("QUIT")
    second.close()
    return reused


def serves(port):
    """A fresh TLS control connection logs in."""
    c, _ = tls_control(port)
    login(c)
    c.command("QUIT")
    c.close()
    return True


class SharedRedisTest(HarnessCase):
    def setUp(self):
        HarnessCase.setUp(self)
        if shutil.which("redis-server") is None:
            self.fail("redis-server is not installed (tools/install-deps.sh)")
        self.assertFalse(port_open(REDIS_PORT), "port %d is taken" % REDIS_PORT)
        self.tmp = make_tmpdir("ringftpd-shared-")
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.redis = None
        self.start_redis()
        self.addCleanup(self.stop_redis)

        secret = os.path.join(self.tmp, "secret")
        with open(secret, "wb") as f:
            f.write(os.urandom(48))
        os.chmod(secret, 0o600)  # read by the master before it drops privileges
        cert, key = os.path.join(self.tmp, "cert.pem"), os.path.join(self.tmp, "key.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                        "ec_paramgen_curve:P-256", "-nodes", "-days", "2", "-subj",
                        "/CN=ftp.cluster.test", "-keyout", key, "-out", cert],
                       check=True, capture_output=True, timeout=30)
        if IS_ROOT:
            os.chmod(key, 0o600)
        extra = """
[tls]
certificate = "{cert}"
private_key = "{key}"
[shared]
redis = "tcp:127.0.0.1:{port}"
secret_file = "{secret}"
key_prefix = "{prefix}"
redis_timeout_ms = 200
""".format(cert=cert, key=key, port=REDIS_PORT, secret=secret, prefix=PREFIX)
        self.a = start_tls_server(PORTS_A, extra)
        self.addCleanup(self.a.__exit__, None, None, None)
        self.b = start_tls_server(PORTS_B, extra)
        self.addCleanup(self.b.__exit__, None, None, None)

    def start_redis(self):
        self.redis = subprocess.Popen(
            ["redis-server", "--port", str(REDIS_PORT), "--bind", "127.0.0.1", "--dir", self.tmp,
             "--save", "", "--appendonly", "no", "--daemonize", "no"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
        self.assertTrue(wait_until(lambda: port_open(REDIS_PORT), timeout=10), "redis did not start")

    def stop_redis(self):
        if self.redis is not None and self.redis.poll() is None:
            os.kill(self.redis.pid, signal.SIGTERM)
            try:
                self.redis.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.kill(self.redis.pid, signal.SIGKILL)
                self.redis.wait()
        self.redis = None

    def totals(self, srv):
        return status(srv)[0]

    def test_a_session_from_a_resumes_on_b_and_service_survives_redis(self):
        # Both hosts follow the cluster's key; exactly one of them rotates it.
        self.assertTrue(wait_until(
            lambda: all(self.totals(s).get("shared_key_picks", 0) >= 1 for s in (self.a, self.b)),
            timeout=15), "no host picked up a cluster key")
        wins = sum(self.totals(s).get("shared_lease_wins", 0) for s in (self.a, self.b))
        self.assertEqual(wins, 1)
        self.assertEqual(redis_cli("HLEN", PREFIX + ":tls:ticket-keys"), "1")
        # The key seals from its not_before (a few seconds on): until then
        # each host still seals with its own.
        before = self.totals(self.b).get("control_tls_resumed", 0)
        self.assertTrue(wait_until(lambda: resumes(self.a.port, self.b.port), timeout=15, step=0.5),
                        "a TLS 1.2 session (ticket) from A never resumed on B")
        self.assertTrue(resumes(self.b.port, self.a.port), "B -> A")
        self.assertTrue(resumes(self.a.port, self.b.port, "1.3"), "TLS 1.3 ticket A -> B")
        self.assertGreaterEqual(self.totals(self.b)["control_tls_resumed"], before + 2)

        # TLS 1.2 by session ID (no ticket): A copies the session to Redis
        # (sealed), and B, which does not hold it, fetches it there while the
        # ClientHello waits.
        self.assertTrue(wait_until(lambda: resumes(self.a.port, self.b.port, by_id=True),
                                   timeout=10, step=0.2),
                        "a TLS 1.2 session ID from A never resumed on B")
        self.assertGreaterEqual(self.totals(self.a).get("shared_sessions_stored", 0), 1)
        self.assertGreaterEqual(self.totals(self.b).get("shared_lookup_hits", 0), 1)
        stored = redis_cli("--scan", "--pattern", PREFIX + ":tls:session:*").split()
        self.assertGreaterEqual(len(stored), 1)
        self.assertGreater(int(redis_cli("PTTL", stored[0])), 0)

        # A stranger who can write to Redis but lacks the secret plants a key.
        # (Version 1, kind "ticket key", the right length: only the MAC is wrong.)
        redis_cli("HSET", PREFIX + ":tls:ticket-keys", "0badf00d", "\x01\x01" + "x" * 135)
        self.assertTrue(wait_until(
            lambda: self.totals(self.a).get("shared_records_rejected", 0) >= 1, timeout=10))
        self.assertTrue("ignored 1 ticket key record(s) in Redis that are not ours: 0badf00d "
                        "(MAC mismatch)" in self.a.stderr(), "the rejection is logged")
        self.assertTrue(resumes(self.a.port, self.b.port), "a planted record changes nothing")

        # Redis gone: both keep serving from local state, and say so.
        self.stop_redis()
        for s in (self.a, self.b):
            self.assertTrue(wait_until(
                lambda: self.totals(s).get("shared_redis_errors", 0) >= 1, timeout=10))
            self.assertIn("unreachable", s.stderr())
            self.assertTrue(serves(s.port))
            self.assertTrue(resumes(s.port, s.port), "a host resumes its own sessions")
        # A session ID B does not hold: no Redis to ask, a full handshake.
        misses = self.totals(self.b).get("shared_lookup_misses", 0)
        self.assertFalse(resumes(self.a.port, self.b.port, by_id=True))
        self.assertGreater(self.totals(self.b).get("shared_lookup_misses", 0), misses)
        # Keys adopted before the outage still open on both.
        self.assertTrue(resumes(self.a.port, self.b.port))

        # Redis back (empty: it kept nothing): the hosts make and follow a new
        # cluster key, and resumption across hosts goes on.
        picks = {s.port: self.totals(s).get("shared_key_picks", 0) for s in (self.a, self.b)}
        self.start_redis()
        self.assertTrue(wait_until(
            lambda: all(self.totals(s).get("shared_key_picks", 0) > picks[s.port]
                        for s in (self.a, self.b)), timeout=15))
        self.assertIn("reachable: sharing", self.b.stderr().split("unreachable")[-1])
        self.assertTrue(wait_until(lambda: resumes(self.b.port, self.a.port), timeout=15, step=0.5))

if __name__ == "__main__":
    import unittest
    unittest.main()
