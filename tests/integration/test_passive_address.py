"""passive.public_address and [[passive.address_for]] (NAT and balancers): the
227 reply names the address of the first rule whose networks hold the client's
address, else the global public_address, else the address the client reached.
Clients are told apart by their loopback source address (127.0.0.2, .3, ...).
Host names are resolved at start and on reload; a name that does not resolve
refuses the start (and --check-config) and refuses a reload, while the server
keeps serving with the addresses it had.

The server listens on 127.0.0.1 (for the harness) and on LOCAL, the address the
clients use, so that "the local address" (LOCAL) differs from what "localhost"
resolves to (127.0.0.1).
"""
import ftplib
import os
import re
import shutil
import signal
import socket

from clients import (CLEAR_CONFIG, FULL_PASS, FULL_USER, IO_TIMEOUT, ClearServerCase, _start_server,
                     close_ftp, parse_pasv, sha256_bytes, wait_until, write_file)
from harness import RUN_AS, Server, TestCase, make_tmpdir, run_binary

LOCAL = "127.0.0.9"
LOCALHOST = socket.gethostbyname("localhost")
UNRESOLVABLE = "no-such-host.invalid"  # RFC 6761: never resolves


def config_with_public_address(public_address):
    """CLEAR_CONFIG with passive.public_address set (its [passive] table is the
    template's own, so the key cannot come from EXTRA)."""
    old = 'ports = "{ports}"\n'
    assert old in CLEAR_CONFIG
    return CLEAR_CONFIG.replace(old, old + 'public_address = "%s"\n' % public_address)


EXTRA_LISTEN = '[[listen]]\naddress = "%s"\nport = @PORT@\n' % LOCAL

RULES = """
[[passive.address_for]]
networks = ["127.0.0.2/32", "10.0.0.0/8"]
address = "198.51.100.2"

[[passive.address_for]]
networks = ["127.0.0.3", "127.0.0.2/31", "fd00::/8"]
address = "localhost"

[[passive.address_for]]
networks = ["127.0.0.4/32"]
address = ""
"""


class PassiveAddressCase(ClearServerCase):
    PUBLIC_ADDRESS = ""
    EXTRA_LISTEN = EXTRA_LISTEN
    EXTRA_TOP = "workers = 1"

    @classmethod
    def setUpClass(cls):
        # The shared fixture's start, with a template of our own.
        cls.srv = _start_server("ringftpd-nat-", config_with_public_address(cls.PUBLIC_ADDRESS),
                                cls.PORTS, cls.EXTRA, cls.EXTRA_LISTEN, cls.EXTRA_TOP)
        cls.addClassCleanup(cls.srv.__exit__, None, None, None)
        cls.port = cls.srv.port
        cls.root = cls.srv.root

    def client(self, source):
        """A logged-in ftplib client whose control and data connections come
        from `source`."""
        f = ftplib.FTP(timeout=IO_TIMEOUT, source_address=(source, 0))
        f.connect(LOCAL, self.port)
        f.login(FULL_USER, FULL_PASS)
        self.addCleanup(close_ftp, f)
        return f

    def pasv_address(self, source):
        f = self.client(source)
        address, _ = parse_pasv(f.sendcmd("PASV"))
        f.quit()
        return address


class RulesTest(PassiveAddressCase):
    PORTS = "33700-33749"
    PUBLIC_ADDRESS = "192.0.2.99"
    EXTRA = RULES

    def test_clients_on_different_networks_get_different_addresses(self):
        self.assertEqual(self.pasv_address("127.0.0.2"), "198.51.100.2")
        # The second rule's address is "localhost", resolved at start (and not
        # the local address LOCAL). 127.0.0.2 is in it too: the first match wins.
        self.assertEqual(self.pasv_address("127.0.0.3"), LOCALHOST)
        self.assertNotEqual(LOCALHOST, LOCAL)

    def test_no_rule_matches_global_public_address(self):
        self.assertEqual(self.pasv_address("127.0.0.5"), "192.0.2.99")
        self.assertEqual(self.pasv_address("127.0.0.1"), "192.0.2.99")

    def test_empty_rule_address_is_the_local_address_and_works(self):
        data = os.urandom(200_000)
        sha = write_file(os.path.join(self.root, "nat.bin"), data)
        f = self.client("127.0.0.4")
        address, _ = parse_pasv(f.sendcmd("PASV"))
        self.assertEqual(address, LOCAL)
        # ftplib sends its own PASV and connects to the 227 address, from
        # 127.0.0.4 (the control peer: a data connection from elsewhere is refused).
        f.sendcmd("TYPE I")
        with f.transfercmd("RETR nat.bin") as conn:
            self.assertEqual(conn.getpeername()[0], LOCAL)
            self.assertEqual(conn.getsockname()[0], "127.0.0.4")
            chunks = []
            while True:
                chunk = conn.recv(65536)
                if not chunk:
                    break
                chunks.append(chunk)
        self.assertEqual(f.voidresp()[:3], "226")
        self.assertEqual(sha256_bytes(b"".join(chunks)), sha)

    def test_epsv_names_no_address(self):
        f = self.client("127.0.0.2")
        self.assertRegex(f.sendcmd("EPSV"), r"^229 .*\(\|\|\|\d+\|\)")


