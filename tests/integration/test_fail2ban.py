"""fail2ban (issue 11, item 6): Debian's fail2ban-regex, with the shipped
filter (dist/fail2ban/filter.d/ringftpd.conf), over a log the real server
wrote while real FTPS clients (ftplib) failed and succeeded to log in.

Every failing client and every succeeding one has its own 127.x source
address, so the addresses the filter reports say exactly which lines it
matched: each failed login (and the per-address refusal) once, no successful
login ever."""
import collections
import ftplib
import os
import shutil
import socket
import subprocess
import unittest

from clients import (FULL_PASS, FULL_USER, HOST, IO_TIMEOUT, PROC_TIMEOUT, ReusingFTP_TLS,
                     TlsServerCase, close_ftp, connect_from, ipv6_loopback_usable, tls_client_context,
                     wait_until, write_file)

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FILTER = os.path.join(REPO, "dist", "fail2ban", "filter.d", "ringftpd.conf")
JAIL = os.path.join(REPO, "dist", "fail2ban", "jail.d", "ringftpd.conf")
FAIL2BAN_REGEX = shutil.which("fail2ban-regex") or "/usr/bin/fail2ban-regex"

IPV6 = ipv6_loopback_usable()
# 3 failures throttle an address (no delays before that, so the test is quick);
# 2 sessions per address.
LIMITS = """
[limits]
failed_logins_before_delay = 3
max_failed_logins = 3
max_sessions_per_address = 2
"""


def read_text(path):
    with open(path) as f:
        return f.read()


def fail2ban_regex(log_path, filter_spec=FILTER):
    """Runs fail2ban-regex; returns (exit status, the address of every matched
    line in order, full output)."""
    r = subprocess.run([FAIL2BAN_REGEX, "--out=ip", log_path, filter_spec], capture_output=True,
                       text=True, timeout=PROC_TIMEOUT, stdin=subprocess.DEVNULL)
    ips = [line.strip() for line in r.stdout.splitlines() if line.strip()]
    return r.returncode, ips, r.stdout + r.stderr


