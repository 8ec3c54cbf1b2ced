"""Clear-mode FTP (control tls = optional, data clear_only) with real clients:
curl, lftp and Python's ftplib. Listings, downloads, uploads, resume, 200
concurrent sessions, and IPv6 on ::1.

Every transferred byte is compared by sha256 against the source.
"""
import calendar
import concurrent.futures
import ftplib
import io
import os
import re
import shutil
import socket
import tempfile
import threading
import time
import unittest

from clients import (FULL_PASS, FULL_USER, HOST, IO_TIMEOUT, RO_PASS, RO_USER, ClearServerCase,
                     close_ftp, ipv6_loopback_usable, quiet_port_window, read_file, sha256_bytes,
                     sha256_file, write_file)

MB = 1024 * 1024
TEMP_NAME = re.compile(r"\.ringftpd-[0-9a-f]+$")


def utc_stamp(t):
    return time.strftime("%Y%m%d%H%M%S", time.gmtime(t))


class LocalDirMixin:
    def local(self, name):
        if not hasattr(self, "_local"):
            self._local = tempfile.mkdtemp(prefix="ringftpd-local-")
            self.addCleanup(shutil.rmtree, self._local, True)
        return os.path.join(self._local, name)

    def assert_no_temp_files(self, directory):
        leftovers = [n for n in os.listdir(directory) if TEMP_NAME.search(n)]
        self.assertEqual(leftovers, [], "temporary upload files left behind")


class ListingTest(ClearServerCase):
    PORTS = "20000-20499"
    NAMES = {"alpha.txt", "beta.bin", "gamma"}
    ALPHA_TIME = calendar.timegm((2021, 3, 4, 5, 6, 7))

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        d = os.path.join(cls.root, "listing")
        os.mkdir(d)
        write_file(os.path.join(d, "alpha.txt"), b"alpha\n")
        write_file(os.path.join(d, "beta.bin"), os.urandom(1234))
        os.mkdir(os.path.join(d, "gamma"))
        os.utime(os.path.join(d, "alpha.txt"), (cls.ALPHA_TIME, cls.ALPHA_TIME))

    def list_lines(self, text):
        return [l for l in text.splitlines() if l.strip()]

    def test_curl_list(self):
        out = self.curl(self.url("listing/")).stdout.decode()
        lines = self.list_lines(out)
        self.assertEqual({l.split()[-1] for l in lines}, self.NAMES, out)
        by_name = {l.split()[-1]: l for l in lines}
        self.assertRegex(by_name["alpha.txt"],
                         r"^-rw\S*\s+\d+\s+\S+\s+\S+\s+6 Mar  4  2021 alpha\.txt$")
        self.assertRegex(by_name["beta.bin"], r"^-\S+\s+\d+\s+\S+\s+\S+\s+1234 ")
        self.assertTrue(by_name["gamma"].startswith("d"), by_name["gamma"])

    def test_curl_nlst_and_nlst_dash_l(self):
        out = self.curl("--list-only", self.url("listing/")).stdout.decode()
        self.assertEqual(sorted(self.list_lines(out)), sorted(self.NAMES))
        # "NLST -l": the option must not be taken for a path; whatever the format, every
        # line ends with one of the names.
        out = self.curl("-X", "NLST -l", self.url("listing/")).stdout.decode()
        self.assertEqual({l.split()[-1] for l in self.list_lines(out)}, self.NAMES, out)

    def test_lftp_cls_and_ls(self):
        out = self.lftp("cd listing; cls -1").stdout.decode()
        self.assertEqual(sorted(self.list_lines(out)), ["alpha.txt", "beta.bin", "gamma/"])
        out = self.lftp("cd listing; ls").stdout.decode()
        lines = self.list_lines(out)
        self.assertEqual({l.split()[-1] for l in lines}, self.NAMES, out)
        self.assertTrue(any(re.search(r"\s6 Mar  4  2021 alpha\.txt$", l) for l in lines), out)

    def test_ftplib_mlsd_facts(self):
        f = self.ftp()
        entries = dict(f.mlsd("listing", facts=["type", "size", "modify", "perm"]))
        self.assertEqual(set(entries) - {".", ".."}, self.NAMES)
        alpha, beta, gamma = entries["alpha.txt"], entries["beta.bin"], entries["gamma"]
        self.assertEqual(alpha["type"], "file")
        self.assertEqual(alpha["size"], "6")
        self.assertEqual(alpha["modify"], "20210304050607")
        self.assertEqual(beta["size"], "1234")
        beta_mtime = os.stat(self.path("listing", "beta.bin")).st_mtime
        self.assertEqual(beta["modify"], utc_stamp(beta_mtime))
        self.assertEqual(gamma["type"], "dir")
        self.assertNotIn("size", gamma)
        self.assertEqual(sorted(alpha["perm"]), sorted("adfrw"))
        self.assertEqual(sorted(gamma["perm"]), sorted("cdeflmp"))
        self.assertEqual(entries["."]["type"], "cdir")
        # The read-only user sees only what it may do.
        ro = dict(self.ftp(RO_USER, RO_PASS).mlsd("listing", facts=["type", "perm"]))
        self.assertEqual(ro["alpha.txt"]["perm"], "r")
        self.assertEqual(sorted(ro["gamma"]["perm"]), sorted("el"))

    def test_ftplib_nlst(self):
        f = self.ftp()
        self.assertEqual({n.rsplit("/", 1)[-1] for n in f.nlst("listing")}, self.NAMES)
        f.cwd("listing")
        self.assertEqual(sorted(f.nlst()), sorted(self.NAMES))


