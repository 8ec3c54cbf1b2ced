"""PROXY protocol listeners (HAProxy's header, v1 and v2) on loopback.

The server keeps its plain listener on 127.0.0.1:@PORT@ (for the harness) and
adds PROXY listeners on 127.0.0.1 that trust only 127.0.0.1, the "balancer".
Tests play the balancer themselves: they connect from 127.0.0.1 and write a
header naming another loopback address as the client, which is then the
session's address everywhere (data connection checks, max_sessions_per_address,
logs). Data connections come straight to the host, from the declared client.

Hostile headers (split into single bytes, oversized, malformed, missing, from an
untrusted peer) end in a clean close that is counted and logged; the worker
keeps serving. curl's own --haproxy-protocol is the real-client check.
"""
import os
import shutil
import socket
import ssl
import struct
import subprocess
import time

from clients import (CLEAR_CONFIG, FULL_PASS, FULL_USER, HOST, IO_TIMEOUT, ClearServerCase,
                     _start_server, connect_from, parse_pasv, recv_all, sha256_bytes,
                     tls_client_context, wait_until, write_file)
from harness import TestCase, free_port, make_tmpdir, run_binary, status_counters

V2_SIGNATURE = b"\r\n\r\n\x00\r\nQUIT\n"


def v1_header(src, dst="127.0.0.1", sport=40000, dport=21):
    return ("PROXY TCP4 %s %s %d %d\r\n" % (src, dst, sport, dport)).encode()


def v2_header(src, dst="127.0.0.1", sport=40000, dport=21, tlvs=b"", command=0x21):
    body = socket.inet_aton(src) + socket.inet_aton(dst) + struct.pack("!HH", sport, dport)
    body += tlvs
    return V2_SIGNATURE + bytes([command, 0x11]) + struct.pack("!H", len(body)) + body


def counters(srv):
    return status_counters(srv.config_path)


def read_reply(sock):
    """One (single-line) reply as (code, text), or None at EOF."""
    data = b""
    while not data.endswith(b"\r\n"):
        chunk = sock.recv(1)
        if not chunk:
            return None
        data += chunk
    return int(data[:3]), data.decode()


class ProxyCase(ClearServerCase):
    PORTS = "34800-34849"
    EXTRA = "[limits]\nmax_sessions_per_address = 2\n"
    EXTRA_TOP = "workers = 1"

    @classmethod
    def setUpClass(cls):
        cls.proxy_port = free_port()
        cls.any_port = free_port()
        listen = ('[[listen]]\naddress = "127.0.0.1"\nport = %d\nproxy_protocol = "v2"\n'
                  'proxy_trusted = ["127.0.0.1/32"]\n'
                  '[[listen]]\naddress = "127.0.0.1"\nport = %d\nproxy_protocol = "any"\n'
                  'proxy_trusted = ["127.0.0.1"]\n') % (cls.proxy_port, cls.any_port)
        cls.srv = _start_server("ringftpd-proxy-", CLEAR_CONFIG, cls.PORTS, cls.EXTRA, listen,
                                cls.EXTRA_TOP)
        cls.addClassCleanup(cls.srv.__exit__, None, None, None)
        cls.port = cls.srv.port
        cls.root = cls.srv.root

    def balancer(self, header, port=None, source="127.0.0.1"):
        """A connection from the balancer's address that has sent `header`."""
        s = connect_from(source, port or self.proxy_port)
        self.addCleanup(s.close)
        if header:
            s.sendall(header)
        return s

    def command(self, sock, line):
        sock.sendall(line.encode() + b"\r\n")
        return read_reply(sock)

    def login(self, sock):
        self.assertEqual(read_reply(sock)[0], 220)
        self.assertEqual(self.command(sock, "USER " + FULL_USER)[0], 331)
        self.assertEqual(self.command(sock, "PASS " + FULL_PASS)[0], 230)

    def assert_closed_without_banner(self, sock):
        sock.settimeout(IO_TIMEOUT)
        try:
            got = recv_all(sock)
        except ConnectionResetError:
            got = b""  # closed with our header unread: a reset, and no banner
        self.assertEqual(got, b"", "a refused connection gets no banner")


