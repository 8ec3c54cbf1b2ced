"""[metrics]: the scrape endpoint served by the metricsd helper, checked with the
real thing. Traffic (two FTPS logins with a protected download, one failed
login), then Debian's prometheus 2.42 scrapes the server every second and its
HTTP API must return the series with the values the test caused; promtool
must accept the exposition text. Bad requests get a short 404/405 or a close.
"""
import ftplib
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import unittest
import urllib.parse
import urllib.request

from clients import (FULL_PASS, FULL_USER, HOST, IO_TIMEOUT, ReusingFTP_TLS, TlsServerCase,
                     tls_client_context, write_file)
from harness import free_port

PROMETHEUS = shutil.which("prometheus")
PROMTOOL = shutil.which("promtool")
METRICS_PORT = free_port()
FILE_BYTES = 3 * 1024 * 1024
SERIES_TIMEOUT = 60  # seconds for prometheus to start and scrape what the test did


def http_get(port, path, method="GET", headers=None):
    c = http.client.HTTPConnection(HOST, port, timeout=IO_TIMEOUT)
    try:
        c.request(method, path, headers=headers or {})
        r = c.getresponse()
        return r.status, dict(r.getheaders()), r.read().decode()
    finally:
        c.close()


class Prometheus:
    """Debian's prometheus on loopback, scraping one target every second,
    storage in a temporary directory. Stopped by its pid."""

    def __init__(self, target):
        self.tmp = tempfile.mkdtemp(prefix="ringftpd-prom-")
        self.port = free_port()
        config = os.path.join(self.tmp, "prometheus.yml")
        with open(config, "w") as f:
            f.write("global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
                    "scrape_configs:\n  - job_name: ringftpd\n"
                    "    static_configs:\n      - targets: ['%s']\n" % target)
        self.log = open(os.path.join(self.tmp, "prometheus.log"), "w")
        self.proc = subprocess.Popen(
            [PROMETHEUS, "--config.file=" + config,
             "--storage.tsdb.path=" + os.path.join(self.tmp, "data"),
             "--web.listen-address=%s:%d" % (HOST, self.port)],
            stdout=self.log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)

    def query(self, expr):
        """The instant vector of expr: [(labels, float value)], or None while
        prometheus is not answering yet."""
        url = "http://%s:%d/api/v1/query?%s" % (HOST, self.port,
                                                urllib.parse.urlencode({"query": expr}))
        try:
            with urllib.request.urlopen(url, timeout=IO_TIMEOUT) as r:
                body = json.load(r)
        except OSError:
            return None
        if body.get("status") != "success":
            return None
        return [(s["metric"], float(s["value"][1])) for s in body["data"]["result"]]

    def value(self, expr):
        result = self.query(expr)
        return result[0][1] if result and len(result) == 1 else None

    def log_text(self):
        self.log.flush()
        with open(os.path.join(self.tmp, "prometheus.log")) as f:
            return f.read()[-3000:]

    def stop(self):
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.log.close()
        shutil.rmtree(self.tmp, ignore_errors=True)


