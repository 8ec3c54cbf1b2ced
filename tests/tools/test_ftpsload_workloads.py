"""ftpsload's other workloads, black-box against the real ringftpd: implicit
FTPS, active-mode data connections (EPRT and PORT, in clear and under TLS
with the server's default reuse requirement), REST on downloads and uploads,
APPE, MLSD; and MLSD against fake servers whose listings are malformed.

Each run is small and bounded (-n); each must end with no error and the
counts expected, and what it wrote is checked on disk.
"""
import hashlib
import os
import socket
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))

from clients import (FULL_PASS, FULL_USER, ClearServerCase, TlsServerCase,  # noqa: E402
                     write_file)
from harness import free_port  # noqa: E402
from test_ftpsload import FakeServer, ftpsload, read_line, upload_pattern  # noqa: E402

# The entries of the MLSD test directory: files, a subdirectory, and the
# listed directory itself (ringftpd lists "." as type=cdir, no "..").
MLSD_FILES = 5
MLSD_ENTRIES = MLSD_FILES + 1 + 1


def make_tree(root):
    """big.bin (random, 1 MiB + 5), up/ for uploads, m/ for MLSD; returns big."""
    big = os.urandom((1 << 20) + 5)
    write_file(os.path.join(root, "big.bin"), big)
    os.mkdir(os.path.join(root, "up"))
    os.mkdir(os.path.join(root, "m"))
    os.mkdir(os.path.join(root, "m", "sub dir"))
    for i in range(MLSD_FILES):
        write_file(os.path.join(root, "m", "file %d.txt" % i), b"x" * i)
    return big


class WorkloadChecks:
    """Assertions shared by the clear and the TLS server cases."""

    def target(self, port=None):
        return ["--port", port or self.port, "--user", FULL_USER, "--password", FULL_PASS]

    def assert_clean(self, code, report, err):
        self.assertIsNotNone(report, err)
        self.assertEqual(report["errors"], {}, "%s\n%s\nserver log:\n%s"
                         % (report, err, self.log_tail()))
        self.assertEqual(code, 0, err)

    def run_clean(self, *args):
        code, r, err, _ = ftpsload(*args, *self.TRANSPORT)
        self.assert_clean(code, r, err)
        return r

    def check_rest_download(self, *data):
        rest = 1000001
        r = self.run_clean("download", *self.target(), "--path", "big.bin", "--rest", rest,
                           "--verify-file", os.path.join(self.root, "big.bin"), "-c", 2, "-n", 4,
                           *data)
        self.assertEqual(r["transfers"]["ok"], 4)
        self.assertEqual(r["bytes"]["completed"], 4 * (len(self.big) - rest))
        self.assertEqual(r["checked"], "size and SHA-256")
        self.assertIn("REST %d" % rest, r["target"])

    def check_upload(self, name, *data):
        size = 150001
        r = self.run_clean("upload", *self.target(), "--path", "up/%s{}.bin" % name,
                           "--size", size, "-c", 2, "-n", 4, *data)
        self.assertEqual(r["transfers"]["ok"], 4)
        for n in (0, 1):
            with open(os.path.join(self.root, "up", "%s%d.bin" % (name, n)), "rb") as f:
                self.assertEqual(f.read(), upload_pattern(size))

    def check_mlsd(self, *data):
        r = self.run_clean("mlsd", *self.target(), "--path", "m", "--expect-entries",
                           MLSD_ENTRIES, "-c", 2, "-n", 4, *data)
        self.assertEqual(r["transfers"]["ok"], 4)
        self.assertEqual(r["mlsd_entries"], 4 * MLSD_ENTRIES)
        self.assertEqual(r["checked"], "MLSD syntax and entries")


class ClearWorkloads(WorkloadChecks, ClearServerCase):
    """Plain FTP: active mode without TLS, REST, APPE, MLSD."""
    PORTS = "33200-33249"
    TRANSPORT = ("--no-tls",)

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.big = make_tree(cls.root)

    def test_active_download_eprt_and_port(self):
        local = os.path.join(self.root, "big.bin")
        for data in ("eprt", "port"):
            with self.subTest(data=data):
                r = self.run_clean("download", *self.target(), "--path", "big.bin",
                                   "--verify-file", local, "-c", 2, "-n", 4, "--data", data)
                self.assertEqual(r["transfers"]["ok"], 4)
                self.assertEqual(r["data_command"], data.upper())
                self.assertEqual(r["bytes"]["completed"], 4 * len(self.big))

    def test_active_upload(self):
        self.check_upload("clear-active", "--data", "port")

    def test_rest_download_passive_and_active(self):
        for data in ("epsv", "eprt"):
            with self.subTest(data=data):
                self.check_rest_download("--data", data)

    def test_mlsd_passive_and_active(self):
        for data in ("epsv", "port"):
            with self.subTest(data=data):
                self.check_mlsd("--data", data)

    def test_append_active(self):
        size = 70001
        r = self.run_clean("append", *self.target(), "--path", "up/clear-app.bin", "--size",
                           size, "-n", 3, "--eprt")
        self.assertEqual(r["transfers"]["ok"], 3)
        self.assertEqual(r["checked"], "226 and SIZE grown by --size")
        with open(os.path.join(self.root, "up", "clear-app.bin"), "rb") as f:
            self.assertEqual(f.read(), upload_pattern(3 * size))


