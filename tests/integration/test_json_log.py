"""[log] json against the real binary: every line of the JSON-lines log is one
JSON object a strict reader accepts (UTF-8, json.loads), every session-log line
has its object, and logins, failed logins and transfers carry their fields.
A hostile user name (quote, backslash, escape sequence, invalid UTF-8) stays
inside its string. A reload reopens the file (log rotation). As root, an upload
into a full tmpfs logs why it failed (ENOSPC) in both logs.
"""
import ftplib
import io
import json
import os
import re
import signal
import socket
import subprocess
import unittest

from clients import (CLEAR_CONFIG, FULL_PASS, FULL_USER, HOST, IO_TIMEOUT, _start_server,
                     close_ftp, wait_until, write_file)
from harness import IS_ROOT, RUN_AS, TestCase

PORTS = "34610-34639"
LOG = 'file = "@TMP@/text.log"\njson = "@TMP@/events.jsonl"\n'
TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
LEVELS = {"error", "warn", "info", "debug"}
# "2026-11-23T10:00:00Z info [who] text": the text log's line, split.
TEXT_LINE = re.compile(r"^\S+ (error|warn|info|debug) (?:\[([^\]]*)\] )?(.*)$")
# No 0xff: that is Telnet's IAC, which the line splitter takes out.
HOSTILE_USER = b'ev"il\\\x1b[2J\xc0\xaf\xed\xa0\x80}{'