class MetricsTest(TlsServerCase):
    PORTS = "32500-32599"
    EXTRA_TOP = "workers = 2"
    EXTRA = "[metrics]\naddress = \"127.0.0.1\"\nport = %d\n" % METRICS_PORT

    def scrape(self):
        status, headers, body = http_get(METRICS_PORT, "/metrics")
        self.assertEqual(status, 200, body)
        self.assertTrue(headers["Content-Type"].startswith("text/plain; version=0.0.4"), headers)
        return body

    def test_prometheus_scrapes_what_the_sessions_did(self):
        self.assertIsNotNone(PROMETHEUS, "prometheus is not installed (tools/install-deps.sh)")
        self.assertIsNotNone(PROMTOOL, "promtool is not installed (tools/install-deps.sh)")
        write_file(self.path("metrics.bin"), os.urandom(FILE_BYTES))
        for _ in range(2):
            f = self.ftps()
            got = []
            f.retrbinary("RETR metrics.bin", got.append)
            self.assertEqual(sum(map(len, got)), FILE_BYTES)
            self.assertTrue(f.last_data_resumed)
            f.quit()
        bad = ReusingFTP_TLS(context=tls_client_context(), timeout=IO_TIMEOUT)
        bad.connect(HOST, self.port)
        with self.assertRaises(ftplib.error_perm):
            bad.login(FULL_USER, FULL_PASS + "-wrong")
        bad.close()

        text = self.scrape()
        check = subprocess.run([PROMTOOL, "check", "metrics"], input=text, text=True,
                               capture_output=True, timeout=30)
        self.assertEqual(check.returncode, 0, check.stdout + check.stderr + "\n" + text[:2000])

        prom = Prometheus("%s:%d" % (HOST, METRICS_PORT))
        self.addCleanup(prom.stop)
        # The failed login is counted when its (delayed) 530 is decided: wait
        # for every figure, not just the first.
        wanted = {
            'ringftpd_logins_total{result="ok"}': 2,
            'ringftpd_logins_total{result="failed"}': 1,
            'ringftpd_login_duration_seconds_count': 2,
            'ringftpd_transfers_total{result="ok"}': 2,
            'ringftpd_tls_handshakes_total{channel="data",kind="resumed"}': 2,
            'ringftpd_data_connection_setup_seconds_count': 2,
            'sum(ringftpd_worker_logins_total{result="ok"})': 2,
        }
        deadline = time.monotonic() + SERIES_TIMEOUT
        seen = {}
        while time.monotonic() < deadline:
            self.assertIsNone(prom.proc.poll(), "prometheus exited:\n" + prom.log_text())
            seen = {q: prom.value(q) for q in wanted}
            if seen == wanted:
                break
            time.sleep(0.5)
        self.assertEqual(seen, wanted, prom.log_text())
        self.assertEqual(prom.value('up{job="ringftpd"}'), 1)
        self.assertGreaterEqual(prom.value("ringftpd_data_sent_bytes_total"), 2 * FILE_BYTES)
        self.assertEqual(prom.value("ringftpd_workers"), 2)
        # Per worker: one series per live worker, labelled with its slot.
        workers = prom.query("ringftpd_worker_sessions_total")
        self.assertEqual(sorted(m["worker"] for m, _ in workers), ["1", "2"])
        self.assertEqual(sum(v for _, v in workers), prom.value("ringftpd_sessions_total"))
        # A login takes at least the password check: the sum is above zero and
        # the +Inf bucket holds every observation.
        self.assertGreater(prom.value("ringftpd_login_duration_seconds_sum"), 0)
        self.assertEqual(prom.value('ringftpd_login_duration_seconds_bucket{le="+Inf"}'), 2)
        self.assertIsNotNone(prom.value("ringftpd_tls_session_cache_entries"))
        self.assertEqual(prom.value('ringftpd_sessions_refused_total{reason="per_address"}'), 0)

    def test_bad_requests_get_a_short_error_or_a_close(self):
        status, _, body = http_get(METRICS_PORT, "/")
        self.assertEqual((status, body), (404, "not found\n"))
        status, _, body = http_get(METRICS_PORT, "/metrics/../etc/passwd")
        self.assertEqual(status, 404)
        status, headers, _ = http_get(METRICS_PORT, "/metrics", method="POST")
        self.assertEqual(status, 405)
        self.assertEqual(headers.get("Allow"), "GET, HEAD")
        status, _, _ = http_get(METRICS_PORT, "/metrics", method="DELETE")
        self.assertEqual(status, 405)
        # Headers beyond the per-connection memory limit: an error status or
        # a close, never a scrape.
        try:
            status, _, _ = http_get(METRICS_PORT, "/metrics", headers={"X-Big": "a" * 64 * 1024})
            self.assertGreaterEqual(status, 400)
        except (ConnectionError, http.client.HTTPException):
            pass
        # A client that connects and sends half a request is cut by the
        # connection timeout (5 s), not kept forever.
        with socket.create_connection((HOST, METRICS_PORT), timeout=15) as s:
            s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n")
            start = time.monotonic()
            try:
                rest = s.recv(4096)
            except ConnectionError:
                rest = b""
            self.assertEqual(rest, b"")
            self.assertLess(time.monotonic() - start, 12)
        # And a scrape still works, and so does the FTP side (no login here:
        # the other test counts logins).
        self.assertIn("ringftpd_sessions_total", self.scrape())
        with socket.create_connection((HOST, self.port), timeout=IO_TIMEOUT) as s:
            self.assertTrue(s.recv(256).startswith(b"220"))


if __name__ == "__main__":
    unittest.main()
