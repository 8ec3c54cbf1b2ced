"""The sandboxed worker (DESIGN.md §6, server/process/sandbox.hpp), black-box.

- With the sandbox on (the default), every worker logs what is active, and
  normal service works through it: login, listings, downloads and uploads,
  over TLS (PROT P) and in clear (the splice path), directories, renames and
  deletions.
- A real, serving worker that makes a forbidden system call dies of SIGSYS
  and the master starts a replacement that serves. The forbidden call is made
  by the worker's own code path: an LD_PRELOAD shim (forbidden_call_shim.c)
  wraps the fstatat() the directory lister calls for every name of a
  listing, and when the name is "forbidden-call-trigger" it calls
  socket(AF_UNIX), which the filter forbids. No `kill -SYS`: the seccomp
  filter itself does the killing.
- The same shim asked to open a file outside every root (a read-only open,
  which seccomp lets through) is refused by Landlock in a sandboxed worker,
  and allowed when [sandbox] enabled = false.
- [sandbox] enabled = false is enforced: no filter, no Landlock, logged.
"""
import contextlib
import ctypes
import ftplib
import io
import os
import re
import shutil
import tempfile
import unittest

from clients import (FULL_PASS, FULL_USER, HOST, IO_TIMEOUT, ClearServerCase, TlsServerCase,
                     close_ftp, read_file, sha256_bytes, start_tls_server, tls_client_context,
                     ReusingFTP_TLS, wait_until, write_file)
from harness import TestCase as HarnessCase

SHIM = os.environ.get("RINGFTPD_SANDBOX_SHIM", "")
SANDBOX_LINE = re.compile(
    r"\[worker (\d+)\] sandbox: seccomp on \((\d+) syscalls\), ring restricted to (\d+) ops, "
    r"(landlock ABI v(\d+) on (\d+) roots?|landlock unavailable on this kernel)")
TWO_WORKERS = "workers = 2\n"


def sandbox_lines(text):
    return SANDBOX_LINE.findall(text)


def landlock_abi():
    """The kernel's Landlock ABI (0: none), asked the way the server asks."""
    libc = ctypes.CDLL(None, use_errno=True)
    SYS_landlock_create_ruleset = 444  # x86_64
    abi = libc.syscall(SYS_landlock_create_ruleset, None, 0, 1)
    return abi if abi > 0 else 0


class SandboxedServiceMixin:
    def assert_sandbox_logged(self, workers=2):
        ok = wait_until(lambda: len(sandbox_lines(self.srv.stderr())) >= workers, timeout=10)
        lines = sandbox_lines(self.srv.stderr())
        self.assertTrue(ok, "no sandbox line per worker:\n" + self.srv.stderr())
        for worker, syscalls, ops, landlock, abi, roots in lines:
            self.assertGreater(int(syscalls), 20)
            self.assertEqual(int(ops), 18)
            if landlock_abi():
                # alice and reader share one root.
                self.assertEqual((int(abi), int(roots)), (landlock_abi(), 1), landlock)
        self.assertNotIn("killed by signal", self.srv.stderr())

    def assert_no_worker_died(self):
        log = self.srv.stderr()
        self.assertNotIn("killed by signal", log)
        self.assertNotIn("Bad system call", log)