class DeclaredAddressTest(ProxyCase):
    def download_through(self, header, client):
        data = os.urandom(300_000)
        sha = write_file(self.path("px-%s.bin" % client), data)
        c = self.balancer(header)
        self.login(c)
        self.assertEqual(self.command(c, "TYPE I")[0], 200)
        code, text = self.command(c, "PASV")
        self.assertEqual(code, 227, text)
        address, port = parse_pasv(text)
        self.assertEqual(address, "127.0.0.1", "PASV names this host, not the balancer")
        # The data connection comes straight to the host, from the client.
        d = connect_from(client, port)
        self.addCleanup(d.close)
        self.assertEqual(self.command(c, "RETR px-%s.bin" % client)[0], 150)
        got = recv_all(d)
        self.assertEqual(read_reply(c)[0], 226)
        self.assertEqual(sha256_bytes(got), sha)
        self.command(c, "QUIT")

    def test_v2_declared_client_is_the_sessions_address(self):
        self.download_through(v2_header("127.0.0.5"), "127.0.0.5")
        log = self.srv.stderr()
        self.assertRegex(log, r"\[127\.0\.0\.5:40000\] login ok: user alice")
        self.assertRegex(log, r"\[127\.0\.0\.5:40000\] PROXY v2 header from 127\.0\.0\.1:\d+")

    def test_v1_on_an_any_listener(self):
        c = self.balancer(v1_header("127.0.0.6", sport=41000), port=self.any_port)
        self.login(c)
        self.command(c, "QUIT")
        self.assertRegex(self.srv.stderr(), r"\[127\.0\.0\.6:41000\] login ok")

    def test_v2_with_unknown_tlvs_is_taken(self):
        tlvs = b"\xE0\x00\x05hello" + b"\x05\x00\x03abc"  # a custom type, a unique id
        c = self.balancer(v2_header("127.0.0.7", tlvs=tlvs))
        self.login(c)

    def test_data_connection_from_the_balancer_is_refused(self):
        # The session's address is the declared client: a data connection from
        # anyone else (the balancer's own address here) is port theft.
        c = self.balancer(v2_header("127.0.0.8"))
        self.login(c)
        _, port = parse_pasv(self.command(c, "PASV")[1])
        thief = connect_from("127.0.0.1", port)
        self.addCleanup(thief.close)
        thief.settimeout(IO_TIMEOUT)
        self.assertEqual(recv_all(thief), b"")
        self.assertIn("refused a data connection from 127.0.0.1", self.srv.stderr())

    def test_epsv_is_refused_behind_the_balancer_and_pasv_serves(self):
        c = self.balancer(v2_header("127.0.0.9"))
        self.login(c)
        code, text = self.command(c, "EPSV")
        self.assertEqual(code, 502, text)
        self.assertEqual(self.command(c, "PASV")[0], 227)
        # The plain listener still offers EPSV.
        plain = connect_from("127.0.0.1", self.port)
        self.addCleanup(plain.close)
        self.login(plain)
        self.assertEqual(self.command(plain, "EPSV")[0], 229)

    def test_per_address_limit_counts_declared_clients(self):
        held = []
        for _ in range(2):
            s = self.balancer(v2_header("127.0.0.10"))
            self.assertEqual(read_reply(s)[0], 220)
            held.append(s)
        third = self.balancer(v2_header("127.0.0.10"))
        code, text = read_reply(third)
        self.assertEqual(code, 421, text)
        self.assertIn("from your address", text)
        # Another client through the same balancer is not affected.
        other = self.balancer(v2_header("127.0.0.11"))
        self.assertEqual(read_reply(other)[0], 220)
        self.assertRegex(self.srv.stderr(),
                         r"\[127\.0\.0\.10:40000\] refused \(per-address limit\)")

    def test_curl_haproxy_protocol_downloads_in_active_mode(self):
        # curl writes a v1 header with its own addresses on the control
        # connection. (It writes one on every connection it opens, its passive
        # data connections too, which the server takes for data; with -P the
        # server opens the data connection, to the declared client.)
        data = os.urandom(500_000)
        sha = write_file(self.path("curl-px.bin"), data)
        out = os.path.join(self.srv.tmp, "curl-px.out")
        url = "ftp://%s:%s@127.0.0.1:%d/curl-px.bin" % (FULL_USER, FULL_PASS, self.any_port)
        r = subprocess.run(["curl", "--silent", "--show-error", "--max-time", "30",
                            "--haproxy-protocol", "-P", "127.0.0.1", "-o", out, url],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr + "\n" + self.log_tail())
        with open(out, "rb") as f:
            self.assertEqual(sha256_bytes(f.read()), sha)
        self.assertIn("PROXY v1 header from 127.0.0.1", self.srv.stderr())