class DownloadTest(LocalDirMixin, ClearServerCase):
    PORTS = "20500-20999"
    BIG_SIZE = 20 * MB

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.big = os.urandom(cls.BIG_SIZE)
        cls.big_sha = write_file(os.path.join(cls.root, "big.bin"), cls.big)
        write_file(os.path.join(cls.root, "empty.bin"), b"")
        cls.empty_sha = sha256_bytes(b"")

    def test_curl_download(self):
        out = self.local("big")
        self.curl("-o", out, self.url("big.bin"))
        self.assertEqual(sha256_file(out), self.big_sha)
        r = self.curl(self.url("empty.bin"))
        self.assertEqual(r.stdout, b"")

    def test_lftp_get(self):
        big, empty = self.local("big"), self.local("empty")
        self.lftp("get big.bin -o %s; get empty.bin -o %s" % (big, empty))
        self.assertEqual(sha256_file(big), self.big_sha)
        self.assertEqual(sha256_file(empty), self.empty_sha)

    def test_ftplib_retrbinary(self):
        f = self.ftp()
        for name, sha in (("big.bin", self.big_sha), ("empty.bin", self.empty_sha)):
            chunks = []
            resp = f.retrbinary("RETR " + name, chunks.append)
            self.assertTrue(resp.startswith("226"), resp)
            self.assertEqual(sha256_bytes(b"".join(chunks)), sha, name)

    def test_resume_download_ftplib_rest(self):
        f = self.ftp()
        offset = 7654321
        self.assertEqual(f.sendcmd("REST %d" % offset)[:3], "350")
        chunks = []
        f.retrbinary("RETR big.bin", chunks.append, rest=offset)
        self.assertEqual(sha256_bytes(b"".join(chunks)), sha256_bytes(self.big[offset:]))
        # Exactly at the end: nothing left to send, still a success.
        chunks = []
        f.retrbinary("RETR big.bin", chunks.append, rest=self.BIG_SIZE)
        self.assertEqual(chunks, [])
        # Past the end: refused, and the session goes on.
        with self.assertRaises(ftplib.error_perm) as cm:
            f.retrbinary("RETR big.bin", chunks.append, rest=self.BIG_SIZE + 1)
        self.assertEqual(str(cm.exception)[:3], "554")
        self.assertEqual(f.voidcmd("NOOP")[:3], "200")

    def test_resume_download_curl(self):
        out = self.local("partial")
        write_file(out, self.big[:5 * MB + 17])
        self.curl("-C", "-", "-o", out, self.url("big.bin"))
        self.assertEqual(sha256_file(out), self.big_sha)