class SandboxedTlsServiceTest(SandboxedServiceMixin, TlsServerCase):
    PORTS = "32000-32099"
    EXTRA_TOP = TWO_WORKERS

    def test_startup_logs_what_is_active(self):
        self.assert_sandbox_logged()

    def test_login_list_download_upload_and_tree_changes(self):
        data = os.urandom(3 << 20)
        sha = write_file(os.path.join(self.root, "down.bin"), data)
        for version in ("1.2", "1.3"):
            f = self.ftps(version)
            names = f.nlst()
            self.assertIn("down.bin", names)
            listing = []
            f.retrlines("LIST", listing.append)
            self.assertTrue(any("down.bin" in line for line in listing), listing)
            facts = []
            f.retrlines("MLSD", facts.append)
            self.assertTrue(any("down.bin" in line for line in facts), facts)
            chunks = []
            f.retrbinary("RETR down.bin", chunks.append)
            self.assertEqual(sha256_bytes(b"".join(chunks)), sha)
            up = os.urandom(2 << 20)
            f.storbinary("STOR up-%s.bin" % version, io.BytesIO(up))
            self.assertEqual(read_file(os.path.join(self.root, "up-%s.bin" % version)), up)
            self.assertEqual(f.size("up-%s.bin" % version), len(up))
            f.mkd("dir-" + version)
            f.rename("up-%s.bin" % version, "dir-%s/moved.bin" % version)
            self.assertTrue(os.path.exists(os.path.join(self.root, "dir-" + version, "moved.bin")))
            f.delete("dir-%s/moved.bin" % version)
            f.rmd("dir-" + version)
            f.quit()
        self.assert_no_worker_died()


class SandboxedClearServiceTest(SandboxedServiceMixin, ClearServerCase):
    """Clear data connections take the splice path (pipe2, F_SETPIPE_SZ)."""
    PORTS = "32100-32199"
    EXTRA_TOP = TWO_WORKERS

    def test_clear_download_upload_and_listing(self):
        self.assert_sandbox_logged()
        data = os.urandom(5 << 20)
        sha = write_file(os.path.join(self.root, "clear.bin"), data)
        for _ in range(4):  # both workers, most likely
            f = self.ftp()
            chunks = []
            f.retrbinary("RETR clear.bin", chunks.append)
            self.assertEqual(sha256_bytes(b"".join(chunks)), sha)
            f.storbinary("STOR clear-up.bin", io.BytesIO(data[:100000]))
            lines = []
            f.retrlines("LIST", lines.append)
            self.assertTrue(any("clear-up.bin" in line for line in lines))
            f.quit()
        self.assertEqual(read_file(os.path.join(self.root, "clear-up.bin")), data[:100000])
        self.assert_no_worker_died()


@contextlib.contextmanager
def preloaded(outside):
    """Servers started inside run with the shim preloaded."""
    saved = {k: os.environ.get(k) for k in ("LD_PRELOAD", "RINGFTPD_SHIM_OUTSIDE",
                                            "ASAN_OPTIONS")}
    os.environ["LD_PRELOAD"] = SHIM
    os.environ["RINGFTPD_SHIM_OUTSIDE"] = outside
    # A sanitizer build wants its runtime first; the shim does not care.
    os.environ["ASAN_OPTIONS"] = (saved["ASAN_OPTIONS"] + ":" if saved["ASAN_OPTIONS"] else
                                  "") + "verify_asan_link_order=0"
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


class ShimCase(HarnessCase):
    """One worker (so the one that dies is known), the shim preloaded."""
    PORTS = None
    EXTRA = ""

    def setUp(self):
        HarnessCase.setUp(self)
        if not SHIM or not os.path.exists(SHIM):
            self.fail("RINGFTPD_SANDBOX_SHIM does not name the built forbidden_call_shim")
        self.outside_dir = tempfile.mkdtemp(prefix="ringftpd-outside-")
        os.chmod(self.outside_dir, 0o755)
        self.outside = os.path.join(self.outside_dir, "outside.txt")
        with open(self.outside, "w") as f:
            f.write("not for ftp users\n")
        os.chmod(self.outside, 0o644)
        self.addCleanup(shutil.rmtree, self.outside_dir, True)
        with preloaded(self.outside):
            self.srv = start_tls_server(self.PORTS, self.EXTRA, "", "workers = 1\n")
        self.addCleanup(self.srv.__exit__, None, None, None)
        self.port = self.srv.port
        self.root = self.srv.root

    def ftps(self):
        f = ReusingFTP_TLS(context=tls_client_context("1.3"), timeout=IO_TIMEOUT)
        f.connect(HOST, self.port)
        f.login(FULL_USER, FULL_PASS)
        f.prot_p()
        return f

    def listing(self):
        f = self.ftps()
        lines = []
        try:
            f.retrlines("LIST", lines.append)
            f.quit()
        finally:
            close_ftp(f)
        return lines

    def shim_open_line(self):
        self.assertTrue(wait_until(lambda: "shim: open " in self.srv.stderr(), timeout=10),
                        "the shim was not reached (does the lister still call fstatat?):\n" +
                        self.srv.stderr())
        return re.search(r"shim: open (.*): (.*)", self.srv.stderr()).group(2)