class TlsWorkloads(WorkloadChecks, TlsServerCase):
    """The default strict policies (TLS before login, PROT P, session reuse
    required on data connections, whichever side connects), plus an implicit
    TLS listener."""
    PORTS = "33250-33299"
    TRANSPORT = ()

    @classmethod
    def setUpClass(cls):
        cls.implicit_port = free_port()
        cls.EXTRA_LISTEN = ('[[listen]]\naddress = "127.0.0.1"\nport = %d\nimplicit_tls = true\n'
                            % cls.implicit_port)
        super().setUpClass()
        cls.big = make_tree(cls.root)

    def test_implicit_download(self):
        local = os.path.join(self.root, "big.bin")
        for version in ("1.2", "1.3"):
            with self.subTest(tls=version):
                r = self.run_clean("download", *self.target(self.implicit_port), "--implicit",
                                   "--path", "big.bin", "--verify-file", local, "-c", 2, "-n", 4,
                                   "--tls", version)
                self.assertEqual(r["transfers"]["ok"], 4)
                self.assertIn("implicit TLS", r["target"])
                self.assertEqual(r["tls"]["protocol"], "TLSv" + version)
                self.assertEqual(r["tls"]["control_full"], 2)
                self.assertEqual(r["tls"]["data_resumed"], 4)
                self.assertEqual(r["tls"]["data_full"], 0)

    def test_implicit_sessions_active(self):
        r = self.run_clean("sessions", *self.target(self.implicit_port), "--implicit",
                           "--path", "big.bin", "--expect-size", len(self.big), "-c", 2, "-n", 4,
                           "--eprt")
        self.assertEqual(r["sessions"]["completed"], 4)
        self.assertEqual(r["tls"]["control_full"], 4)
        self.assertEqual(r["tls"]["data_resumed"], 4)

    def test_auth_tls_against_implicit_port_fails(self):
        # The port speaks TLS first: an AUTH TLS client waits for a 220 in clear
        # and never gets one (the server waits for a ClientHello).
        code, r, _, _ = ftpsload("sessions", *self.target(self.implicit_port), "--path",
                                 "big.bin", "-n", 1, "--timeout", 1)
        self.assertEqual(code, 1)
        self.assertEqual(r["sessions"]["completed"], 0)
        self.assertGreater(r["errors_total"], 0)

    def test_active_tls_download_resumes_the_control_session(self):
        local = os.path.join(self.root, "big.bin")
        for data in ("eprt", "port"):
            for version in ("1.2", "1.3"):
                with self.subTest(data=data, tls=version):
                    r = self.run_clean("download", *self.target(), "--path", "big.bin",
                                       "--verify-file", local, "-c", 2, "-n", 4, "--data", data,
                                       "--tls", version)
                    self.assertEqual(r["transfers"]["ok"], 4)
                    self.assertEqual(r["data_command"], data.upper())
                    self.assertEqual(r["tls"]["data_resumed"], 4)
                    self.assertEqual(r["tls"]["data_full"], 0)

    def test_active_tls_without_reuse_is_refused(self):
        code, r, _, _ = ftpsload("download", *self.target(), "--path", "big.bin", "--eprt",
                                 "--reuse", "off", "-n", 2)
        self.assertEqual(code, 1)
        self.assertEqual(r["errors"], {"reply 522 to RETR": 2})
        self.assertEqual(r["tls"]["data_full"], 2)

    def test_active_tls_upload(self):
        self.check_upload("tls-active", "--eprt")

    def test_rest_download_passive_and_active(self):
        for data in ("epsv", "port"):
            with self.subTest(data=data):
                self.check_rest_download("--data", data)

    def test_rest_download_wrong_tail_is_an_error(self):
        rest = 1000
        code, r, _, _ = ftpsload("download", *self.target(), "--path", "big.bin", "--rest", rest,
                                 "--expect-size", len(self.big), "-n", 1)
        self.assertEqual(code, 1)
        self.assertEqual(r["errors"], {"size mismatch": 1})
        tail_sha = hashlib.sha256(self.big[rest:]).hexdigest()
        code, r, _, _ = ftpsload("download", *self.target(), "--path", "big.bin", "--rest",
                                 rest + 1, "--expect-sha256", tail_sha, "-n", 1)
        self.assertEqual(code, 1)
        self.assertEqual(r["errors"], {"checksum mismatch": 1})

    def test_rest_past_the_end_is_refused(self):
        code, r, _, _ = ftpsload("download", *self.target(), "--path", "big.bin", "--rest",
                                 len(self.big) + 1, "-n", 1)
        self.assertEqual(code, 1)
        self.assertEqual(r["errors"], {"reply 554 to RETR": 1})

    def test_rest_upload_continues_in_place(self):
        first, rest, second = 300000, 200000, 150001
        self.run_clean("upload", *self.target(), "--path", "up/resumed.bin", "--size", first,
                       "-n", 1)
        for data in ("epsv", "eprt"):
            with self.subTest(data=data):
                r = self.run_clean("upload", *self.target(), "--path", "up/resumed.bin",
                                   "--size", second, "--rest", rest, "-n", 2, "--data", data)
                self.assertEqual(r["transfers"]["ok"], 2)
                with open(os.path.join(self.root, "up", "resumed.bin"), "rb") as f:
                    got = f.read()
                # Written in place from the offset: the head kept, the file
                # the upload stream's prefix of rest + second bytes (longer
                # than the first upload's).
                self.assertEqual(len(got), rest + second)
                self.assertEqual(got, upload_pattern(rest + second))

    def test_append_grows_the_file(self):
        size = 100003
        for data in ("epsv", "eprt"):
            with self.subTest(data=data):
                name = "app-%s{}.bin" % data
                r = self.run_clean("append", *self.target(), "--path", "up/" + name, "--size",
                                   size, "-c", 2, "-n", 6, "--data", data)
                self.assertEqual(r["transfers"]["ok"], 6)
                # Again: each connection learns where its file ends (SIZE) and
                # continues from there.
                r = self.run_clean("append", *self.target(), "--path", "up/" + name, "--size",
                                   size, "-c", 2, "-n", 2, "--data", data)
                total = 0
                for n in (0, 1):
                    with open(os.path.join(self.root, "up", name.format(n)), "rb") as f:
                        got = f.read()
                    self.assertEqual(len(got) % size, 0)
                    self.assertEqual(got, upload_pattern(len(got)))
                    total += len(got)
                self.assertEqual(total, 8 * size)

    def test_mlsd_passive_and_active(self):
        for data in ("epsv", "eprt"):
            with self.subTest(data=data):
                self.check_mlsd("--data", data)

    def test_mlsd_wrong_count_is_an_error(self):
        code, r, _, _ = ftpsload("mlsd", *self.target(), "--path", "m", "--expect-entries",
                                 MLSD_ENTRIES + 1, "-n", 2)
        self.assertEqual(code, 1)
        self.assertEqual(r["errors"], {"MLSD entry count mismatch": 2})
        self.assertEqual(r["mlsd_entries"], 0)


