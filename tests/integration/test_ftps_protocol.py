"""Explicit FTPS at the protocol level, with the default (strict) TLS policies:
required session reuse (522 for a full handshake or another session's
resumption), PROT C refused (521/534), the AUTH/PBSZ/PROT sequence and its
reply codes, the login policy, bytes pipelined behind AUTH TLS, non-TLS bytes
after 234 (421), stalled handshakes, transfers cut by a reset or a bare FIN,
an idle protected session, ticket lifetimes and the fresh TLS 1.3 ticket per
PASV/EPSV (TicketRefreshTest waits 65 s).
"""
import ftplib
import io
import os
import socket
import struct
import time
import unittest

from clients import (FULL_PASS, FULL_USER, HOST, IO_TIMEOUT, ReusingFTP_TLS, TlsServerCase,
                     close_ftp, recv_all, sha256_bytes, sha256_file, tls_client_context,
                     write_file)

MB = 1024 * 1024


def code_of(exc):
    return int(str(exc)[:3])


def transfer_reply(f, cmd, callback):
    """Runs a download the server may refuse on the data connection. Returns the
    reply that ends it: the final reply on success, the error reply otherwise
    (read after the data connection's TLS error, if there was one)."""
    try:
        return f.retrbinary(cmd, callback)
    except ftplib.Error as e:  # retrbinary read the closing reply itself
        return str(e)
    except OSError:  # the data TLS failed (SSL error, EOF, reset): the reply follows
        try:
            return f.getresp()
        except ftplib.Error as e:
            return str(e)


class SessionReuseTest(TlsServerCase):
    """require_session_reuse = true (the default)."""
    PORTS = "28500-28599"
    LIFETIME = 7200
    EXTRA = "[tls]\nsession_lifetime_seconds = %d\n" % LIFETIME

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.small = os.urandom(300000)
        cls.small_sha = write_file(os.path.join(cls.root, "small.bin"), cls.small)

    def assert_download_ok(self, f):
        chunks = []
        resp = f.retrbinary("RETR small.bin", chunks.append)
        self.assertEqual(resp[:3], "226", resp)
        self.assertEqual(sha256_bytes(b"".join(chunks)), self.small_sha)

    def check_full_handshake_refused(self, version):
        # Plain FTP_TLS starts every data connection with a full handshake.
        f = self.ftps(version, cls=ftplib.FTP_TLS)
        mark = self.log_mark()
        got = []
        reply = transfer_reply(f, "RETR small.bin", got.append)
        self.assertEqual(reply[:3], "522", "%s\nserver log:\n%s" % (reply, self.log_since(mark)))
        self.assertEqual(got, [], "data was sent on a refused data connection")
        self.assertIn("(full handshake)", self.log_since(mark))
        self.assertEqual(f.voidcmd("NOOP")[:3], "200")
        # The control session is not spoiled: resuming its session now works.
        f.__class__ = ReusingFTP_TLS
        self.assert_download_ok(f)

    def check_foreign_session_refused(self, version):
        # OpenSSL resumes a session only within the context that made it: share one.
        ctx = tls_client_context(version)
        a = self.ftps(version, context=ctx)
        b = self.ftps(version, context=ctx)
        self.assert_download_ok(b)  # B's own session resumes fine
        session = b.sock.session
        self.assertIsNotNone(session)
        self.assertTrue(session.has_ticket or session.id, "B holds no resumable session")
        a.data_session = session  # A's data connection resumes B's session
        mark = self.log_mark()
        got = []
        reply = transfer_reply(a, "RETR small.bin", got.append)
        log = self.log_since(mark)
        if reply[:3] == "226":
            self.fail("foreign-origin check not yet in the server: A's data connection "
                      "resumed B's session (client: session_reused=%s) and was accepted "
                      "(%d bytes)\nserver log:\n%s"
                      % (a.last_data_resumed, sum(map(len, got)), log))
        self.assertEqual(reply[:3], "522", "%s\nserver log:\n%s" % (reply, log))
        self.assertEqual(got, [], "data was sent on a refused data connection")
        self.assertEqual(a.voidcmd("NOOP")[:3], "200")
        a.data_session = None  # A's own session still works, and B's too
        self.assert_download_ok(a)
        self.assert_download_ok(b)

    def check_ticket_lifetime(self, version):
        # DESIGN 4: tickets outlast long sessions; [tls] session_lifetime_seconds is
        # "life of cached sessions and tickets". The hint tells the client how long
        # it may resume: a shorter one makes a long session's next transfer a full
        # handshake, i.e. a 522.
        f = self.ftps(version)
        self.assertEqual(f.nlst(), f.nlst())  # two transfers: the tickets have arrived
        hint = f.sock.session.ticket_lifetime_hint
        self.assertTrue(f.sock.session.has_ticket)
        self.assertTrue(self.LIFETIME // 2 <= hint <= self.LIFETIME,
                        "ticket lifetime hint %ds, configured session_lifetime_seconds = %d"
                        % (hint, self.LIFETIME))

    def test_ticket_lifetime_hint_follows_config_tls12(self):
        self.check_ticket_lifetime("1.2")

    def test_ticket_lifetime_hint_follows_config_tls13(self):
        self.check_ticket_lifetime("1.3")

    def test_full_handshake_on_data_gets_522_tls12(self):
        self.check_full_handshake_refused("1.2")

    def test_full_handshake_on_data_gets_522_tls13(self):
        self.check_full_handshake_refused("1.3")

    def test_resuming_another_sessions_ticket_gets_522_tls12(self):
        self.check_foreign_session_refused("1.2")

    def test_resuming_another_sessions_ticket_gets_522_tls13(self):
        self.check_foreign_session_refused("1.3")


