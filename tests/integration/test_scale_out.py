"""Two ringftpd hosts behind a real HAProxy (Debian's 2.6, TCP mode, PROXY v2),
each host, the balancer and the clients in network namespaces of their own,
joined by veth pairs to a bridge in a fifth ("switch") namespace:

    clients 10.231.0.100-.103 ──┐
    haproxy 10.231.0.1:21      ─┤ br0 (switch namespace)
    host h1 10.231.0.11:2121   ─┤
    host h2 10.231.0.12:2121   ─┘

Control connections go through the balancer; data connections go straight to
the host whose address the 227 names (passive.public_address's default: the
address the control connection reached, the host's own). Shown here:

- control sessions spread over the hosts;
- every data connection lands on its control session's host and resumes that
  session's TLS session (reuse required), and one that resumes another
  client's session is refused (522);
- max_sessions_per_address and failed-login logging see the real client
  addresses, not the balancer's;
- when a host is killed mid-run, a download on the other finishes intact, and
  HAProxy's health checks (which send a PROXY header of their own) send every
  new session to the survivor.

Needs root (namespaces). Everything the test starts is stopped by pid, and the
namespaces are deleted, whatever happened. The clients run as
scale_out_client.py inside their namespace.
"""
import json
import os
import shutil
import signal
import subprocess
import time
import unittest

from clients import (FULL_PASS, FULL_USER, RO_PASS, RO_USER, USERS, password_hash, sha256_bytes,
                     write_file)
from harness import BINARY, IS_ROOT, RUN_AS, make_tmpdir, run_binary, status_counters

HERE = os.path.dirname(os.path.abspath(__file__))
SUBNET = "10.231.0."
LB = SUBNET + "1"
HOSTS = {"h1": SUBNET + "11", "h2": SUBNET + "12"}
CLIENTS = [SUBNET + str(n) for n in (100, 101, 102, 103)]
FTP_PORT = 2121
STEP_TIMEOUT = 60

HOST_CONFIG = """run_as = "{run_as}"
workers = 1
state_dir = "{tmp}/state"
banner = "ringftpd {name}"
[[listen]]
address = "{address}"
port = {port}
proxy_protocol = "v2"
proxy_trusted = ["{lb}/32"]
[passive]
ports = "{ports}"
{passive_extra}
[limits]
max_sessions_per_address = 2
[users]
file = "{users}"
[log]
level = "debug"
"""

HAPROXY_CONFIG = """global
    maxconn 1000
defaults
    mode tcp
    timeout connect 2s
    timeout client 60s
    timeout server 60s
frontend ftp
    bind {lb}:21
    default_backend hosts
backend hosts
    balance roundrobin
    option tcp-check
    tcp-check expect rstring ^220
    tcp-check send QUIT\\r\\n
    default-server send-proxy-v2 check-send-proxy check inter 300ms fall 2 rise 2
    server h1 {h1}:{port}
    server h2 {h2}:{port}
{data_frontends}"""

# Each host's passive ports, disjoint so that the balancer can tell by the
# port which host a data connection is for.
PASSIVE = {"h1": (34900, 34924), "h2": (34925, 34949)}

# Data through the balancer: one frontend per host's passive range, sent on
# to the same port of that host with a PROXY v2 header.
DATA_FRONTEND = """frontend data_{name}
    bind {lb}:{first}-{last}
    default_backend data_{name}
backend data_{name}
    server {name} {address} send-proxy-v2
"""


def run(*cmd, check=True):
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=STEP_TIMEOUT)
    if check and r.returncode != 0:
        raise AssertionError("%s failed: %s" % (" ".join(cmd), r.stderr))
    return r