class UploadTest(LocalDirMixin, ClearServerCase):
    PORTS = "21000-21499"

    def make_local(self, name, size):
        data = os.urandom(size)
        path = self.local(name)
        return path, data, write_file(path, data)

    def assert_on_disk(self, name, sha):
        self.assertEqual(sha256_file(self.path(name)), sha, name)
        self.assert_no_temp_files(self.root)

    def test_curl_upload(self):
        src, _, sha = self.make_local("c", 3 * MB + 5)
        self.curl("-T", src, self.url("curl_up.bin"))
        self.assert_on_disk("curl_up.bin", sha)

    def test_lftp_put(self):
        src, _, sha = self.make_local("l", 2 * MB + 3)
        self.lftp("put %s -o lftp_up.bin" % src)
        self.assert_on_disk("lftp_up.bin", sha)

    def test_ftplib_storbinary(self):
        f = self.ftp()
        data = os.urandom(4 * MB + 1)
        resp = f.storbinary("STOR ftplib_up.bin", io.BytesIO(data))
        self.assertEqual(resp[:3], "226", resp)
        self.assert_on_disk("ftplib_up.bin", sha256_bytes(data))
        resp = f.storbinary("STOR ftplib_empty.bin", io.BytesIO(b""))
        self.assertEqual(resp[:3], "226", resp)
        self.assert_on_disk("ftplib_empty.bin", sha256_bytes(b""))

    def test_overwrite_replaces_whole_file(self):
        write_file(self.path("over.bin"), os.urandom(3 * MB))
        data = os.urandom(100000)
        self.ftp().storbinary("STOR over.bin", io.BytesIO(data))
        self.assert_on_disk("over.bin", sha256_bytes(data))

    def test_resume_upload_rest_stor(self):
        data = os.urandom(3 * MB + 123)
        half = 1 * MB + 7
        write_file(self.path("resume_up.bin"), data[:half])
        f = self.ftp()
        resp = f.storbinary("STOR resume_up.bin", io.BytesIO(data[half:]), rest=half)
        self.assertEqual(resp[:3], "226", resp)
        self.assert_on_disk("resume_up.bin", sha256_bytes(data))

    def test_append_curl(self):
        first = os.urandom(1 * MB + 1)
        write_file(self.path("append.bin"), first)
        src, second, _ = self.make_local("a", 2 * MB + 9)
        self.curl("--append", "-T", src, self.url("append.bin"))
        self.assert_on_disk("append.bin", sha256_bytes(first + second))
        # APPE to a file that does not exist creates it.
        self.curl("--append", "-T", src, self.url("append_new.bin"))
        self.assert_on_disk("append_new.bin", sha256_bytes(second))

    def test_append_ftplib_ascii_and_binary(self):
        write_file(self.path("append_f.txt"), b"one\n")
        f = self.ftp()
        resp = f.storlines("APPE append_f.txt", io.BytesIO(b"two\r\n"))  # TYPE A
        self.assertEqual(resp[:3], "226", resp)
        self.assertEqual(read_file(self.path("append_f.txt")), b"one\ntwo\n")
        tail = os.urandom(MB + 1)
        f.voidcmd("TYPE I")
        conn = f.transfercmd("APPE append_f.txt")
        try:
            conn.sendall(tail)
        except OSError:
            pass  # the server gave up on the upload: its reply says why
        finally:
            conn.close()
        try:
            resp = f.voidresp()
        except ftplib.Error as e:
            resp = str(e)
        self.assertEqual(resp[:3], "226", "binary APPE: %s\nserver log tail:\n%s"
                         % (resp, self.log_tail(4)))
        self.assert_on_disk("append_f.txt", sha256_bytes(b"one\ntwo\n" + tail))