class ProtectionRequiredTest(TlsServerCase):
    """protection = "required" (the default): PROT C transfers get 521."""
    PORTS = "28600-28699"

    def test_prot_c_transfers_refused_521(self):
        data = os.urandom(200000)
        sha = write_file(self.path("prot.bin"), data)
        f = self.ftps(prot_p=False)  # PROT stays C (draft 9: the initial level is Clear)
        got = []
        with self.assertRaises(ftplib.error_perm) as cm:
            f.retrbinary("RETR prot.bin", got.append)
        self.assertEqual(code_of(cm.exception), 521, str(cm.exception))
        self.assertEqual(got, [])
        with self.assertRaises(ftplib.error_perm) as cm:
            f.storbinary("STOR prot_c_up.bin", io.BytesIO(b"x" * 1000))
        self.assertEqual(code_of(cm.exception), 521, str(cm.exception))
        self.assertFalse(os.path.exists(self.path("prot_c_up.bin")))
        with self.assertRaises(ftplib.error_perm) as cm:
            f.retrlines("LIST", got.append)
        self.assertEqual(code_of(cm.exception), 521, str(cm.exception))
        self.assertEqual(got, [])
        # An explicit PROT C is refused by the policy.
        self.assertEqual(f.voidcmd("PBSZ 0")[:3], "200")
        with self.assertRaises(ftplib.error_perm) as cm:
            f.voidcmd("PROT C")
        self.assertEqual(code_of(cm.exception), 534, str(cm.exception))
        # PROT P then works on the same session.
        self.assertEqual(f.prot_p()[:3], "200")
        chunks = []
        f.retrbinary("RETR prot.bin", chunks.append)
        self.assertEqual(sha256_bytes(b"".join(chunks)), sha)