class SandboxKillsAndMasterRespawnsTest(ShimCase):
    PORTS = "32200-32249"

    def test_forbidden_call_kills_worker_with_sigsys_and_a_replacement_serves(self):
        self.assertTrue(wait_until(lambda: len(sandbox_lines(self.srv.stderr())) == 1,
                                   timeout=10), self.srv.stderr())
        write_file(os.path.join(self.root, "forbidden-call-trigger"), b"")
        with self.assertRaises((EOFError, OSError, ftplib.Error)):
            self.listing()
        self.assertTrue(wait_until(lambda: "killed by signal 31" in self.srv.stderr(),
                                   timeout=10), self.srv.stderr())
        log = self.srv.stderr()
        self.assertIn("shim: calling socket(AF_UNIX)", log)
        self.assertNotIn("shim: socket(AF_UNIX) returned", log, "the call must never return")
        self.assertRegex(log, r"worker 1 \(pid \d+\) killed by signal 31 \(Bad system call\)"
                              r".*; starting a replacement")
        # The replacement closes itself in the same way, then serves.
        self.assertTrue(wait_until(lambda: len(sandbox_lines(self.srv.stderr())) == 2,
                                   timeout=15), self.srv.stderr())
        os.unlink(os.path.join(self.root, "forbidden-call-trigger"))
        sha = write_file(os.path.join(self.root, "after.bin"), os.urandom(300000))
        f = self.ftps()
        chunks = []
        f.retrbinary("RETR after.bin", chunks.append)
        f.quit()
        self.assertEqual(sha256_bytes(b"".join(chunks)), sha)

    def test_landlock_refuses_a_file_outside_the_roots(self):
        if not landlock_abi():
            self.skipTest("this kernel has no Landlock")
        write_file(os.path.join(self.root, "landlock-probe-trigger"), b"")
        lines = self.listing()
        self.assertTrue(any("landlock-probe-trigger" in line for line in lines), lines)
        self.assertEqual(self.shim_open_line(), "Permission denied")
        # Readable by the worker's user: only Landlock stands in the way.
        self.assertEqual(os.stat(self.outside).st_mode & 0o004, 0o004)
        self.assertNotIn("killed by signal", self.srv.stderr())


class SandboxOffTest(ShimCase):
    PORTS = "32250-32299"
    EXTRA = "[sandbox]\nenabled = false\n"

    def test_off_means_no_filter_and_no_landlock(self):
        self.assertTrue(wait_until(lambda: "sandbox: off" in self.srv.stderr(), timeout=10),
                        self.srv.stderr())
        self.assertEqual(sandbox_lines(self.srv.stderr()), [])
        write_file(os.path.join(self.root, "forbidden-call-trigger"), b"")
        write_file(os.path.join(self.root, "landlock-probe-trigger"), b"")
        lines = self.listing()  # survives the call the filter would have killed
        self.assertEqual(len([l for l in lines if "trigger" in l]), 2, lines)
        self.assertIn("shim: socket(AF_UNIX) returned", self.srv.stderr())
        self.assertEqual(self.shim_open_line(), "ok")
        self.assertNotIn("killed by signal", self.srv.stderr())


if __name__ == "__main__":
    unittest.main()