class JsonLogTest(TestCase):
    def setUp(self):
        super().setUp()
        # CLEAR_CONFIG's last table is [log] (level = "debug"): LOG joins it.
        self.srv = _start_server("ringftpd-json-", CLEAR_CONFIG, PORTS, LOG, "", "")
        self.addCleanup(self.srv.__exit__, None, None, None)
        self.json_path = os.path.join(self.srv.tmp, "events.jsonl")
        self.text_path = os.path.join(self.srv.tmp, "text.log")

    def tearDown(self):
        self.assertIsNone(self.srv.proc.poll(), "server died:\n" + self.text_tail())

    def text_tail(self, lines=40):
        try:
            with open(self.text_path, errors="replace") as f:
                return "".join(f.readlines()[-lines:]) + self.srv.stderr()
        except OSError:
            return self.srv.stderr()

    def events(self, path=None):
        """Every line of the JSON log, parsed; fails on any line that is not
        one whole JSON object in valid UTF-8."""
        with open(path or self.json_path, "rb") as f:
            data = f.read()
        self.assertTrue(data == b"" or data.endswith(b"\n"), "a cut last line")
        out = []
        for raw in data.split(b"\n")[:-1]:
            text = raw.decode("utf-8")  # strict: raises on invalid UTF-8
            obj = json.loads(text)
            self.assertIsInstance(obj, dict, text)
            for key in ("time", "level", "process", "pid", "event", "msg"):
                self.assertIn(key, obj, text)
            self.assertRegex(obj["time"], TIME)
            self.assertIn(obj["level"], LEVELS)
            self.assertIsInstance(obj["pid"], int)
            out.append(obj)
        return out

    def find(self, event, **fields):
        return [e for e in self.events() if e["event"] == event
                and all(e.get(k) == v for k, v in fields.items())]

    def wait_event(self, event, **fields):
        self.assertTrue(wait_until(lambda: self.find(event, **fields), timeout=10),
                        "no %s %r in the JSON log:\n%s" % (event, fields, self.text_tail()))
        return self.find(event, **fields)[-1]

    def ftp(self, user=FULL_USER, password=FULL_PASS):
        f = ftplib.FTP(timeout=IO_TIMEOUT)
        f.connect(HOST, self.srv.port)
        self.addCleanup(close_ftp, f)
        f.login(user, password)
        return f

    def hostile_login(self):
        with socket.create_connection((HOST, self.srv.port), timeout=IO_TIMEOUT) as s:
            r = s.makefile("rb")
            self.assertTrue(r.readline().startswith(b"220"))
            s.sendall(b"USER " + HOSTILE_USER + b"\r\n")
            self.assertTrue(r.readline().startswith(b"331"))
            s.sendall(b"PASS wrong\r\n")
            reply = r.readline()
            self.assertTrue(reply.startswith(b"530"), reply)
            return s.getsockname()[1]

    def test_logins_and_transfers_are_json_events(self):
        data = os.urandom(200_000)
        write_file(os.path.join(self.srv.root, "down.bin"), data)
        # A failed login, then one with a hostile user name.
        f = ftplib.FTP(timeout=IO_TIMEOUT)
        f.connect(HOST, self.srv.port)
        self.addCleanup(close_ftp, f)
        with self.assertRaises(ftplib.error_perm):
            f.login(FULL_USER, "not-the-password")
        bad_port = f.sock.getsockname()[1]
        hostile_port = self.hostile_login()
        # A login, a download, an upload and a listing.
        f = self.ftp()
        port = f.sock.getsockname()[1]
        got = io.BytesIO()
        f.retrbinary("RETR down.bin", got.write)
        self.assertEqual(got.getvalue(), data)
        f.storbinary("STOR up.bin", io.BytesIO(data[:12345]))
        f.nlst()
        f.quit()

        failed = self.wait_event("login_failed", client="127.0.0.1:%d" % bad_port)
        self.assertEqual(failed["user"], FULL_USER)
        self.assertEqual(failed["reason"], "bad credentials")
        self.assertEqual(failed["level"], "warn")
        self.assertRegex(failed["process"], r"^worker \d+$")
        self.assertIn("login failed (bad credentials): user alice", failed["msg"])

        hostile = self.wait_event("login_failed", client="127.0.0.1:%d" % hostile_port)
        # Every byte is in the string: the invalid ones as U+FFFD, the rest as sent.
        self.assertEqual(hostile["user"], 'ev"il\\\x1b[2J' + "\ufffd" * 5 + "}{")

        login = self.wait_event("login", client="127.0.0.1:%d" % port)
        self.assertEqual(login["user"], FULL_USER)
        self.assertIs(login["anonymous"], False)

        down = self.wait_event("transfer", direction="download", path="/down.bin")
        self.assertEqual(down["bytes"], len(data))
        self.assertEqual(down["result"], "ok")
        self.assertEqual(down["reason"], "")
        self.assertEqual(down["user"], FULL_USER)
        self.assertEqual(down["client"], "127.0.0.1:%d" % port)
        self.assertIsInstance(down["duration_ms"], int)
        self.assertGreaterEqual(down["duration_ms"], 0)
        up = self.wait_event("transfer", direction="upload", path="/up.bin")
        self.assertEqual((up["bytes"], up["result"], up["errno"]), (12345, "ok", 0))
        self.wait_event("transfer", direction="listing")
        self.wait_event("disconnect", client="127.0.0.1:%d" % port)
        self.wait_event("connect", client="127.0.0.1:%d" % port)

        # The master's own lines name it as their source.
        starts = [e for e in self.events() if e["process"] == "master" and e.get("source") == "main"]
        self.assertTrue(starts, "no start-up line of the master")

        # Every text line has its object, with the same level, who and text.
        def text_lines():
            with open(self.text_path, "rb") as f:
                # Split at "\n" alone: the text log leaves other control bytes as sent.
                for raw in f.read().decode("utf-8", "replace").split("\n")[:-1]:
                    m = TEXT_LINE.match(raw)
                    self.assertIsNotNone(m, raw)
                    yield m.groups()

        def json_lines():
            for e in self.events():
                yield (e["level"], e.get("client", e.get("source")),
                       e["msg"].replace("\n", " ").replace("\r", " "))

        self.assertTrue(wait_until(lambda: sorted(text_lines(), key=str) ==
                                   sorted(json_lines(), key=str), timeout=10),
                        "the text log and the JSON log differ")

    def test_a_reload_reopens_the_json_log(self):
        self.ftp().quit()
        self.wait_event("login")
        rotated = self.json_path + ".1"
        os.rename(self.json_path, rotated)
        self.srv.proc.send_signal(signal.SIGHUP)
        self.assertTrue(wait_until(lambda: os.path.exists(self.json_path), timeout=10),
                        self.text_tail())
        self.assertTrue(wait_until(lambda: any("reloaded: generation 2" in e["msg"]
                                               for e in self.events()), timeout=10),
                        self.text_tail())
        # The new generation's workers write to the new file (a login that
        # reached a retiring worker of the old one went to the old file).
        def logged_in_new_file():
            self.try_login()
            return any(e["event"] == "login" for e in self.events())
        self.assertTrue(wait_until(logged_in_new_file, timeout=10), self.text_tail())
        login = self.find("login")[0]
        self.assertRegex(login["process"], r"^worker \d+$")
        self.assertTrue([e for e in self.events(rotated) if e["event"] == "login"])

    def try_login(self):
        try:
            self.ftp().quit()
            return True
        except (OSError, EOFError, ftplib.Error):
            return False

    @unittest.skipUnless(IS_ROOT, "mounting a small tmpfs needs root")
    def test_an_upload_to_a_full_disk_logs_why(self):
        full = os.path.join(self.srv.root, "full")
        os.mkdir(full)
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k,mode=0777", "tmpfs", full],
                       check=True, timeout=20)

        def unmount():
            if subprocess.run(["umount", full], timeout=20).returncode != 0:
                subprocess.run(["umount", "-l", full], timeout=20)
        self.addCleanup(unmount)
        f = self.ftp()
        with self.assertRaises((ftplib.Error, OSError, EOFError)):
            f.storbinary("STOR full/big.bin", io.BytesIO(os.urandom(1 << 20)))
        up = self.wait_event("transfer", direction="upload", path="/full/big.bin")
        self.assertEqual(up["result"], "failed")
        self.assertEqual(up["errno"], 28)  # ENOSPC
        self.assertIn("No space left on device", up["reason"])
        self.assertIn("No space left on device", up["msg"])
        with open(self.text_path) as t:
            self.assertRegex(t.read(), r"upload /full/big\.bin failed, \d+ bytes: storage full: "
                                       r"No space left on device")
        # Nothing partial stays behind (atomic uploads remove the temporary file).
        self.assertEqual(os.listdir(full), [])


if __name__ == "__main__":
    unittest.main()