class Fail2banTest(TlsServerCase):
    PORTS = "32300-32349"
    # The session log in a file of its own, as [log] file puts it in production.
    EXTRA = 'file = "@TMP@/ringftpd.log"\n' + LIMITS
    EXTRA_LISTEN = ('[[listen]]\naddress = "::1"\nport = @PORT@\n' if IPV6 else "")

    def setUp(self):
        super().setUp()
        if not os.access(FAIL2BAN_REGEX, os.X_OK):
            self.fail("fail2ban-regex is missing: tools/install-deps.sh installs fail2ban")

    def log_path(self):
        return os.path.join(self.srv.tmp, "ringftpd.log")

    def client(self, source, host=HOST):
        f = ReusingFTP_TLS(context=tls_client_context(), timeout=IO_TIMEOUT,
                           source_address=(source, 0))
        self.addCleanup(close_ftp, f)
        f.connect(host, self.port)
        return f

    def failed_logins(self, source, attempts, user=FULL_USER, host=HOST):
        """`attempts` wrong passwords on one control connection; the last may
        be answered 421 (throttled: the session closes)."""
        f = self.client(source, host)
        for i in range(attempts):
            with self.assertRaises((ftplib.error_perm, ftplib.error_temp)) as caught:
                f.login(user, "wrong-%d" % i)
            self.assertRegex(str(caught.exception), r"^(530|421)")

    def good_login(self, source):
        f = self.client(source)
        f.login(FULL_USER, FULL_PASS)
        f.prot_p()
        self.assertIn("hello.txt", f.nlst())  # a data connection from the same address
        f.quit()

    def test_failed_logins_and_refusals_are_matched_successful_logins_are_not(self):
        write_file(self.path("hello.txt"), b"hello\n")
        expected = collections.Counter()
        self.good_login("127.0.0.10")
        self.failed_logins("127.0.0.2", 2)
        expected["127.0.0.2"] += 2
        self.failed_logins("127.0.0.3", 2, user="nobody-such")  # an unknown user: same line
        expected["127.0.0.3"] += 2
        self.failed_logins("127.0.0.4", 1, user="u" * 100)  # longer than the auth protocol takes
        expected["127.0.0.4"] += 1
        self.good_login("127.0.0.11")
        # The third failure throttles the address: 421, "address throttled".
        self.failed_logins("127.0.0.6", 3)
        expected["127.0.0.6"] += 3
        if IPV6:
            self.failed_logins("::1", 2, host="::1")
            expected["::1"] += 2
        # Two sessions per address: the third connection is refused at accept.
        held = []
        for _ in range(2):
            s = connect_from("127.0.0.7", self.port)
            held.append(s)
            self.addCleanup(s.close)
            self.assertTrue(s.recv(512).startswith(b"220"))
        with connect_from("127.0.0.7", self.port) as refused:
            self.assertTrue(refused.recv(512).startswith(b"421"))
        expected["127.0.0.7"] += 1
        self.good_login("127.0.0.12")

        log = self.log_path()
        wait_until(lambda: "[127.0.0.12:" in read_text(log) and
                   read_text(log).count("refused (per-address limit)") == 1, timeout=5)
        text = read_text(log)
        for good in ("127.0.0.10", "127.0.0.11", "127.0.0.12"):
            # The negative below means something only if they are in the log.
            self.assertIn("[%s:" % good, text)
            self.assertRegex(text, r"\[%s:\d+\] login ok: user %s" % (good.replace(".", r"\."),
                                                                       FULL_USER))
        rc, ips, out = fail2ban_regex(log)
        self.assertEqual(rc, 0, out)
        matched = collections.Counter(ips)
        self.assertEqual(matched, expected,
                         "fail2ban-regex matched other lines than the failures:\n" + out +
                         "\nlog:\n" + text)
        # The same in the aggressive mode: nothing here was refused for capacity.
        rc, ips, out = fail2ban_regex(log, FILTER + "[mode=aggressive]")
        self.assertEqual(rc, 0, out)
        self.assertEqual(collections.Counter(ips), expected, out)

        # Under systemd, fail2ban's journal backend hands the filter
        # "host ringftpd[pid]: <our line>" and takes the time from the journal.
        journal = os.path.join(self.srv.tmp, "journal.txt")
        with open(journal, "w") as f:
            for line in text.splitlines():
                f.write("ftp-host ringftpd[4242]: %s\n" % line)
        r = subprocess.run([FAIL2BAN_REGEX, "--out=ip", "--datepattern={NONE}", journal, FILTER],
                           capture_output=True, text=True, timeout=PROC_TIMEOUT,
                           stdin=subprocess.DEVNULL)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertEqual(collections.Counter(r.stdout.split()), expected, r.stdout + r.stderr)


class ShippedJailTest(unittest.TestCase):
    def test_fail2ban_accepts_the_filter_and_the_jail(self):
        # fail2ban-client --test reads a whole configuration: Debian's, plus
        # the shipped filter and jail, in a copy (the system's is untouched).
        if not os.path.isdir("/etc/fail2ban"):
            self.fail("/etc/fail2ban is missing: tools/install-deps.sh installs fail2ban")
        conf = os.path.join(os.environ.get("TMPDIR", "/tmp"), "ringftpd-f2b-%d" % os.getpid())
        shutil.rmtree(conf, ignore_errors=True)
        self.addCleanup(shutil.rmtree, conf, True)
        shutil.copytree("/etc/fail2ban", conf)
        # Debian enables its sshd jail there, whose log a test machine may lack:
        # the test is about ours alone.
        for name in os.listdir(os.path.join(conf, "jail.d")):
            os.unlink(os.path.join(conf, "jail.d", name))
        shutil.copy(FILTER, os.path.join(conf, "filter.d", "ringftpd.conf"))
        shutil.copy(JAIL, os.path.join(conf, "jail.d", "ringftpd.conf"))
        r = subprocess.run(["fail2ban-client", "-c", conf, "--test"], capture_output=True,
                           text=True, timeout=PROC_TIMEOUT, stdin=subprocess.DEVNULL)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        dump = subprocess.run(["fail2ban-client", "-c", conf, "-d"], capture_output=True,
                              text=True, timeout=PROC_TIMEOUT, stdin=subprocess.DEVNULL)
        self.assertEqual(dump.returncode, 0, dump.stdout + dump.stderr)
        self.assertIn("['add', 'ringftpd', 'systemd']", dump.stdout)
        self.assertIn("_SYSTEMD_UNIT=ringftpd.service", dump.stdout)


if __name__ == "__main__":
    unittest.main()