class CommandSequenceTest(TlsServerCase):
    """AUTH, PBSZ, PROT and FEAT replies (draft 4, 5, 9; DESIGN 4)."""
    PORTS = "28700-28749"

    def test_pbsz_and_prot_before_auth_503(self):
        c = self.raw(login=False)
        self.assertEqual(c.command("PBSZ 0")[0], 503)
        self.assertEqual(c.command("PROT P")[0], 503)
        self.assertEqual(c.command("AUTH TLS")[0], 234, "the session goes on")

    def test_prot_levels(self):
        c = self.tls_raw()
        self.assertEqual(c.command("PROT P")[0], 503, "PROT before PBSZ")
        code, text = c.command("PBSZ 0")
        self.assertEqual(code, 200, text)
        self.assertEqual(c.command("PROT S")[0], 536)
        self.assertEqual(c.command("PROT E")[0], 536)
        self.assertEqual(c.command("PROT X")[0], 504)
        self.assertEqual(c.command("PROT P")[0], 200)
        # A PBSZ other than 0 is answered PBSZ=0 (draft 9: TLS is a streaming mechanism).
        code, text = c.command("PBSZ 1024")
        self.assertEqual(code, 200, text)
        self.assertIn("PBSZ=0", text)

    def test_auth_mechanisms(self):
        c = self.raw(login=False)
        self.assertEqual(c.command("AUTH XYZ")[0], 504)
        self.assertEqual(c.command("AUTH SSL")[0], 504, "AUTH SSL is off unless configured")
        self.assertEqual(c.command("NOOP")[0], 200)
        self.assertEqual(c.command("AUTH TLS")[0], 234)
        c.sock = tls_client_context().wrap_socket(c.sock, server_hostname=HOST)
        self.assertEqual(c.command("AUTH TLS")[0], 503, "second AUTH TLS on a TLS connection")
        self.assertEqual(c.command("NOOP")[0], 200)
        self.assertEqual(c.command("USER " + FULL_USER)[0], 331)
        self.assertEqual(c.command("PASS " + FULL_PASS)[0], 230)

    def test_auth_tls_c_and_lower_case(self):
        for mech in ("TLS-C", "tls"):
            c = self.raw(login=False)
            code, text = c.command("auth " + mech)
            self.assertEqual(code, 234, "%s: %s" % (mech, text))
            c.sock = tls_client_context().wrap_socket(c.sock, server_hostname=HOST)
            self.assertEqual(c.command("NOOP")[0], 200, mech)

    def test_feat_lists_auth_pbsz_prot(self):
        def features(c):
            code, text = c.command("FEAT")
            self.assertEqual(code, 211, text)
            return [l.strip() for l in text.splitlines()[1:-1]]

        for feats in (features(self.raw(login=False)), features(self.tls_raw(login=False))):
            auth = [l for l in feats if l.split()[0].upper() == "AUTH"]
            self.assertEqual(len(auth), 1, feats)
            self.assertIn("TLS", auth[0].split(None, 1)[1].split(";"), auth)
            self.assertIn("PBSZ", feats)
            self.assertIn("PROT", feats)

    def test_user_before_auth_534(self):
        c = self.raw(login=False)
        code, text = c.command("USER " + FULL_USER)
        self.assertEqual(code, 534, text)
        self.assertNotEqual(c.command("PASS " + FULL_PASS)[0], 230)
        self.assertEqual(c.command("AUTH TLS")[0], 234)
        c.sock = tls_client_context().wrap_socket(c.sock, server_hostname=HOST)
        self.assertEqual(c.command("USER " + FULL_USER)[0], 331)
        self.assertEqual(c.command("PASS " + FULL_PASS)[0], 230)


class OptionalControlTlsTest(TlsServerCase):
    """[control] tls = "optional": login in clear works; data protection is still
    required, and PROT needs TLS, so clear transfers get 521."""
    PORTS = "28750-28799"
    EXTRA = '[control]\ntls = "optional"\n'

    def test_login_in_clear(self):
        write_file(self.path("opt.bin"), b"o" * 1000)
        f = ftplib.FTP(timeout=IO_TIMEOUT)
        self.addCleanup(close_ftp, f)
        f.connect(HOST, self.port)
        self.assertEqual(f.login(FULL_USER, FULL_PASS)[:3], "230")
        self.assertEqual(f.pwd(), "/")
        with self.assertRaises(ftplib.error_perm) as cm:
            f.retrbinary("RETR opt.bin", lambda b: None)
        self.assertEqual(code_of(cm.exception), 521, str(cm.exception))
        # And FTPS works on the same server.
        g = self.ftps()
        chunks = []
        g.retrbinary("RETR opt.bin", chunks.append)
        self.assertEqual(b"".join(chunks), b"o" * 1000)