class ConcurrencyTest(ClearServerCase):
    EXTRA = "[limits]\nmax_sessions_per_address = 512\n"
    SESSIONS = 200

    @classmethod
    def setUpClass(cls):
        # 200 server-closed data connections leave 200 passive ports in TIME_WAIT for
        # 60 s; a re-run starts on ports that are still clean (block 22000-23999).
        cls.PORTS = quiet_port_window(22000, 23999, 400)
        super().setUpClass()

    def test_200_concurrent_downloads(self):
        data = os.urandom(1 * MB)
        sha = write_file(self.path("one_mb.bin"), data)
        barrier = threading.Barrier(self.SESSIONS, timeout=60)
        port = self.port

        def one_session(i):
            f = ftplib.FTP(timeout=30)
            passed_barrier = False
            try:
                f.connect(HOST, port)
                f.login(FULL_USER, FULL_PASS)
                barrier.wait()  # all sessions logged in at once before any transfer
                passed_barrier = True
                chunks = []
                f.retrbinary("RETR one_mb.bin", chunks.append)
                got = sha256_bytes(b"".join(chunks))
                if got != sha:
                    return "session %d: sha256 mismatch (%d bytes)" % (i, sum(map(len, chunks)))
                f.quit()
                return None
            except Exception as e:  # counted, reported below
                if not passed_barrier:
                    barrier.abort()  # the others must not wait for this one
                return "session %d: %r" % (i, e)
            finally:
                close_ftp(f)

        started = time.monotonic()
        with concurrent.futures.ThreadPoolExecutor(max_workers=self.SESSIONS) as pool:
            futures = [pool.submit(one_session, i) for i in range(self.SESSIONS)]
            done, not_done = concurrent.futures.wait(futures, timeout=150)
            failures = [f.result() for f in done if f.result() is not None]
            failures += ["session did not finish in time"] * len(not_done)
        elapsed = time.monotonic() - started
        # A BrokenBarrierError is a consequence of another failure: list root causes first.
        failures.sort(key=lambda s: "BrokenBarrier" in s)
        self.assertEqual(len(failures), 0, "%d of %d sessions failed in %.1fs; first ones:\n%s\n"
                         "server log tail:\n%s" % (len(failures), self.SESSIONS, elapsed,
                                                   "\n".join(failures[:5]), self.log_tail(20)))


class Ipv6Test(ClearServerCase):
    PORTS = "24000-24499"
    EXTRA_LISTEN = '[[listen]]\naddress = "::1"\nport = @PORT@\n'

    @classmethod
    def setUpClass(cls):
        if not ipv6_loopback_usable():
            raise unittest.SkipTest("::1 is not available on this machine")
        super().setUpClass()
        cls.data = os.urandom(3 * MB + 11)
        cls.sha = write_file(os.path.join(cls.root, "v6.bin"), cls.data)

    def ftp6(self):
        f = ftplib.FTP(timeout=IO_TIMEOUT)
        f.connect("::1", self.port)
        self.addCleanup(close_ftp, f)
        self.assertEqual(f.af, socket.AF_INET6)
        f.login(FULL_USER, FULL_PASS)
        return f

    def test_epsv_download_upload_and_list(self):
        f = self.ftp6()  # ftplib uses EPSV on IPv6
        chunks = []
        f.retrbinary("RETR v6.bin", chunks.append)
        self.assertEqual(sha256_bytes(b"".join(chunks)), self.sha)
        up = os.urandom(MB + 3)
        f.storbinary("STOR v6_up.bin", io.BytesIO(up))
        self.assertEqual(sha256_file(self.path("v6_up.bin")), sha256_bytes(up))
        self.assertIn("v6.bin", f.nlst())
        # RFC 2428: EPSV with the other network protocol is 522.
        with self.assertRaises(ftplib.error_perm) as cm:
            f.sendcmd("EPSV 1")
        self.assertEqual(str(cm.exception)[:3], "522")
        with self.assertRaises(ftplib.error_perm):
            f.sendcmd("PASV")  # IPv4-only verb on an IPv6 session: some 5xx

    def test_eprt_active_download(self):
        f = self.ftp6()
        f.set_pasv(False)  # ftplib sends EPRT |2|::1|port| on IPv6
        chunks = []
        f.retrbinary("RETR v6.bin", chunks.append)
        self.assertEqual(sha256_bytes(b"".join(chunks)), self.sha)
        with self.assertRaises(ftplib.error_perm):
            f.sendcmd("EPRT |2|::2|40000|")  # not the client's address
        with self.assertRaises(ftplib.error_perm):
            f.sendcmd("EPRT |2|::1|1023|")  # privileged port

    def test_curl_over_ipv6(self):
        r = self.curl("-g", "ftp://%s:%s@[::1]:%d/v6.bin" % (FULL_USER, FULL_PASS, self.port))
        self.assertEqual(sha256_bytes(r.stdout), self.sha)


if __name__ == "__main__":
    unittest.main()
