"""Start-up, shutdown and bad-input behaviour of the real binary."""
import os
import shutil
import signal
import tempfile
import socket
import unittest

from clients import wait_until
from harness import ControlConnection, Server, TestCase, free_port, run_binary

MINIMAL = """
state_dir = "@TMP@/state"
[passive]
ports = "30000-30099"
[[listen]]
address = "127.0.0.1"
port = @PORT@
"""


class StartupTest(TestCase):
    def test_banner_quit_and_clean_sigterm(self):
        with Server(MINIMAL) as srv:
            c = ControlConnection(srv.port)
            code, _ = c.reply()
            self.assertEqual(code, 220)
            code, _ = c.command("QUIT")
            self.assertEqual(code, 221)
            self.assertEqual(c.sock.recv(1), b"", "server must close after 221")
            c.close()
            self.assertEqual(srv.stop(signal.SIGTERM), 0)
            self.assertNotIn("bug:", srv.stderr())

    def test_sigterm_with_open_sessions_exits_zero(self):
        with Server(MINIMAL) as srv:
            conns = [ControlConnection(srv.port) for _ in range(5)]
            for c in conns:
                self.assertEqual(c.reply()[0], 220)
            self.assertEqual(srv.stop(signal.SIGTERM), 0)
            for c in conns:
                code, _ = c.reply()
                self.assertEqual(code, 421)
                c.close()

    def test_unknown_command_and_overlong_line(self):
        with Server(MINIMAL) as srv:
            c = ControlConnection(srv.port)
            c.reply()
            self.assertEqual(c.command("XYZZY")[0], 500)
            self.assertEqual(c.command("NOOP " + "a" * 10000)[0], 500)
            self.assertEqual(c.command("NOOP")[0], 200, "session continues after a bad line")
            c.close()

    def test_embedded_default_names_account_and_clients(self):
        with Server(None, args=["--port", "@PORT@", "--state-dir", "@TMP@/state", "@TMP@"]) as srv:
            # The port answers once the master has bound it; the help is
            # printed just after that (CI under load read it too early).
            wait_until(lambda: "lftp" in srv.stdout(), timeout=10)
            out = srv.stdout()
            self.assertIn("curl", out)
            self.assertIn("lftp", out)
            self.assertIn("password", out)
            self.assertTrue(os.path.exists(os.path.join(srv.tmp, "state", "cert.pem")))
            c = ControlConnection(srv.port)
            self.assertEqual(c.reply()[0], 220)
            c.close()


class BadInputTest(TestCase):
    def test_missing_config_file(self):
        r = run_binary(["--config", "/nonexistent/ringftpd.toml"])
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("/nonexistent/ringftpd.toml", r.stderr)
        self.assertEqual(len(r.stderr.strip().splitlines()), 1, r.stderr)

    def test_check_config_reports_file_line_column(self):
        tmp = os.environ.get("TMPDIR", "/tmp")
        path = os.path.join(tmp, "ringftpd-bad-%d.toml" % os.getpid())
        cases = {
            "unknown key": ("workers = 1\nbogus_key = 3\n", ":2:1"),
            "wrong type": ("workers = \"two\"\n", ":1:"),
            "bad port range": ("[passive]\nports = \"6000-5000\"\n", ":2:"),
        }
        try:
            for name, (text, where) in cases.items():
                with open(path, "w") as f:
                    f.write(text)
                r = run_binary(["--check-config", "--config", path])
                self.assertNotEqual(r.returncode, 0, name)
                self.assertIn(path + where, r.stderr, name)
            with open(path, "w") as f:
                f.write('workers = 2\nstate_dir = "%s"\n' % tmp)
            r = run_binary(["--check-config", "--config", path])
            self.assertEqual(r.returncode, 0, r.stderr)
        finally:
            os.unlink(path)

    def test_port_in_use(self):
        with socket.socket() as blocker:
            blocker.bind(("127.0.0.1", 0))
            blocker.listen()
            port = blocker.getsockname()[1]
            tmp = tempfile.mkdtemp(prefix="ringftpd-inuse-")
            path = os.path.join(tmp, "ringftpd.toml")
            with open(path, "w") as f:
                f.write('state_dir = "%s/state"\n[[listen]]\naddress = "127.0.0.1"\n'
                        'port = %d\n[passive]\nports = "30000-30099"\n' % (tmp, port))
            try:
                r = run_binary(["--config", path])
            finally:
                shutil.rmtree(tmp, ignore_errors=True)
            self.assertNotEqual(r.returncode, 0)
            self.assertIn("127.0.0.1:%d" % port, r.stderr)
            self.assertIn("in use", r.stderr)

    def test_certificate_that_does_not_parse(self):
        tmp = os.environ.get("TMPDIR", "/tmp")
        cert = os.path.join(tmp, "ringftpd-badcert-%d.pem" % os.getpid())
        path = cert + ".toml"
        with open(cert, "w") as f:
            f.write("-----BEGIN CERTIFICATE-----\nnot base64 at all\n-----END CERTIFICATE-----\n")
        with open(path, "w") as f:
            f.write('state_dir = "%s"\n[tls]\ncertificate = "%s"\nprivate_key = "%s"\n'
                    % (tmp, cert, cert))
        try:
            r = run_binary(["--config", path])
        finally:
            os.unlink(cert)
            os.unlink(path)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn(cert, r.stderr)

    def test_directory_that_does_not_exist(self):
        r = run_binary(["--port", str(free_port()), "/nonexistent/dir/to/serve"])
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("/nonexistent/dir/to/serve", r.stderr)

    def test_version_reports_crypto_build(self):
        r = run_binary(["--version"])
        self.assertEqual(r.returncode, 0)
        self.assertIn("wolfSSL 5.5.4", r.stdout)
        if os.environ.get("RINGFTPD_EXPECT_FAST_CRYPTO", "1") == "1":
            self.assertIn("intel asm on", r.stdout)
            self.assertIn("AES-NI on", r.stdout)


if __name__ == "__main__":
    unittest.main()