def mlsd_dialog(listing):
    """A clear FTP server that logs anyone in and answers MLSD with `listing`
    over an EPSV data connection."""

    def behaviour(conn, server):
        conn.sendall(b"220 fake\r\n")
        data_listener = None
        while not server.stopping.is_set():
            line = read_line(conn)
            if line is None:
                return
            verb = line.split(" ")[0].upper()
            if verb == "USER":
                conn.sendall(b"331 password\r\n")
            elif verb in ("PASS", "TYPE"):
                conn.sendall(b"230 ok\r\n" if verb == "PASS" else b"200 ok\r\n")
            elif verb == "EPSV":
                data_listener = socket.create_server(("127.0.0.1", 0))
                data_listener.settimeout(10)
                port = data_listener.getsockname()[1]
                conn.sendall(b"229 Entering Extended Passive Mode (|||%d|)\r\n" % port)
            elif verb == "MLSD" and data_listener is not None:
                data, _ = data_listener.accept()
                data_listener.close()
                server.conns.append(data)
                conn.sendall(b"150 listing\r\n")
                data.sendall(listing)
                data.close()
                conn.sendall(b"226 done\r\n")
            elif verb == "QUIT":
                conn.sendall(b"221 bye\r\n")
                return
            else:
                conn.sendall(b"500 ?\r\n")

    return behaviour


class MlsdAgainstFakeServers(unittest.TestCase):
    GOOD = (b"type=cdir;modify=20240101000000; .\r\n"
            b"type=file;size=3;perm=r; a b.txt\r\n"
            b" no-facts\r\n")

    def run_mlsd(self, listing, *args):
        srv = FakeServer(mlsd_dialog(listing))
        self.addCleanup(srv.close)
        return ftpsload("mlsd", "--no-tls", "--port", srv.port, "-n", 2, *args)

    def test_good_listing(self):
        code, r, err, _ = self.run_mlsd(self.GOOD, "--expect-entries", 3)
        self.assertEqual(code, 0, err)
        self.assertEqual(r["mlsd_entries"], 6)

    def test_malformed_listings(self):
        cases = [
            (b"type=file;size=3;a.txt\r\n", "no space before the name"),
            (b"type=file;size=3 a.txt\r\n", "facts not ended by ';'"),
            (b"type=file;size; a.txt\r\n", "fact without '='"),
            (b"type=file; a.txt\n", "line not ended by CRLF"),
            (b"type=file; \r\n", "empty name"),
            (self.GOOD + b"type=file; cut", "listing ends inside a line"),
            (b"x" * 9000, "line too long"),
        ]
        for listing, problem in cases:
            with self.subTest(problem=problem):
                code, r, err, _ = self.run_mlsd(listing)
                self.assertEqual(code, 1, err)
                self.assertEqual(r["errors"], {"malformed MLSD listing (%s)" % problem: 2})
                self.assertEqual(r["transfers"]["ok"], 0)


if __name__ == "__main__":
    unittest.main()
