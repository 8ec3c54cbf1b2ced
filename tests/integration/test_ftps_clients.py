"""Explicit FTPS (AUTH TLS, PROT P, required session reuse) with real clients:
curl, lftp and Python's ftplib, each over TLS 1.2 and TLS 1.3; implicit FTPS
with curl. The server runs with its default (strict) TLS policies.

Every transferred byte is compared by sha256 against the source; the server's
log confirms the TLS version that was negotiated.
"""
import ftplib
import io
import os
import shutil
import tempfile
import unittest

from clients import (FULL_PASS, FULL_USER, HOST, TlsServerCase, curl_tls_args, run_lftp_tls,
                     sha256_bytes, sha256_file, write_file)
from harness import ControlConnection, free_port

MB = 1024 * 1024
NAMES = {"alpha.txt", "beta.bin", "gamma"}


class LocalDirMixin:
    def local(self, name):
        if not hasattr(self, "_local"):
            self._local = tempfile.mkdtemp(prefix="ringftpd-local-")
            self.addCleanup(shutil.rmtree, self._local, True)
        return os.path.join(self._local, name)


def make_tree(root):
    """The listing directory and a 20 MB random file; returns (data, sha256)."""
    d = os.path.join(root, "listing")
    os.mkdir(d)
    write_file(os.path.join(d, "alpha.txt"), b"alpha\n")
    write_file(os.path.join(d, "beta.bin"), os.urandom(1234))
    os.mkdir(os.path.join(d, "gamma"))
    big = os.urandom(20 * MB)
    return big, write_file(os.path.join(root, "big.bin"), big)


def last_words(text):
    return {l.split()[-1] for l in text.splitlines() if l.strip()}


class CurlFtpsTest(LocalDirMixin, TlsServerCase):
    PORTS = "28000-28099"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.big, cls.big_sha = make_tree(cls.root)

    def curl_tls(self, version, *args):
        return self.curl(*(curl_tls_args(version) + list(args)))

    def check_list(self, version):
        mark = self.log_mark()
        out = self.curl_tls(version, self.url("listing/")).stdout.decode()
        self.assertEqual(last_words(out), NAMES, out)
        self.assert_tls_version_logged(mark, version)

    def check_download(self, version):
        mark = self.log_mark()
        out = self.local("big")
        self.curl_tls(version, "-o", out, self.url("big.bin"))
        self.assertEqual(sha256_file(out), self.big_sha)
        self.assert_tls_version_logged(mark, version)

    def check_upload(self, version):
        mark = self.log_mark()
        src = self.local("up")
        sha = write_file(src, os.urandom(5 * MB + 7))
        name = "curl_up_%s.bin" % version
        self.curl_tls(version, "-T", src, self.url(name))
        self.assertEqual(sha256_file(self.path(name)), sha)
        self.assert_tls_version_logged(mark, version)

    def test_list_tls12(self):
        self.check_list("1.2")

    def test_list_tls13(self):
        self.check_list("1.3")

    def test_download_tls12(self):
        self.check_download("1.2")

    def test_download_tls13(self):
        self.check_download("1.3")

    def test_upload_tls12(self):
        self.check_upload("1.2")

    def test_upload_tls13(self):
        self.check_upload("1.3")

    def test_ssl_reqd_without_tls_is_refused_in_clear(self):
        # The same URL without --ssl-reqd: curl sends USER in clear, the policy says 534.
        r = self.curl(self.url("listing/"), check=False)
        self.assertEqual(r.returncode, 67, r.stderr)  # CURLE_LOGIN_DENIED
        self.assertIn(b"534", r.stderr)


class LftpFtpsTest(LocalDirMixin, TlsServerCase):
    PORTS = "28100-28199"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.big, cls.big_sha = make_tree(cls.root)

    def lftp_tls(self, version, commands):
        return run_lftp_tls(self, self.port, commands, version)

    def check_ls(self, version):
        mark = self.log_mark()
        out = self.lftp_tls(version, "cd listing; ls").stdout.decode()
        self.assertEqual(last_words(out), NAMES, out)
        self.assert_tls_version_logged(mark, version)

    def check_get(self, version):
        mark = self.log_mark()
        out = self.local("big")
        self.lftp_tls(version, "get big.bin -o %s" % out)
        self.assertEqual(sha256_file(out), self.big_sha)
        self.assert_tls_version_logged(mark, version)

    def check_put(self, version):
        mark = self.log_mark()
        src = self.local("up")
        sha = write_file(src, os.urandom(3 * MB + 5))
        name = "lftp_up_%s.bin" % version
        self.lftp_tls(version, "put %s -o %s" % (src, name))
        self.assertEqual(sha256_file(self.path(name)), sha)
        self.assert_tls_version_logged(mark, version)

    def test_ls_tls12(self):
        self.check_ls("1.2")

    def test_ls_tls13(self):
        self.check_ls("1.3")

    def test_get_tls12(self):
        self.check_get("1.2")

    def test_get_tls13(self):
        self.check_get("1.3")

    def test_put_tls12(self):
        self.check_put("1.2")

    def test_put_tls13(self):
        self.check_put("1.3")


