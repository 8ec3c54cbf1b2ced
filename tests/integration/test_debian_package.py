"""The Debian package (issue 11, item 5), for real: dpkg-buildpackage builds
ringftpd_<version>_amd64.deb from a copy of this source tree (reusing the
private wolfSSL build of tools/install-deps.sh, never rebuilding it), lintian
reports no error, dpkg -i installs it, the shipped configuration passes
--check-config, the server started with the installed unit's ExecStart line
serves a file to curl over FTPS, and dpkg -r / --purge leave no process and
no file behind (conffiles stay after -r, go with --purge).

Needs root (dpkg -i), dpkg-buildpackage, debhelper, lintian and curl; skipped
otherwise. It installs the package on the machine it runs on and purges it at
the end, whatever happened. It compiles the server once (the package build):
several minutes on two cores, hence its own ctest label, `package`, and its
own timeout (tests/integration/CMakeLists.txt)."""
import os
import pwd
import re
import shlex
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import threading
import time
import unittest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEPS = os.path.abspath(os.environ.get("RINGFTPD_DEPS_DIR") or os.path.join(REPO, ".deps"))
# A fixed place (removed before and after): the compiler command lines, which
# name the source directory, are the same on every run, so ccache, when
# present, hits the second time. RINGFTPD_PACKAGE_TEST_DIR moves it.
WORK = os.environ.get("RINGFTPD_PACKAGE_TEST_DIR") or os.path.join(
    tempfile.gettempdir(), "ringftpd-debian-package-test")

BUILD_TIMEOUT = 1200  # the package build compiles the server: minutes on 2 cores
LINTIAN_TIMEOUT = 300
DPKG_TIMEOUT = 180  # dpkg -r may wait for a graceful stop (prerm: 45 s at most)
CMD_TIMEOUT = 60
START_TIMEOUT = 20.0
STOP_TIMEOUT = 45.0

BINARY = "/usr/sbin/ringftpd"
CONFIG = "/etc/ringftpd/ringftpd.toml"
USERS = "/etc/ringftpd/users.toml"
PASSIVE = "32600-32649"  # a range no other integration test uses
CONTROL_PORT = 32650  # likewise, and below the ephemeral range (32768-60999)
USER, PASSWORD = "debtest", "debtest-secret-7"


def project_version():
    with open(os.path.join(REPO, "CMakeLists.txt")) as f:
        m = re.search(r"project\(ringftpd\s+VERSION\s+([0-9][0-9.]*)", f.read())
    if not m:
        raise AssertionError("no project(ringftpd VERSION ...) in CMakeLists.txt")
    return m.group(1)


def changelog_version():
    with open(os.path.join(REPO, "debian", "changelog")) as f:
        m = re.match(r"ringftpd \(([^)]+)\)", f.readline())
    if not m:
        raise AssertionError("debian/changelog does not start with 'ringftpd (<version>)'")
    return m.group(1)


def missing_tools():
    need = {"dpkg-buildpackage": "dpkg-dev", "dh": "debhelper", "lintian": "lintian",
            "dpkg-deb": "dpkg", "curl": "curl", "git": "git"}
    return ["%s (%s)" % (tool, pkg) for tool, pkg in need.items() if shutil.which(tool) is None]


def run(cmd, timeout, check=True, env=None, **kw):
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env,
                           stdin=subprocess.DEVNULL, **kw)
    except subprocess.TimeoutExpired as e:
        raise AssertionError("%s: no result within %d s" % (" ".join(cmd), timeout)) from e
    if check and r.returncode != 0:
        raise AssertionError("%s exited %d:\n%s%s" % (" ".join(cmd), r.returncode,
                                                      r.stdout[-4000:], r.stderr[-4000:]))
    return r


def installed_status():
    r = run(["dpkg-query", "-W", "-f=${Status}", "ringftpd"], CMD_TIMEOUT, check=False)
    return r.stdout.strip() if r.returncode == 0 else ""


def ringftpd_pids():
    """Processes running the packaged binary (installed or already deleted)."""
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            exe = os.readlink("/proc/%s/exe" % entry)
        except OSError:
            continue  # gone, a zombie, or a kernel thread
        if exe in (BINARY, BINARY + " (deleted)"):
            pids.append(int(entry))
    return pids