class HostileHeaderTest(ProxyCase):
    def test_header_split_into_single_bytes_is_taken(self):
        header = v2_header("127.0.0.20")
        s = self.balancer(b"")
        for b in header:
            s.sendall(bytes([b]))
            time.sleep(0.002)
        self.login(s)

    def test_bad_headers_are_closed_and_counted(self):
        before = counters(self.srv)
        huge = V2_SIGNATURE + b"\x21\x11\xff\xff" + b"\x00" * 64
        no_crlf = b"PROXY TCP4 127.0.0.21 127.0.0.1 1 2" + b" " * 200
        bad_tlv = (V2_SIGNATURE + b"\x21\x11\x00\x0f" + socket.inet_aton("127.0.0.22") +
                   socket.inet_aton("127.0.0.1") + b"\x00\x01\x00\x02" + b"\x04\x00\x09")
        ftp_first = b"USER alice\r\n"
        tls_first = b"\x16\x03\x01\x00\x05hello"
        for header in (huge, no_crlf, bad_tlv, ftp_first, tls_first):
            s = self.balancer(header, port=self.any_port)
            self.assert_closed_without_banner(s)
        wait_until(lambda: counters(self.srv)["proxy_refused_malformed"] >=
                   before["proxy_refused_malformed"] + 5)
        after = counters(self.srv)
        self.assertEqual(after["proxy_refused_malformed"] - before["proxy_refused_malformed"], 5)
        log = self.srv.stderr()
        self.assertIn("bad PROXY header (v2 header is longer than 1024 bytes)", log)
        self.assertIn("bad PROXY header (v1 header has no CRLF within 107 bytes)", log)
        self.assertIn("bad PROXY header (v2 header has a malformed TLV)", log)
        self.assertIn("bad PROXY header (not a PROXY header)", log)

    def test_v1_on_a_v2_listener_is_refused(self):
        s = self.balancer(v1_header("127.0.0.23"))
        self.assert_closed_without_banner(s)
        self.assertIn("of a version this listener does not take", self.srv.stderr())

    def test_untrusted_peer_is_closed_before_its_header_is_read(self):
        before = counters(self.srv)["proxy_refused_untrusted"]
        s = self.balancer(v2_header("127.0.0.24"), source="127.0.0.2")
        self.assert_closed_without_banner(s)
        self.assertEqual(counters(self.srv)["proxy_refused_untrusted"], before + 1)
        self.assertRegex(self.srv.stderr(),
                         r"\[127\.0\.0\.2:\d+\] closed: a PROXY protocol listener's connection "
                         r"from an address not in proxy_trusted")

    def test_missing_header_times_out_and_the_worker_keeps_serving(self):
        before = counters(self.srv)["proxy_refused_timeout"]
        silent = self.balancer(b"")  # a plain FTP client waiting for a banner
        partial = self.balancer(V2_SIGNATURE[:5])
        start = time.monotonic()
        # Meanwhile the worker serves others at once.
        other = self.balancer(v2_header("127.0.0.25"))
        self.login(other)
        for s in (silent, partial):
            self.assert_closed_without_banner(s)
        self.assertLess(time.monotonic() - start, IO_TIMEOUT)
        self.assertEqual(counters(self.srv)["proxy_refused_timeout"], before + 2)
        self.assertIn("closed: no complete PROXY header within 5 s", self.srv.stderr())

    def test_health_check_local_header_is_served_as_the_balancer(self):
        s = self.balancer(v2_header("127.0.0.1", command=0x20))
        code, _ = read_reply(s)
        self.assertEqual(code, 220)
        self.command(s, "QUIT")