class Topology:
    """The namespaces, the bridge and the veth pairs; delete() undoes all."""

    def __init__(self):
        tag = str(os.getpid())
        self.switch = "rfsw" + tag
        self.ns = {name: "rf%s%s" % (name, tag) for name in ("lb", "h1", "h2", "cl")}
        self.made = []

    def create(self):
        run("ip", "netns", "add", self.switch)
        self.made.append(self.switch)
        run("ip", "-n", self.switch, "link", "add", "br0", "type", "bridge")
        run("ip", "-n", self.switch, "link", "set", "br0", "up")
        addresses = {"lb": [LB], "h1": [HOSTS["h1"]], "h2": [HOSTS["h2"]], "cl": CLIENTS}
        for i, (name, ns) in enumerate(self.ns.items()):
            run("ip", "netns", "add", ns)
            self.made.append(ns)
            outside = "v%d%s" % (i, self.switch[-6:])
            run("ip", "-n", ns, "link", "add", "eth0", "type", "veth", "peer", "name", outside,
                "netns", self.switch)
            run("ip", "-n", self.switch, "link", "set", outside, "master", "br0", "up")
            run("ip", "-n", ns, "link", "set", "lo", "up")
            for a in addresses[name]:
                run("ip", "-n", ns, "addr", "add", a + "/24", "dev", "eth0")
            run("ip", "-n", ns, "link", "set", "eth0", "up")

    def delete(self):
        for ns in reversed(self.made):
            run("ip", "netns", "del", ns, check=False)