def copy_source(dest):
    """The working tree as git sees it (tracked and new files, without what
    .gitignore excludes: build directories, .deps), symlinks kept."""
    listing = run(["git", "-C", REPO, "ls-files", "-z", "--cached", "--others",
                   "--exclude-standard"], CMD_TIMEOUT).stdout
    for rel in sorted(set(p for p in listing.split("\0") if p)):
        src = os.path.join(REPO, rel)
        if not os.path.lexists(src):
            continue  # deleted in the working tree
        dst = os.path.join(dest, rel)
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        if os.path.islink(src):
            os.symlink(os.readlink(src), dst)
        else:
            shutil.copy2(src, dst)


class PackageSourceTest(unittest.TestCase):
    """Checks of debian/ itself: no root or tools needed."""

    def test_changelog_version_is_the_project_version(self):
        self.assertEqual(changelog_version(), project_version(),
                         "debian/changelog and CMakeLists.txt project(VERSION) disagree")

    def test_packaged_unit_is_the_one_in_dist(self):
        packaged = os.path.join(REPO, "debian", "ringftpd.service")
        self.assertTrue(os.path.exists(packaged), "debian/ringftpd.service is missing")
        self.assertEqual(os.path.realpath(packaged),
                         os.path.realpath(os.path.join(REPO, "dist", "systemd",
                                                       "ringftpd.service")))


@unittest.skipUnless(os.geteuid() == 0, "dpkg -i needs root")
@unittest.skipUnless(not missing_tools(),
                     "missing: %s (tools/install-deps.sh installs them)" % ", ".join(missing_tools()))