class FallbackTest(PassiveAddressCase):
    """Without public_address, a client no rule holds gets the local address."""
    PORTS = "33750-33774"
    EXTRA = RULES

    def test_no_rule_and_no_public_address_is_the_local_address(self):
        self.assertEqual(self.pasv_address("127.0.0.5"), LOCAL)
        self.assertEqual(self.pasv_address("127.0.0.2"), "198.51.100.2")


class ReloadTest(PassiveAddressCase):
    PORTS = "33775-33799"
    PUBLIC_ADDRESS = "localhost"
    EXTRA = RULES

    def rewrite_config(self, old, new):
        with open(self.srv.config_path) as f:
            text = f.read()
        self.assertIn(old, text)
        with open(self.srv.config_path, "w") as f:
            f.write(text.replace(old, new))

    def reloads(self):
        return len(re.findall(r"reloaded: generation", self.srv.stderr()))

    def test_unresolvable_name_refuses_the_reload_then_a_good_one_applies(self):
        # The public host name was resolved at start.
        self.assertEqual(self.pasv_address("127.0.0.5"), LOCALHOST)
        self.assertEqual(self.pasv_address("127.0.0.2"), "198.51.100.2")
        # A reload that changes a rule's address but names a host that does not
        # resolve in another rule: nothing of it applies.
        self.rewrite_config('address = "198.51.100.2"', 'address = "198.51.100.22"')
        self.rewrite_config('\naddress = "localhost"', '\naddress = "%s"' % UNRESOLVABLE)
        self.srv.proc.send_signal(signal.SIGHUP)
        self.assertTrue(wait_until(lambda: "reload refused" in self.srv.stderr(), timeout=10),
                        self.log_tail())
        self.assertRegex(self.srv.stderr(),
                         r"reload refused.*ringftpd\.toml:\d+:\d+: passive\.address_for\[1\]"
                         r"\.address = \"no-such-host\.invalid\" does not resolve")
        self.assertEqual(self.reloads(), 0)
        self.assertEqual(self.pasv_address("127.0.0.2"), "198.51.100.2")
        self.assertEqual(self.pasv_address("127.0.0.3"), LOCALHOST)
        self.assertEqual(self.pasv_address("127.0.0.5"), LOCALHOST)
        # The same for the global address.
        self.rewrite_config('\naddress = "%s"' % UNRESOLVABLE, '\naddress = "localhost"')
        self.rewrite_config('public_address = "localhost"',
                            'public_address = "%s"' % UNRESOLVABLE)
        refused = self.srv.stderr().count("reload refused")
        self.srv.proc.send_signal(signal.SIGHUP)
        self.assertTrue(wait_until(lambda: self.srv.stderr().count("reload refused") > refused,
                                   timeout=10), self.log_tail())
        self.assertRegex(self.srv.stderr(), r"passive\.public_address = \"no-such-host\.invalid\""
                                            r" does not resolve")
        self.assertEqual(self.pasv_address("127.0.0.2"), "198.51.100.2")
        self.assertEqual(self.pasv_address("127.0.0.5"), LOCALHOST)
        # Mended, the reload applies, so the checks above could have failed.
        self.rewrite_config('public_address = "%s"' % UNRESOLVABLE,
                            'public_address = "192.0.2.77"')
        self.srv.proc.send_signal(signal.SIGHUP)
        self.assertTrue(wait_until(lambda: self.reloads() == 1, timeout=10), self.log_tail())
        self.assertTrue(wait_until(lambda: self.pasv_address("127.0.0.2") == "198.51.100.22",
                                   timeout=10), self.log_tail())
        self.assertEqual(self.pasv_address("127.0.0.5"), "192.0.2.77")


class StartTest(TestCase):
    """A name that does not resolve is a configuration error at start."""

    def config(self, passive_lines):
        return ('run_as = "%s"\nstate_dir = "@TMP@/state"\n' % RUN_AS +
                '[[listen]]\naddress = "127.0.0.1"\nport = @PORT@\n[passive]\n' + passive_lines)

    def server(self, passive_lines):
        tmp = make_tmpdir("ringftpd-nat-start-")
        self.addCleanup(shutil.rmtree, tmp, True)
        srv = Server(self.config(passive_lines), tmpdir=tmp)
        self.addCleanup(srv.stop)
        return srv

    def test_check_config_and_start_refuse_an_unresolvable_name(self):
        srv = self.server('ports = "33800-33809"\n'
                          '[[passive.address_for]]\nnetworks = ["10.0.0.0/8"]\n'
                          'address = "%s"\n' % UNRESOLVABLE)
        expected = ('ringftpd.toml:10:11: passive.address_for[0].address = '
                    '"no-such-host.invalid" does not resolve')
        r = run_binary(["--check-config"] + srv.args)
        self.assertEqual(r.returncode, 1, (r.stdout, r.stderr))
        self.assertIn(expected, r.stderr)
        with self.assertRaises(AssertionError) as cm:
            srv.start()
        self.assertIn(expected, str(cm.exception))
        self.assertEqual(srv.proc.returncode, 1)

    def test_check_config_accepts_host_names(self):
        srv = self.server('ports = "33800-33809"\npublic_address = "localhost"\n'
                          '[[passive.address_for]]\nnetworks = ["10.0.0.0/8", "fd00::/8"]\n'
                          'address = "localhost"\n')
        r = run_binary(["--check-config"] + srv.args)
        self.assertEqual(r.returncode, 0, r.stderr)