class HandshakeTest(TlsServerCase):
    PORTS = "28800-28849"

    def test_bytes_pipelined_behind_auth_tls_are_dropped(self):
        c = self.raw(login=False)
        my_port = c.sock.getsockname()[1]
        c.sock.sendall(b"AUTH TLS\r\nUSER " + FULL_USER.encode() + b"\r\n")  # one write
        code, text = c.reply()
        self.assertEqual(code, 234, text)
        self.assertEqual(c.buf, b"", "a reply to the pipelined USER came in clear")
        c.sock = tls_client_context().wrap_socket(c.sock, server_hostname=HOST)
        self.assertEqual(c.command("NOOP")[0], 200)
        # No USER is pending: the clear "USER alice" was not carried out.
        self.assertEqual(c.command("PASS " + FULL_PASS)[0], 503)
        mine = [l for l in self.srv.stderr().splitlines() if "127.0.0.1:%d]" % my_port in l]
        self.assertTrue(any(l.endswith("> NOOP") for l in mine), "\n".join(mine))
        self.assertEqual([l for l in mine if "> USER" in l], [], "\n".join(mine))

    def read_until_closed(self, sock, timeout):
        sock.settimeout(timeout)
        data = b""
        try:
            data = recv_all(sock)
        except ConnectionResetError:
            pass
        except (TimeoutError, socket.timeout):
            self.fail("the server did not close the connection within %ss; got %r" %
                      (timeout, data))
        return data

    def test_non_tls_bytes_after_234_get_clear_421(self):
        c = self.raw(login=False)
        self.assertEqual(c.command("AUTH TLS")[0], 234)
        c.sock.sendall(b"USER " + FULL_USER.encode() + b"\r\n")  # in clear, not a ClientHello
        data = self.read_until_closed(c.sock, 10)
        self.assertTrue(data.startswith(b"421"), data)
        self.assertTrue(data.endswith(b"\r\n"), data)
        self.assertEqual(data.count(b"\r\n"), 1, data)


    def test_broken_handshake_is_dropped_without_421(self):
        # Draft 10.1: a negotiation that fails inside the TLS handshake leaves the
        # connection in an unknown state; the server drops it (a TLS alert at most),
        # with no clear 421.
        c = self.raw(login=False)
        self.assertEqual(c.command("AUTH TLS")[0], 234)
        c.sock.sendall(b"\x16\x03\x01\x00\x06" + b"\x01\x00\x00\x02\xff\xff")  # bad ClientHello
        data = self.read_until_closed(c.sock, 10)
        self.assertFalse(data.startswith(b"421"), data)
        self.assertTrue(data == b"" or data[0] == 0x15, "not a TLS alert: %r" % data)
        c2 = self.raw(login=False)  # the listener is fine
        self.assertEqual(c2.command("NOOP")[0], 200)