class FtplibFtpsTest(TlsServerCase):
    PORTS = "28200-28399"
    UPLOADS = 20

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.big, cls.big_sha = make_tree(cls.root)

    def check_mlsd(self, version):
        f = self.ftps(version)
        self.assertEqual(f.sock.version(), "TLSv" + version)
        entries = dict(f.mlsd("listing", facts=["type", "size"]))
        self.assertEqual(set(entries) - {".", ".."}, NAMES)
        self.assertEqual(entries["beta.bin"]["size"], "1234")
        self.assertEqual(entries["gamma"]["type"], "dir")

    def check_download(self, version):
        f = self.ftps(version)
        chunks = []
        resp = f.retrbinary("RETR big.bin", chunks.append)
        self.assertEqual(resp[:3], "226", resp)
        self.assertEqual(sha256_bytes(b"".join(chunks)), self.big_sha)

    def check_uploads(self, version):
        """UPLOADS uploads of about 300 KB on one session, every one checked on disk."""
        mark = self.log_mark()
        f = self.ftps(version)
        failures = []
        for i in range(self.UPLOADS):
            data = os.urandom(300 * 1024 + i)
            name = "many_%s_%02d.bin" % (version, i)
            try:
                resp = f.storbinary("STOR " + name, io.BytesIO(data))
                if resp[:3] != "226":
                    failures.append("%d: reply %s" % (i, resp))
                elif sha256_file(self.path(name)) != sha256_bytes(data):
                    failures.append("%d: sha256 mismatch on disk (%d of %d bytes)"
                                    % (i, os.path.getsize(self.path(name)), len(data)))
            except Exception as e:  # counted, reported below
                failures.append("%d: %r" % (i, e))
                if not isinstance(e, ftplib.Error):
                    break  # the session is gone: the rest would fail the same way
        self.assertEqual(failures, [], "server log tail:\n" + self.log_tail(12))
        self.assertEqual(f.voidcmd("NOOP")[:3], "200")
        self.assert_tls_version_logged(mark, version)
        self.assertEqual(self.log_since(mark).count("(resumed)"), self.UPLOADS)

    def test_mlsd_tls12(self):
        self.check_mlsd("1.2")

    def test_mlsd_tls13(self):
        self.check_mlsd("1.3")

    def test_download_tls12(self):
        self.check_download("1.2")

    def test_download_tls13(self):
        self.check_download("1.3")

    def test_20_uploads_tls12(self):
        self.check_uploads("1.2")

    def test_20_uploads_tls13(self):
        self.check_uploads("1.3")


class ImplicitFtpsTest(LocalDirMixin, TlsServerCase):
    """An implicit-TLS listener next to the explicit one."""
    PORTS = "28400-28499"

    @classmethod
    def setUpClass(cls):
        cls.implicit_port = free_port()
        cls.EXTRA_LISTEN = ('[[listen]]\naddress = "127.0.0.1"\nport = %d\nimplicit_tls = true\n'
                            % cls.implicit_port)
        super().setUpClass()
        cls.big, cls.big_sha = make_tree(cls.root)

    def implicit_url(self, path=""):
        return "ftps://%s:%s@%s:%d/%s" % (FULL_USER, FULL_PASS, HOST, self.implicit_port, path)

    def check(self, version):
        pin = ["--tls-max", "1.2"] if version == "1.2" else ["--tlsv1.3"]
        mark = self.log_mark()
        out = self.curl("-k", *pin, self.implicit_url("listing/")).stdout.decode()
        self.assertEqual(last_words(out), NAMES, out)
        dest = self.local("big")
        self.curl("-k", *pin, "-o", dest, self.implicit_url("big.bin"))
        self.assertEqual(sha256_file(dest), self.big_sha)
        self.assert_tls_version_logged(mark, version)

    def test_implicit_list_and_download_tls12(self):
        self.check("1.2")

    def test_implicit_list_and_download_tls13(self):
        self.check("1.3")

    def test_plain_ftp_on_implicit_port_gets_no_greeting(self):
        # A clear client on the implicit port: the server waits for a ClientHello, and
        # what it gets is not TLS, so no clear 220 ever comes.
        c = ControlConnection(self.implicit_port, timeout=3)
        self.addCleanup(c.close)
        try:
            c.sock.sendall(b"USER alice\r\n")
            data = c.sock.recv(4096)
        except (ConnectionError, TimeoutError, OSError):
            data = b""
        self.assertFalse(data.startswith(b"220"), data)


if __name__ == "__main__":
    unittest.main()