class ImplicitTlsProxyTest(ClearServerCase):
    """An implicit-TLS PROXY listener: the client's ClientHello arrives in the
    same segment as the header, and must reach TLS intact."""
    PORTS = "34850-34899"
    EXTRA_TOP = "workers = 1"

    @classmethod
    def setUpClass(cls):
        cls.implicit_port = free_port()
        listen = ('[[listen]]\naddress = "127.0.0.1"\nport = %d\nimplicit_tls = true\n'
                  'proxy_protocol = "v2"\nproxy_trusted = ["127.0.0.1"]\n') % cls.implicit_port
        cls.srv = _start_server("ringftpd-proxy-tls-", CLEAR_CONFIG, cls.PORTS, "", listen,
                                cls.EXTRA_TOP)
        cls.addClassCleanup(cls.srv.__exit__, None, None, None)
        cls.port = cls.srv.port
        cls.root = cls.srv.root

    def test_client_hello_coalesced_with_the_header(self):
        ctx = tls_client_context()
        incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
        tls = ctx.wrap_bio(incoming, outgoing)
        try:
            tls.do_handshake()
        except ssl.SSLWantReadError:
            pass
        hello = outgoing.read()
        self.assertTrue(hello)
        sock = connect_from("127.0.0.1", self.implicit_port)
        self.addCleanup(sock.close)
        sock.sendall(v2_header("127.0.0.30") + hello)  # one segment
        deadline = time.monotonic() + IO_TIMEOUT
        while True:
            self.assertLess(time.monotonic(), deadline)
            try:
                tls.do_handshake()
                break
            except ssl.SSLWantReadError:
                pending = outgoing.read()
                if pending:
                    sock.sendall(pending)
                chunk = sock.recv(65536)
                self.assertTrue(chunk, "closed during the handshake:\n" + self.log_tail())
                incoming.write(chunk)
        pending = outgoing.read()
        if pending:
            sock.sendall(pending)
        banner = b""
        while not banner.endswith(b"\r\n"):
            try:
                banner += tls.read(4096)
            except ssl.SSLWantReadError:
                chunk = sock.recv(65536)
                self.assertTrue(chunk)
                incoming.write(chunk)
        self.assertTrue(banner.startswith(b"220"), banner)
        self.assertRegex(self.srv.stderr(), r"\[127\.0\.0\.30:40000\] PROXY v2 header")


class ConfigTest(TestCase):
    def check(self, listen):
        d = make_tmpdir("ringftpd-proxy-cfg-")
        self.addCleanup(shutil.rmtree, d, True)
        path = os.path.join(d, "c.toml")
        with open(path, "w") as f:
            f.write('[[listen]]\naddress = "127.0.0.1"\nport = 2999\n' + listen)
        return run_binary(["--check-config", "--config", path])

    def test_proxy_protocol_without_trusted_balancers_is_an_error(self):
        r = self.check('proxy_protocol = "v2"\n')
        self.assertNotEqual(r.returncode, 0)
        self.assertRegex(r.stderr, r"c\.toml:\d+:\d+: .*proxy_trusted is missing")

    def test_trusted_without_proxy_protocol_is_an_error(self):
        r = self.check('proxy_trusted = ["10.0.0.0/8"]\n')
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("proxy_trusted is set but proxy_protocol is off", r.stderr)

    def test_bad_values(self):
        r = self.check('proxy_protocol = "v3"\nproxy_trusted = ["10.0.0.0/8"]\n')
        self.assertRegex(r.stderr, r"c\.toml:4:\d+: .*proxy_protocol")
        r = self.check('proxy_protocol = "v2"\nproxy_trusted = ["10.0.0.1/8"]\n')
        self.assertRegex(r.stderr, r"c\.toml:5:\d+: .*bits set past the prefix length")