class StalledHandshakeTest(TlsServerCase):
    PORTS = "28850-28899"
    EXTRA = "[limits]\nhandshake_timeout_seconds = 2\n"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.data = os.urandom(8 * MB)
        cls.sha = write_file(os.path.join(cls.root, "eight.bin"), cls.data)

    def check_stall(self, after_234):
        c = self.raw(login=False)
        self.assertEqual(c.command("AUTH TLS")[0], 234)
        if after_234:
            c.sock.sendall(after_234)
        started = time.monotonic()
        # Meanwhile another session logs in and completes a protected download.
        f = self.ftps()
        chunks = []
        f.retrbinary("RETR eight.bin", chunks.append)
        self.assertEqual(sha256_bytes(b"".join(chunks)), self.sha)
        c.sock.settimeout(8)
        try:
            data = recv_all(c.sock)
        except ConnectionResetError:
            data = b""
        except (TimeoutError, socket.timeout):
            self.fail("a stalled handshake was not closed within 8 s\nserver log tail:\n%s"
                      % self.log_tail(10))
        elapsed = time.monotonic() - started
        self.assertLess(elapsed, 5.0, "closed after %.1fs" % elapsed)
        self.assertGreater(elapsed, 1.0, "closed after %.1fs, before the 2 s timeout" % elapsed)
        self.assertNotIn(b"220", data)
        self.assertEqual(f.voidcmd("NOOP")[:3], "200", "the other session is unaffected")

    def test_nothing_after_234(self):
        self.check_stall(b"")

    def test_partial_client_hello(self):
        # A TLS handshake record header announcing 512 bytes, then silence.
        self.check_stall(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03")


class TransferCutTest(TlsServerCase):
    PORTS = "29000-29099"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.big = os.urandom(20 * MB)
        cls.big_sha = write_file(os.path.join(cls.root, "big.bin"), cls.big)

    def end_reply(self, f):
        try:
            return f.voidresp()
        except ftplib.Error as e:
            return str(e)

    def check_download_reset(self, version):
        f = self.ftps(version)
        f.voidcmd("TYPE I")
        conn = f.transfercmd("RETR big.bin")
        self.addCleanup(conn.close)
        got = 0
        for _ in range(10000):  # bounded: 1 MB of records
            chunk = conn.recv(65536)
            self.assertTrue(chunk, "data connection closed early")
            got += len(chunk)
            if got >= MB:
                break
        # Abrupt close: no close_notify, and SO_LINGER 0 turns close() into a reset.
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        conn.close()
        reply = self.end_reply(f)
        self.assertIn(reply[:3], ("426", "451"), reply)
        self.assertEqual(f.voidcmd("NOOP")[:3], "200")
        chunks = []
        f.retrbinary("RETR big.bin", chunks.append)
        self.assertEqual(sha256_bytes(b"".join(chunks)), self.big_sha)

    def check_upload_bare_fin(self, version):
        name = "cut_%s.bin" % version
        old_sha = write_file(self.path(name), b"previous content\n")
        f = self.ftps(version)
        f.voidcmd("TYPE I")
        conn = f.transfercmd("STOR " + name)
        self.addCleanup(conn.close)
        conn.sendall(os.urandom(MB))
        # SSLSocket.shutdown() drops the TLS layer and shuts the TCP socket down:
        # a FIN with no close_notify before it, i.e. a truncated upload.
        conn.shutdown(socket.SHUT_RDWR)
        reply = self.end_reply(f)
        conn.close()
        self.assertIn(reply[:3], ("426", "451"), reply)
        self.assertEqual(sha256_file(self.path(name)), old_sha,
                         "a truncated atomic upload replaced the file")
        self.assertEqual(f.voidcmd("NOOP")[:3], "200")
        data = os.urandom(MB + 3)
        self.assertEqual(f.storbinary("STOR " + name, io.BytesIO(data))[:3], "226")
        self.assertEqual(sha256_file(self.path(name)), sha256_bytes(data))

    def test_download_reset_tls12(self):
        self.check_download_reset("1.2")

    def test_download_reset_tls13(self):
        self.check_download_reset("1.3")

    def test_upload_bare_fin_tls12(self):
        self.check_upload_bare_fin("1.2")

    def test_upload_bare_fin_tls13(self):
        self.check_upload_bare_fin("1.3")


class IdleSessionTest(TlsServerCase):
    PORTS = "29100-29149"

    def test_idle_protected_sessions_survive(self):
        sha = write_file(self.path("idle.bin"), os.urandom(100000))
        sessions = {v: self.ftps(v) for v in ("1.2", "1.3")}
        time.sleep(3)
        for version, f in sessions.items():
            self.assertEqual(f.voidcmd("NOOP")[:3], "200", version)
            self.assertIn("idle.bin", f.nlst(), version)
            chunks = []
            f.retrbinary("RETR idle.bin", chunks.append)
            self.assertEqual(sha256_bytes(b"".join(chunks)), sha, version)


class TicketRefreshTest(TlsServerCase):
    """TLS 1.3: the server sends a fresh ticket on the control connection with
    each PASV/EPSV, before the reply (DESIGN 4), so a control session older than
    the ticket lifetime still opens data connections. (TLS 1.2 has no
    post-handshake tickets: there the lifetime itself must outlast the session.)"""
    PORTS = "29150-29199"
    LIFETIME = 60  # the smallest session_lifetime_seconds
    EXTRA = "[tls]\nsession_lifetime_seconds = %d\n" % LIFETIME

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.sha = write_file(os.path.join(cls.root, "t.bin"), os.urandom(100000))

    def assert_download_ok(self, f):
        chunks = []
        reply = transfer_reply(f, "RETR t.bin", chunks.append)
        self.assertEqual(reply[:3], "226", "%s\nserver log tail:\n%s" % (reply, self.log_tail(8)))
        self.assertEqual(sha256_bytes(b"".join(chunks)), self.sha)
        self.assertTrue(f.last_data_resumed)

    def test_fresh_ticket_before_pasv_and_epsv_reply_tls13(self):
        f = self.ftps("1.3")
        before = f.sock.session.id
        self.assertEqual(f.voidcmd("NOOP")[:3], "200")
        self.assertEqual(f.sock.session.id, before, "a ticket came with NOOP: the check is moot")
        for verb in ("PASV", "EPSV"):
            before = f.sock.session.id
            self.assertEqual(f.sendcmd(verb)[:1], "2")
            self.assertNotEqual(f.sock.session.id, before, "no new ticket came with " + verb)

    def test_session_older_than_ticket_lifetime_tls13(self):
        f = self.ftps("1.3")
        self.assert_download_ok(f)
        time.sleep(self.LIFETIME + 5)  # the tickets of the login are expired now
        self.assertEqual(f.voidcmd("NOOP")[:3], "200")
        self.assert_download_ok(f)


if __name__ == "__main__":
    unittest.main()