class Process:
    """A process started inside a namespace, stopped by its pid."""

    def __init__(self, ns, args, log_path):
        self.log_path = log_path
        self._log = open(log_path, "w")
        # `ip netns exec` enters the namespace and execs: the pid is the program's.
        self.proc = subprocess.Popen(["ip", "netns", "exec", ns] + args, stdout=self._log,
                                     stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)

    def log(self):
        with open(self.log_path) as f:
            return f.read()

    def wait_log(self, text, timeout=20.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in self.log():
                return
            if self.proc.poll() is not None:
                break
            time.sleep(0.1)
        raise AssertionError("%r not in the log:\n%s" % (text, self.log()[-3000:]))

    def stop(self, sig=signal.SIGTERM):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()


@unittest.skipUnless(IS_ROOT, "network namespaces need root")
class ScaleOutTest(unittest.TestCase):
    """Data connections straight to the host."""
    DATA_THROUGH_BALANCER = False

    @classmethod
    def setUpClass(cls):
        if not BINARY or not os.access(BINARY, os.X_OK):
            raise AssertionError("RINGFTPD_BIN does not name the built ringftpd binary")
        cls.tmp = make_tmpdir("ringftpd-scale-")
        cls.addClassCleanup(shutil.rmtree, cls.tmp, True)
        cls.topology = Topology()
        cls.addClassCleanup(cls.topology.delete)
        cls.topology.create()
        cls.root = os.path.join(cls.tmp, "root")
        os.mkdir(cls.root)
        cls.small = os.urandom(300_000)
        cls.small_sha = write_file(os.path.join(cls.root, "small.bin"), cls.small)
        cls.big_sha = write_file(os.path.join(cls.root, "big.bin"), os.urandom(24 << 20))
        users = os.path.join(cls.tmp, "users.toml")
        with open(users, "w") as f:
            f.write(USERS.format(full=FULL_USER, full_hash=password_hash(FULL_PASS), ro=RO_USER,
                                 ro_hash=password_hash(RO_PASS), root=cls.root))
        os.chmod(users, 0o600)
        cls.hosts = {}
        for name, address in HOSTS.items():
            tmp = os.path.join(cls.tmp, name)
            os.mkdir(tmp)
            os.chmod(tmp, 0o755)
            config = os.path.join(tmp, "ringftpd.toml")
            passive_extra = ""
            if cls.DATA_THROUGH_BALANCER:
                passive_extra = ('public_address = "%s"\nproxy_protocol = "v2"\n'
                                 'proxy_trusted = ["%s"]' % (LB, LB))
            with open(config, "w") as f:
                f.write(HOST_CONFIG.format(run_as=RUN_AS, tmp=tmp, name=name, address=address,
                                           port=FTP_PORT, lb=LB, users=users,
                                           ports="%d-%d" % PASSIVE[name],
                                           passive_extra=passive_extra))
            p = Process(cls.topology.ns[name], [BINARY, "--config", config],
                        os.path.join(tmp, "server.log"))
            p.config = config
            cls.hosts[name] = p
            cls.addClassCleanup(p.stop)
        for p in cls.hosts.values():
            p.wait_log("[master] ready")
        haproxy_cfg = os.path.join(cls.tmp, "haproxy.cfg")
        with open(haproxy_cfg, "w") as f:
            data = ""
            if cls.DATA_THROUGH_BALANCER:
                data = "".join(DATA_FRONTEND.format(name=n, lb=LB, first=PASSIVE[n][0],
                                                    last=PASSIVE[n][1], address=HOSTS[n])
                               for n in HOSTS)
            f.write(HAPROXY_CONFIG.format(lb=LB, h1=HOSTS["h1"], h2=HOSTS["h2"], port=FTP_PORT,
                                          data_frontends=data))
        run("haproxy", "-c", "-f", haproxy_cfg)
        cls.haproxy = Process(cls.topology.ns["lb"], ["haproxy", "-db", "-f", haproxy_cfg],
                              os.path.join(cls.tmp, "haproxy.log"))
        cls.addClassCleanup(cls.haproxy.stop, signal.SIGUSR1)  # soft stop
        # Both hosts pass their health checks (a PROXY v2 header of the check's
        # own, then "220"): their logs show the balancer's sessions.
        for p in cls.hosts.values():
            p.wait_log("[%s:" % LB)

    def client(self, *args):
        """Runs a scale_out_client.py scenario in the clients' namespace; its
        JSON lines."""
        r = subprocess.run(["ip", "netns", "exec", self.topology.ns["cl"], "python3",
                            os.path.join(HERE, "scale_out_client.py")] + [str(a) for a in args],
                           capture_output=True, text=True, timeout=STEP_TIMEOUT, cwd=HERE,
                           env=dict(os.environ, PYTHONDONTWRITEBYTECODE="1"))
        self.assertEqual(r.returncode, 0, r.stderr + self.logs(tail=4000))
        return [json.loads(line) for line in r.stdout.splitlines()]

    def counters(self, name):
        return status_counters(self.hosts[name].config)

    def logs(self, tail=None):
        """Both hosts' logs (their last `tail` characters each, for messages)."""
        return "".join("\n--- %s:\n%s" % (n, p.log()[-tail if tail else 0:])
                       for n, p in self.hosts.items())

    def host_of(self, banner):
        return banner.split()[-1]  # "220 ringftpd h1"

    # The tests run in name order; test_9 kills a host and must be last.

    def test_1_sessions_spread_and_data_resumes_on_the_right_host(self):
        before = {n: self.counters(n) for n in HOSTS}
        lines = self.client("download", LB, 21, CLIENTS[0], "small.bin", "1.3", 6)
        lines += self.client("download", LB, 21, CLIENTS[0], "small.bin", "1.2", 2)
        seen = set()
        for line in lines:
            host = self.host_of(line["banner"])
            seen.add(host)
            self.assertEqual(line["reply"], "226")
            self.assertEqual(line["sha"], self.small_sha)
            self.assertTrue(line["resumed"], "the data connection did not resume")
            # The 227 names the host, or the balancer that forwards the
            # host's ports to it; either way the data reached the control
            # session's host, since it resumed that host's session.
            expected = LB if self.DATA_THROUGH_BALANCER else HOSTS[host]
            self.assertEqual(line["data_host"], expected)
        self.assertEqual(seen, set(HOSTS), "sessions did not spread over the hosts")
        for n in HOSTS:
            after = self.counters(n)
            self.assertGreater(after["data_tls_resumed"], before[n]["data_tls_resumed"])
            self.assertEqual(after["data_tls_full"], before[n]["data_tls_full"])
        log = self.logs()
        self.assertIn("[%s:" % CLIENTS[0], log)
        self.assertNotRegex(log, r"\[%s:\d+\] login ok" % LB.replace(".", r"\."))

    def test_2_foreign_session_refused_on_every_host(self):
        for version in ("1.2", "1.3"):
            hosts = set()
            # Round robin puts A and B on different hosts, or the same one:
            # several rounds cover both hosts.
            for _ in range(2):
                (line,) = self.client("foreign", LB, 21, CLIENTS[1], "small.bin", version)
                # A and B take two turns of the round robin: one more session
                # moves the next A to the other host.
                self.client("sessions", LB, 21, CLIENTS[3], 1)
                hosts.add(self.host_of(line["banner_a"]))
                self.assertEqual(line["own"], "226")
                self.assertEqual(line["foreign"], "522", line)
                self.assertEqual(line["again"], "226")
                self.assertEqual(line["again_sha"], self.small_sha)
            self.assertEqual(hosts, set(HOSTS))

    def test_3_per_address_limit_sees_real_clients(self):
        # max_sessions_per_address = 2 per host, two hosts: of six sessions
        # from one client four are admitted, and another client is not affected.
        lines = self.client("sessions", LB, 21, CLIENTS[2], 6)
        replies = [line["reply"][:3] for line in lines]
        self.assertEqual(sorted(replies), ["220"] * 4 + ["421"] * 2, lines)
        self.assertIn("from your address", " ".join(line["reply"] for line in lines))
        (other,) = self.client("sessions", LB, 21, CLIENTS[3], 1)
        self.assertEqual(other["reply"][:3], "220")
        self.assertRegex(self.logs(), r"\[%s:\d+\] refused \(per-address limit\)"
                         % CLIENTS[2].replace(".", r"\."))

    def test_4_failed_logins_name_the_real_client(self):
        (line,) = self.client("bad_password", LB, 21, CLIENTS[3])
        self.assertEqual(line["reply"], "530")
        self.assertRegex(self.logs(), r"warn \[%s:\d+\] login failed \(bad credentials\)"
                         % CLIENTS[3].replace(".", r"\."))

    def test_9_host_killed_mid_run(self):
        cl = self.topology.ns["cl"]
        slow = subprocess.Popen(["ip", "netns", "exec", cl, "python3",
                                 os.path.join(HERE, "scale_out_client.py"), "slow_download", LB,
                                 "21", CLIENTS[0], "big.bin"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                cwd=HERE)
        try:
            started = json.loads(slow.stdout.readline())
            survivor = self.host_of(started["banner"])
            victim = "h2" if survivor == "h1" else "h1"
            # The victim's whole process tree dies at once.
            status = run_binary(["--status", "--config", self.hosts[victim].config]).stdout
            pids = [int(line.split()[1]) for line in status.splitlines()
                    if line.split()[:1] in (["master_pid"], ["authd_pid"])]
            pids += [int(line.split()[3]) for line in status.splitlines()
                     if line.startswith("worker ")]
            for pid in pids:
                os.kill(pid, signal.SIGKILL)
            self.hosts[victim].proc.wait(timeout=10)
            out, err = slow.communicate(timeout=STEP_TIMEOUT)
        finally:
            if slow.poll() is None:
                slow.kill()
                slow.wait()
        done = json.loads(out.splitlines()[-1])
        self.assertEqual(done["reply"], "226", err)
        self.assertEqual(done["sha"], self.big_sha)
        # Health checks (every 300 ms, down after 2 failures) take the victim
        # out; until then a session may be sent there and fail: retry briefly.
        deadline = time.monotonic() + 10
        while True:
            lines = self.client("sessions", LB, 21, CLIENTS[3], 1)
            if lines[0]["reply"].startswith("220"):
                break
            self.assertLess(time.monotonic(), deadline, "no session reached the survivor")
            time.sleep(0.3)
        lines = self.client("download", LB, 21, CLIENTS[1], "small.bin", "1.3", 4)
        for line in lines:
            self.assertEqual(self.host_of(line["banner"]), survivor)
            self.assertEqual(line["sha"], self.small_sha)


class ScaleOutDataThroughBalancerTest(ScaleOutTest):
    """Data connections through the balancer too: each host's passive range
    has a frontend of its own, sending a PROXY v2 header (passive.proxy_protocol),
    and the 227 names the balancer (passive.public_address)."""
    DATA_THROUGH_BALANCER = True