class DebianPackageTest(unittest.TestCase):
    def setUp(self):
        self.procs = []
        self.version = project_version()
        if installed_status():
            self.fail("a ringftpd package is already installed here (%s); this test installs "
                      "and purges its own: remove it first" % installed_status())
        if not os.path.isfile(os.path.join(DEPS, "wolfssl", "lib", "libwolfssl.a")):
            self.fail("no wolfSSL build in %s: run tools/install-deps.sh (or set "
                      "RINGFTPD_DEPS_DIR)" % DEPS)
        self.addCleanup(self.cleanup)

    def cleanup(self):
        for proc in self.procs:  # only what this test started (own sessions)
            if proc.poll() is None:
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except OSError:
                    pass
                proc.wait(timeout=10)
        if installed_status():
            r = run(["dpkg", "--purge", "ringftpd"], DPKG_TIMEOUT, check=False,
                    env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"))
            if r.returncode != 0:
                sys.stderr.write("cleanup: dpkg --purge failed:\n%s%s" % (r.stdout, r.stderr))
        shutil.rmtree(WORK, ignore_errors=True)

    # -- steps ------------------------------------------------------------

    def build(self):
        shutil.rmtree(WORK, ignore_errors=True)
        src = os.path.join(WORK, "src")
        os.makedirs(src)
        copy_source(src)
        env = dict(os.environ, RINGFTPD_DEPS_DIR=DEPS, DEB_BUILD_OPTIONS="parallel=2 nocheck",
                   LC_ALL="C.UTF-8")
        if shutil.which("ccache"):
            env.setdefault("CMAKE_CXX_COMPILER_LAUNCHER", "ccache")
            env.setdefault("CMAKE_C_COMPILER_LAUNCHER", "ccache")
        log_path = os.path.join(WORK, "build.log")
        started = time.monotonic()
        with open(log_path, "w") as log:
            try:
                r = subprocess.run(["dpkg-buildpackage", "-us", "-uc", "-b"], cwd=src, env=env,
                                   stdout=log, stderr=subprocess.STDOUT, timeout=BUILD_TIMEOUT,
                                   stdin=subprocess.DEVNULL)
                rc = r.returncode
            except subprocess.TimeoutExpired:
                rc = "timeout (%d s)" % BUILD_TIMEOUT
        with open(log_path) as f:
            text = f.read()
        self.assertEqual(rc, 0, "dpkg-buildpackage failed: %s\n...%s" % (rc, text[-6000:]))
        self.assertIn("wolfSSL: project build in %s/wolfssl" % DEPS, text,
                      "the package was not built against the project's wolfSSL build")
        sys.stderr.write("\npackage built in %.0f s\n" % (time.monotonic() - started))
        deb = os.path.join(WORK, "ringftpd_%s_amd64.deb" % self.version)
        self.assertTrue(os.path.isfile(deb), "no %s; built: %s" % (
            os.path.basename(deb), sorted(os.listdir(WORK))))
        return deb

    def check_contents(self, deb):
        listing = run(["dpkg-deb", "--contents", deb], CMD_TIMEOUT).stdout
        files = {}
        for line in listing.splitlines():
            fields = line.split()
            path = fields[5].lstrip(".")
            files[path.rstrip("/") if path != "/" else path] = (fields[0], fields[1])
        for path in (BINARY, CONFIG, USERS, "/lib/systemd/system/ringftpd.service",
                     "/usr/share/man/man8/ringftpd.8.gz", "/usr/share/man/man5/ringftpd.toml.5.gz",
                     "/usr/share/doc/ringftpd/copyright"):
            self.assertIn(path, files, "%s is not in the package:\n%s" % (path, listing))
        self.assertEqual(files[USERS], ("-rw-------", "root/root"), "users file mode/owner")
        self.assertEqual(files[BINARY][0], "-rwxr-xr-x")
        conffiles = run(["dpkg-deb", "--info", deb, "conffiles"], CMD_TIMEOUT).stdout.split()
        self.assertIn(CONFIG, conffiles)
        self.assertIn(USERS, conffiles)

    def lint(self, deb):
        r = run(["lintian", "--display-info", "--show-overrides", "--tag-display-limit", "0", deb], LINTIAN_TIMEOUT,
                check=False, env=dict(os.environ, LC_ALL="C.UTF-8"))
        tags = [l for l in r.stdout.splitlines() if re.match(r"[EWIXPO]: ", l)]
        sys.stderr.write("lintian %s: %d tag(s)\n" % (os.path.basename(deb), len(tags)))
        for line in tags:
            sys.stderr.write("  %s\n" % line)
        errors = [l for l in tags if l.startswith("E: ")]
        self.assertEqual(errors, [], "lintian errors:\n%s%s" % (r.stdout, r.stderr))
        self.assertEqual(r.returncode, 0, "lintian failed (%d):\n%s" % (r.returncode, r.stderr))

    def dpkg(self, *args):
        return run(["dpkg"] + list(args), DPKG_TIMEOUT,
                   env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"))

    def unit_commands(self):
        for unit in ("/lib/systemd/system/ringftpd.service",
                     "/usr/lib/systemd/system/ringftpd.service"):
            if os.path.exists(unit):
                break
        else:
            self.fail("the unit is not installed")
        commands = {}
        with open(unit) as f:
            for line in f:
                key, sep, value = line.strip().partition("=")
                if sep and key in ("ExecStart", "ExecStartPre"):
                    commands[key] = shlex.split(value.lstrip("-@:+!"))
        self.assertIn("ExecStart", commands)
        self.assertEqual(commands["ExecStart"][0], BINARY)
        self.assertIn(CONFIG, commands["ExecStart"])
        return commands

    def configure_for_test(self, port, root):
        """What an administrator does after installing: an account, a port
        (here a free one, and a passive range of the test's own)."""
        with open(CONFIG) as f:
            text = f.read()
        self.assertIn("\nport = 21\n", text)
        self.assertIn('ports = "50000-50999"', text)
        text = text.replace("\nport = 21\n", "\nport = %d\n" % port)
        text = text.replace('ports = "50000-50999"', 'ports = "%s"' % PASSIVE)
        text = text.replace('\nrun_as = "ringftpd"\n', '\nrun_as = "ringftpd"\nworkers = 2\n')
        with open(CONFIG, "w") as f:
            f.write(text)
        h = subprocess.run([BINARY, "--hash-password", "--scheme", "sha512"],
                           input=PASSWORD + "\n", capture_output=True, text=True,
                           timeout=CMD_TIMEOUT)
        self.assertEqual(h.returncode, 0, h.stderr)
        with open(USERS, "a") as f:
            f.write('\n[[user]]\nname = "%s"\npassword = "%s"\nroot = "%s"\n'
                    'permissions = ["list", "read"]\n' % (USER, h.stdout.strip(), root))
        self.assertEqual(stat.S_IMODE(os.stat(USERS).st_mode), 0o600)

    def start(self, argv, port, log_name):
        log = open(os.path.join(WORK, log_name), "w")
        self.addCleanup(log.close)
        proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
        self.procs.append(proc)
        # Reap it as soon as it exits, as a service manager would: a zombie
        # master would look alive to `kill -0` in the package's prerm.
        threading.Thread(target=proc.wait, daemon=True).start()
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                break
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                    return proc
            except OSError:
                time.sleep(0.05)
        self.fail("%s did not start:\n%s" % (" ".join(argv), self.log_text(log_name)))

    def log_text(self, log_name):
        with open(os.path.join(WORK, log_name)) as f:
            return f.read()[-4000:]

    def download(self, port, name, expect, log_name):
        out = os.path.join(WORK, "downloaded")
        r = run(["curl", "--silent", "--show-error", "--ssl-reqd", "-k", "--max-time", "30",
                 "--connect-timeout", "5", "-u", "%s:%s" % (USER, PASSWORD),
                 "-o", out, "ftp://127.0.0.1:%d/%s" % (port, name)], CMD_TIMEOUT, check=False)
        self.assertEqual(r.returncode, 0, "curl over FTPS failed: %s\nserver log:\n%s"
                         % (r.stderr, self.log_text(log_name)))
        with open(out, "rb") as f:
            self.assertEqual(f.read(), expect)

    def wait_no_process(self, what):
        deadline = time.monotonic() + STOP_TIMEOUT
        while ringftpd_pids() and time.monotonic() < deadline:
            time.sleep(0.1)
        self.assertEqual(ringftpd_pids(), [], "ringftpd processes left %s" % what)

    # -- the test ---------------------------------------------------------

    def test_build_lint_install_serve_remove_purge(self):
        deb = self.build()
        self.check_contents(deb)
        self.lint(deb)

        self.dpkg("-i", deb)
        self.assertEqual(installed_status(), "install ok installed")
        account = pwd.getpwnam("ringftpd")  # made by postinst
        self.assertNotEqual(account.pw_uid, 0)
        version = run([BINARY, "--version"], CMD_TIMEOUT).stdout
        self.assertIn("ringftpd %s" % self.version, version)
        self.assertNotIn("WARNING", version, "not linked with the project's wolfSSL build")
        ldd = run(["ldd", BINARY], CMD_TIMEOUT).stdout
        self.assertNotIn("libwolfssl", ldd, "wolfSSL should be linked in statically")
        r = run([BINARY, "--check-config", "--config", CONFIG], CMD_TIMEOUT, check=False)
        self.assertEqual(r.returncode, 0, "the shipped configuration fails --check-config:\n"
                         + r.stdout + r.stderr)

        commands = self.unit_commands()
        root = tempfile.mkdtemp(prefix="ringftpd-deb-root-")
        self.addCleanup(shutil.rmtree, root, True)
        os.chmod(root, 0o755)
        payload = os.urandom(300_000)
        with open(os.path.join(root, "hello.bin"), "wb") as f:
            f.write(payload)
        os.chmod(os.path.join(root, "hello.bin"), 0o644)
        # The shipped config listens on 0.0.0.0: a port from the ephemeral
        # range could be taken meanwhile by any test's outgoing connection
        # (CI saw EADDRINUSE), so the port is a fixed one below that range,
        # next to the passive range, used by no other test.
        port = CONTROL_PORT
        self.configure_for_test(port, root)
        if "ExecStartPre" in commands:
            r = run(commands["ExecStartPre"], CMD_TIMEOUT, check=False)
            self.assertEqual(r.returncode, 0, "ExecStartPre failed:\n" + r.stdout + r.stderr)

        # Start with the unit's ExecStart, download over FTPS, stop (SIGTERM).
        proc = self.start(commands["ExecStart"], port, "server1.log")
        self.download(port, "hello.bin", payload, "server1.log")
        os.kill(proc.pid, signal.SIGTERM)
        try:
            status = proc.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.fail("the master did not stop within %d s of SIGTERM" % STOP_TIMEOUT)
        self.assertEqual(status, 0, self.log_text("server1.log"))
        self.wait_no_process("after SIGTERM")

        # Running again, then removed: prerm stops it (no systemd here, or a
        # master started by hand), and nothing keeps running.
        proc = self.start(commands["ExecStart"], port, "server2.log")
        self.download(port, "hello.bin", payload, "server2.log")
        self.dpkg("-r", "ringftpd")
        self.wait_no_process("after dpkg -r")
        self.assertEqual(installed_status(), "deinstall ok config-files")
        for path in (BINARY, "/lib/systemd/system/ringftpd.service",
                     "/usr/share/man/man8/ringftpd.8.gz"):
            self.assertFalse(os.path.lexists(path), "%s is left after dpkg -r" % path)
        self.assertTrue(os.path.exists(CONFIG), "conffiles stay after dpkg -r")
        self.assertTrue(os.path.exists(USERS), "conffiles stay after dpkg -r")

        self.dpkg("--purge", "ringftpd")
        self.assertEqual(installed_status(), "")
        for path in ("/etc/ringftpd", "/var/lib/ringftpd", "/var/log/ringftpd"):
            self.assertFalse(os.path.lexists(path), "%s is left after dpkg --purge" % path)


if __name__ == "__main__":
    unittest.main()
