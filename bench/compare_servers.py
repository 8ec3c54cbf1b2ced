#!/usr/bin/python3
"""Side-by-side benchmark: ringftpd vs vsftpd, ProFTPD and Pure-FTPd (issue 6, item 4).

Driven by bench/compare_servers.sh (see its usage text). Everything runs on
127.0.0.1; one server runs at a time; each measurement starts its server
fresh and stops it afterwards; the servers alternate within every repetition
(the order rotates from one repetition to the next).

Workloads (same clients for every server):
  tls_curl        K=4 parallel `curl --ssl-reqd -k` of the big file (PROT P), R rounds
  tls_ftpsload    ftpsload download -c 4, SHA-256 of every transfer checked
  clear_curl      1 `curl --ftp-ssl-control -k` (TLS control, PROT C), *-cleardata configs
  clear_ftpsload  ftpsload download -c 1 --prot C, SHA-256 checked
  sessions12/13   ftpsload sessions -c 16 (connect, AUTH TLS, login, PBSZ/PROT, EPSV,
                  RETR f1k.bin checked, QUIT), TLS 1.2 / TLS 1.3, reuse on
  upload_ftpsload ftpsload upload -c 4 of 300000-byte files, TLS 1.3 (226 + SIZE checked)
  upload_curl     `curl --ssl-reqd --tlsv1.3 -T`, 4 at a time, each a new session
                  (exit code + size and SHA-256 of the file on disk checked)
  idle            ftpsload idle: N logged-in TLS sessions (PBSZ 0, PROT P) held;
                  PSS of the server's process tree (smaps_rollup) before/after
  idle_big        the same for ringftpd alone with larger N (1000, 20000)

Server CPU: a cgroup-v1 cpuacct group per server, joined before the server
starts, so every process and thread it ever forks is counted (io-wq, session
processes that are never reaped into the listener's cutime, ...). The /proc
figure (utime+stime+cutime+cstime summed over the live process tree, the
method of ../shared/peers/lib/bench.py) is recorded too; it is the fallback
when the cgroup cannot be made.
"""
import argparse, datetime, hashlib, json, os, re, shutil, signal, statistics, subprocess, sys, time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HZ = os.sysconf("SC_CLK_TCK")
NCPU = os.cpu_count()
ALL = ["ringftpd", "vsftpd", "proftpd", "pure-ftpd"]
PEERS_ONLY = ["vsftpd", "proftpd", "pure-ftpd"]
UPLOAD_SIZE = 300000
STALL = 40  # idle: seconds without one more session logged in before measuring what is held


class Abort(Exception):
    pass


def log(*a):
    print("[compare %s]" % time.strftime("%H:%M:%S"), *a, file=sys.stderr, flush=True)


def sh(cmd, **kw):
    return subprocess.run(cmd, shell=isinstance(cmd, str), capture_output=True, text=True, **kw)


# --------------------------------------------------------------------------- /proc helpers
def ppid_map():
    m = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                s = open("/proc/%s/stat" % d).read()
                m[int(d)] = int(s[s.rindex(")") + 2:].split()[1])
            except (OSError, ValueError):
                pass
    return m


def tree(root):
    m = ppid_map()
    kids = {}
    for c, p in m.items():
        kids.setdefault(p, []).append(c)
    out, to_visit = [], [root]
    while to_visit:
        p = to_visit.pop()
        if p in m or os.path.exists("/proc/%d" % p):
            out.append(p)
        to_visit.extend(kids.get(p, []))
    return out


def proc_cpu(pid):
    try:
        s = open("/proc/%d/stat" % pid).read()
        f = s[s.rindex(")") + 2:].split()
        return sum(int(x) for x in f[11:15]) / HZ
    except (OSError, ValueError):
        return 0.0


def alive(pid):
    """pid exists and is not a zombie."""
    try:
        st = open("/proc/%d/stat" % pid).read()
        return st[st.rindex(")") + 2] != "Z"
    except (OSError, ValueError):
        return False


def tree_cpu(root):
    return sum(proc_cpu(p) for p in tree(root))


def tree_mem(root):
    rss = pss = n = 0
    for p in tree(root):
        try:
            for line in open("/proc/%d/smaps_rollup" % p):
                if line.startswith("Rss:"):
                    rss += int(line.split()[1])
                elif line.startswith("Pss:"):
                    pss += int(line.split()[1])
            n += 1
        except (OSError, ValueError):
            pass
    return {"rss_kib": rss, "pss_kib": pss, "procs": n}


def tree_fds(root):
    n = 0
    for p in tree(root):
        try:
            n += len(os.listdir("/proc/%d/fd" % p))
        except OSError:
            pass
    return n


def nofile_limits(root):
    """Soft RLIMIT_NOFILE of each process of the tree, as a sorted set."""
    out = set()
    for p in tree(root):
        try:
            for line in open("/proc/%d/limits" % p):
                if line.startswith("Max open files"):
                    out.add(int(line.split()[3]))
        except (OSError, ValueError, IndexError):
            pass
    return sorted(out)


def sys_busy():
    v = [int(x) for x in open("/proc/stat").readline().split()[1:]]
    return (sum(v[:8]) - v[3] - v[4]) / HZ


def meminfo():
    d = {}
    for line in open("/proc/meminfo"):
        k, v = line.split(":")
        d[k] = int(v.split()[0])
    return d


def loadavg():
    return open("/proc/loadavg").read().split()[0]


def listening(port):
    r = sh(["ss", "-Hltn", "sport = :%d" % port])
    return bool(r.stdout.strip())


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while True:
            b = f.read(1 << 20)
            if not b:
                break
            h.update(b)
    return h.hexdigest()


def union_length(spans):
    """Total time covered by at least one of the intervals (a, b)."""
    total, end = 0.0, None
    for a, b in sorted(spans):
        if end is None or a > end:
            total += b - a
            end = b
        elif b > end:
            total += b - end
            end = b
    return total


# --------------------------------------------------------------------------- servers
class Servers:
    """Starts and stops the four servers; remembers what runs so cleanup() can stop it."""

    def __init__(self, cfg):
        self.cfg = cfg
        self.running = {}     # name -> pid
        self.rproc = None     # ringftpd Popen
        self.cgroups = {}
        base = "/sys/fs/cgroup/cpuacct"
        for s in ALL:
            g = os.path.join(base, "ringftpd-compare-%d-%s" % (os.getpid(), s))
            try:
                os.mkdir(g)
                self.cgroups[s] = g
            except OSError:
                pass
        self.cpu_source = "cgroup cpuacct" if len(self.cgroups) == len(ALL) else "/proc tree"

    def port(self, name):
        return self.cfg.ports[name]

    def cg_cpu(self, name):
        g = self.cgroups.get(name)
        if not g:
            return None
        try:
            return int(open(os.path.join(g, "cpuacct.usage")).read()) / 1e9
        except OSError:
            return None

    def wrap(self, name, cmd):
        """cmd run by a shell that first joins the server's cgroup (so all it forks is counted)."""
        g = self.cgroups.get(name)
        if not g:
            return cmd
        return ["sh", "-c", 'echo $$ > "$0/cgroup.procs" && exec "$@"', g] + cmd

    def start(self, name, variant="main"):
        port = self.port(name)
        t0 = time.time()
        while listening(port) and time.time() - t0 < 10:  # a server still exiting, or someone else's test
            time.sleep(0.5)
        if listening(port):
            who = sh(["ss", "-Hltnp", "sport = :%d" % port]).stdout.strip()[:200]
            raise RuntimeError("port %d in use by another process before starting %s: %s" % (port, name, who))
        if time.time() - t0 > 1:
            log("waited %.0f s for port %d to be free" % (time.time() - t0, port))
        if name == "ringftpd":
            conf = self.cfg.rconf[variant]
            logf = open(self.cfg.rlog, "a")
            logf.write("---- start %s %s\n" % (variant, time.strftime("%F %T")))
            logf.flush()
            self.rproc = subprocess.Popen(self.wrap(name, [self.cfg.rbin, "--config", conf]),
                                          stdin=subprocess.DEVNULL, stdout=logf, stderr=logf,
                                          start_new_session=True)
            logf.close()
            pid = self.rproc.pid
            self.running[name] = pid
            for _ in range(100):
                if listening(port) or self.rproc.poll() is not None:
                    break
                time.sleep(0.05)
            if self.rproc.poll() is not None or not listening(port):
                tail = open(self.cfg.rlog).read()[-600:]
                self.stop(name)
                raise RuntimeError("ringftpd did not start: " + tail.replace("\n", " | "))
            # the workers bind their listeners and drop privileges after the master's bind
            deadline = time.time() + 5
            while time.time() < deadline and len(tree(pid)) < 2 + max(1, self.cfg.rworkers):
                time.sleep(0.05)
        else:
            r = subprocess.run(self.wrap(name, [self.cfg.ctl, "start", name, variant]),
                               capture_output=True, text=True, timeout=30)
            if r.returncode == 0:
                pid = int(r.stdout.strip().splitlines()[-1])
            else:
                # ctl.sh gives up when its first look at /proc/PID/comm comes before the exec (a loaded
                # machine) or after 5 s; the server may still come up: its pid file tells.
                pid = self.peer_pidfile(name)
                deadline = time.time() + 15
                while pid and os.path.exists("/proc/%d" % pid) and not listening(port) and time.time() < deadline:
                    time.sleep(0.2)
                if not (pid and os.path.exists("/proc/%d" % pid) and listening(port)):
                    subprocess.run([self.cfg.ctl, "stop", name], capture_output=True, text=True, timeout=60)
                    raise RuntimeError("%s start failed: %s %s" % (name, r.stdout.strip(), r.stderr.strip()[-400:]))
                log("%s came up after ctl.sh had given up (pid %d)" % (name, pid))
            self.running[name] = pid
        time.sleep(0.3)
        return pid

    def peer_pidfile(self, name):
        try:
            return int(open(os.path.join(self.cfg.peers, "run", "%s.pid" % name)).read().strip())
        except (OSError, ValueError):
            return None

    def stop_peer(self, name):
        """ctl.sh stop, checked: under `set -e` it exits before killing anything when a process vanishes
        while it scans /proc (awk fails in `kids=$(descendants ...)`), e.g. just after many sessions closed."""
        for _ in range(3):
            subprocess.run([self.cfg.ctl, "stop", name], capture_output=True, text=True, timeout=60)
            pid = self.peer_pidfile(name)
            if pid is None or not alive(pid):
                return
            time.sleep(0.5)
        log("ctl.sh stop %s left pid %d running: killing it and its descendants" % (name, pid))
        procs = tree(pid)
        for p in procs:
            try:
                os.kill(p, signal.SIGTERM)
            except OSError:
                pass
        deadline = time.time() + 5
        while time.time() < deadline and any(alive(p) for p in procs):
            time.sleep(0.1)
        for p in procs:
            if alive(p):
                try:
                    os.kill(p, signal.SIGKILL)
                except OSError:
                    pass
        try:
            os.unlink(os.path.join(self.cfg.peers, "run", "%s.pid" % name))
        except OSError:
            pass

    def log_size(self):
        try:
            return os.path.getsize(self.cfg.rlog)
        except OSError:
            return 0

    def compact_log(self, limit=20 << 20, keep=1 << 20):
        """ringftpd's log can explode (e.g. one warning per failed accept): keep its head and tail."""
        n = self.log_size()
        if n <= limit:
            return
        with open(self.cfg.rlog, "rb") as f:
            head = f.read(keep)
            f.seek(n - keep)
            tail = f.read()
        with open(self.cfg.rlog, "wb") as f:
            f.write(head + b"\n[... compare_servers: %d bytes cut ...]\n" % (n - 2 * keep) + tail)

    def stop(self, name):
        pid = self.running.pop(name, None)
        if name == "ringftpd":
            if self.rproc is not None:
                kids = tree(self.rproc.pid)
                try:
                    os.kill(self.rproc.pid, signal.SIGINT)  # stop now
                except ProcessLookupError:
                    pass
                try:
                    self.rproc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    pass
                for p in kids:  # by pid, only what this master forked (and still our binary)
                    try:
                        ours = os.readlink("/proc/%d/exe" % p) == os.path.realpath(self.cfg.rbin)
                    except OSError:
                        ours = False
                    if ours and alive(p):
                        try:
                            os.kill(p, signal.SIGKILL)
                        except OSError:
                            pass
                try:
                    self.rproc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    pass
                self.rproc = None
            self.compact_log()
        else:
            self.stop_peer(name)
        for _ in range(50):
            if not listening(self.port(name)):
                break
            time.sleep(0.1)

    def cleanup(self):
        for name in list(self.running):
            try:
                self.stop(name)
            except Exception as e:  # keep stopping the others
                log("cleanup: stopping %s: %s" % (name, e))
        for name in PEERS_ONLY:  # whatever ctl.sh still has a pid file for
            try:
                self.stop_peer(name)
            except Exception as e:
                log("cleanup: stopping %s: %s" % (name, e))
        for g in self.cgroups.values():
            for _ in range(20):
                try:
                    os.rmdir(g)
                    break
                except OSError:
                    time.sleep(0.2)


class Meter:
    """Server CPU (cgroup and /proc tree), system busy CPU and wall around a measurement."""

    def __init__(self, srv, name, pid):
        self.srv, self.name, self.pid = srv, name, pid

    def __enter__(self):
        self.t0 = time.time()
        self.b0 = sys_busy()
        self.c0 = self.srv.cg_cpu(self.name)
        self.p0 = tree_cpu(self.pid)
        self.l0 = loadavg()
        return self

    def finish(self, settle=0.3):
        self.wall = time.time() - self.t0
        self.busy = sys_busy() - self.b0
        time.sleep(settle)  # let forking servers reap finished session processes
        c1 = self.srv.cg_cpu(self.name)
        self.cpu_cg = None if c1 is None or self.c0 is None else c1 - self.c0
        self.cpu_proc = tree_cpu(self.pid) - self.p0
        self.cpu = self.cpu_cg if self.cpu_cg is not None else self.cpu_proc
        return self

    def __exit__(self, *a):
        return False

    def fields(self):
        return {"wall_s": self.wall, "server_cpu_s": self.cpu, "server_cpu_cg_s": self.cpu_cg,
                "server_cpu_proc_s": self.cpu_proc, "system_busy_s": self.busy,
                "system_busy_share": self.busy / (self.wall * NCPU),
                "loadavg_before": self.l0}


# --------------------------------------------------------------------------- clients

def ftpsload_report(res, out):
    """ftpsload's --json report (its last stdout line), or None with out["error"] set."""
    try:
        return json.loads(res["out"].strip().splitlines()[-1])
    except (ValueError, IndexError):
        out["error"] = "ftpsload rc=%d, no report: %s" % (res["rc"], res["err"].strip()[-300:])
        return None

def run_procs(cmds, logdir, tag):
    """Start all cmds at once; wait for all. Returns per process: rc, stdout, stderr tail, cpu, t_start."""
    procs = []
    for i, c in enumerate(cmds):
        t = time.time()
        out = open(os.path.join(logdir, "%s.%d.out" % (tag, i)), "w+")
        err = open(os.path.join(logdir, "%s.%d.err" % (tag, i)), "w+")
        procs.append((subprocess.Popen(c, stdin=subprocess.DEVNULL, stdout=out, stderr=err), out, err, t))
    res = []
    try:
        for p, out, err, t in procs:
            res.append(wait_one(p, out, err, t))
    except BaseException:  # an abort: timeout(1) passes SIGTERM on to its client, which then ends
        for p, _, _, _ in procs:
            if p.returncode is None:
                try:
                    p.send_signal(signal.SIGTERM)
                    p.wait(timeout=10)
                except (OSError, subprocess.TimeoutExpired):
                    p.kill()
        raise
    return res


def wait_one(p, out, err, t):
    """Wait for p; its output, exit code and CPU (rusage, with what it waited for: timeout(1)'s child)."""
    _, status, ru = os.wait4(p.pid, 0)
    p.returncode = os.waitstatus_to_exitcode(status)
    out.seek(0)
    err.seek(0)
    r = {"rc": p.returncode, "out": out.read(), "err": err.read(), "t0": t, "t1": time.time(),
         "cpu": ru.ru_utime + ru.ru_stime}
    out.close()
    err.close()
    return r


class Bench:
    def __init__(self, cfg, srv):
        self.cfg, self.srv = cfg, srv
        self.rows = []
        self.jl = open(os.path.join(cfg.out, "results.jsonl"), "a")

    def rec(self, row):
        self.rows.append(row)
        self.jl.write(json.dumps(row) + "\n")
        self.jl.flush()
        keys = ("mb_s", "server_cpu_s_per_gb", "sessions_per_s", "server_cpu_ms_per_session",
                "pss_kib_per_session", "failed", "sessions_held")
        brief = " ".join("%s=%s" % (k, ("%.3g" % row[k]) if isinstance(row.get(k), float) else row.get(k))
                         for k in keys if row.get(k) is not None)
        log("%-15s %-9s rep %s %s%s" % (row["test"], row["server"], row.get("rep"), brief,
                                        "" if not row.get("error") else "  ERROR: " + row["error"]))

    # ------------------------------------------------------------------ helpers
    def timed_out(self):
        if time.time() > self.cfg.deadline:
            raise Abort("time budget (--max-minutes %g) exhausted" % self.cfg.max_minutes)

    def ftpsload(self, name, mode, extra, budget_s):
        c = self.cfg
        return ["timeout", "-k", "5", str(int(budget_s)), c.fbin, mode, "--host", "127.0.0.1",
                "--port", str(self.srv.port(name)), "--user", c.user, "--password", c.password,
                "--quiet"] + extra

    def measure(self, test, name, rep, variant, body):
        """Start `name`, run body(pid) -> dict, stop. Errors become an error row."""
        self.timed_out()
        row = {"test": test, "server": name, "rep": rep, "variant": variant}
        try:
            pid = self.srv.start(name, variant)
            log0 = self.srv.log_size() if name == "ringftpd" else None
            try:
                row.update(body(pid))
            finally:
                if log0 is not None:
                    row["server_log_bytes"] = self.srv.log_size() - log0
                self.srv.stop(name)
        except Abort:
            raise
        except Exception as e:
            row["error"] = "%s: %s" % (type(e).__name__, str(e)[:300])
        self.rec(row)
        return row

    def curl_base(self, name, clear, max_time):
        c = self.cfg
        return ["timeout", "-k", "5", str(max_time + 30), "curl", "-sS", "-k", "--max-time", str(max_time),
                "-u", "%s:%s" % (c.user, c.password)] + (["--ftp-ssl-control"] if clear else ["--ssl-reqd"])

    # ------------------------------------------------------------------ workloads
    def bulk_curl(self, name, rep, clear):
        c = self.cfg
        k = 1 if clear else 4
        rounds = c.clear_rounds if clear else c.tls_rounds
        url = "ftp://127.0.0.1:%d/%s" % (self.srv.port(name), c.big)

        def body(pid):
            nbytes = 0
            data_phase = 0.0
            errs = []
            ciphers = set()
            ccpu = 0.0
            with Meter(self.srv, name, pid) as m:
                for r in range(rounds):
                    cmd = self.curl_base(name, clear, 120) + [
                        "-v", "-w", "%{size_download} %{time_pretransfer} %{time_total}\\n", "-o", "/dev/null", url]
                    res = run_procs([cmd] * k, c.logdir, "%s-%s-r%d-%d" % ("clear" if clear else "tls", name, rep, r))
                    spans = []
                    for p in res:
                        ccpu += p["cpu"]
                        f = p["out"].split()
                        mm = re.search(r"SSL connection using (\S+) / (\S+)", p["err"])
                        if mm:
                            ciphers.add("%s %s" % mm.groups())
                        if p["rc"] != 0 or len(f) < 3 or int(f[0]) != c.big_size:
                            lastline = [l for l in p["err"].splitlines() if l.startswith(("curl:", "< 4", "< 5"))]
                            errs.append("curl rc=%d bytes=%s %s" % (p["rc"], f[0] if f else "?",
                                                                    " | ".join(lastline[-2:])[:200]))
                            continue
                        nbytes += int(f[0])
                        spans.append((p["t0"] + float(f[1]), p["t0"] + float(f[2])))
                    data_phase += union_length(spans)
                m.finish()
            want = k * rounds * c.big_size
            out = m.fields()
            out.update({"k": k, "rounds": rounds, "bytes": nbytes, "client_cpu_s": ccpu,
                        "ciphers": sorted(ciphers), "errors": errs,
                        "mb_s": nbytes / data_phase / 1e6 if data_phase and nbytes == want else None,
                        "mb_s_wall": nbytes / m.wall / 1e6 if nbytes == want else None,
                        "server_cpu_s_per_gb": m.cpu / (nbytes / 1e9) if nbytes == want else None})
            if nbytes != want:
                out["error"] = "%d of %d bytes; %s" % (nbytes, want, "; ".join(errs)[:300])
            return out
        return self.measure("clear_curl" if clear else "tls_curl", name, rep, "cleardata" if clear else "main", body)

    def bulk_ftpsload(self, name, rep, clear):
        c = self.cfg
        conc = 1 if clear else 4
        count = c.clear_fl_count if clear else c.tls_fl_count
        extra = ["--path", c.big, "--verify-file", os.path.join(c.data, c.big), "-c", str(conc),
                 "-n", str(count), "--json", "--timeout", "30"]
        if clear:
            extra += ["--prot", "C"]

        def body(pid):
            with Meter(self.srv, name, pid) as m:
                res = run_procs([self.ftpsload(name, "download", extra, 300)], c.logdir,
                                "fl-%s-%s-r%d" % ("clear" if clear else "tls", name, rep))[0]
                m.finish()
            return self.ftpsload_row(res, m, count)
        return self.measure("clear_ftpsload" if clear else "tls_ftpsload", name, rep,
                            "cleardata" if clear else "main", body)

    def ftpsload_row(self, res, m, count):
        out = m.fields()
        out["client_cpu_s"] = res["cpu"]
        j = ftpsload_report(res, out)
        if j is None:
            return out
        ok = j["transfers"]["ok"]
        nbytes = j["bytes"]["completed"]
        out.update({"rc": res["rc"], "transfers_ok": ok, "transfers_failed": j["transfers"]["failed"],
                    "bytes": nbytes, "errors_total": j["errors_total"], "errors_by_kind": j["errors"],
                    "reply_codes": j["reply_codes"], "cipher": "%s %s" % (j["tls"]["protocol"], j["tls"]["cipher"]),
                    "tls": j["tls"], "ftpsload_mb_s": j["mb_per_s"], "elapsed_s": j["elapsed_s"]})
        if ok == count and j["errors_total"] == 0:
            out["mb_s"] = j["mb_per_s"]
            out["server_cpu_s_per_gb"] = m.cpu / (nbytes / 1e9)
        else:
            out["error"] = "%d of %d transfers ok, errors %s" % (ok, count, json.dumps(j["errors"])[:250])
        return out

    def sessions(self, name, rep, tls):
        c = self.cfg
        extra = ["--path", "f1k.bin", "--verify-file", os.path.join(c.data, "f1k.bin"), "-c", "16",
                 "-d", str(c.sessions_s), "--tls", tls, "--reuse", "on", "--json", "--timeout", "10"]

        def body(pid):
            with Meter(self.srv, name, pid) as m:
                res = run_procs([self.ftpsload(name, "sessions", extra, c.sessions_s + 40)], c.logdir,
                                "sessions%s-%s-r%d" % (tls, name, rep))[0]
                m.finish(settle=1.0)
            out = m.fields()
            out["client_cpu_s"] = res["cpu"]
            j = ftpsload_report(res, out)
            if j is None:
                return out
            done = j["sessions"]["completed"]
            lat = j["latency_ms"]["session"]
            t = j["tls"]
            out.update({"rc": res["rc"], "sessions_completed": done, "sessions_failed": j["sessions"]["failed"],
                        "errors_total": j["errors_total"], "errors_by_kind": j["errors"],
                        "reply_codes": j["reply_codes"], "cipher": "%s %s" % (t["protocol"], t["cipher"]),
                        "tls": t, "p50_ms": lat["p50"], "p99_ms": lat["p99"],
                        "data_resumed_frac": t["data_resumed"] / max(1, t["data_resumed"] + t["data_full"])})
            if done > 0:
                out["sessions_per_s"] = j["sessions"]["per_s"]
                out["server_cpu_ms_per_session"] = 1000 * m.cpu / done
            if done == 0 or j["errors_total"] > 0:
                out["error"] = "%d sessions done, %d errors %s" % (done, j["errors_total"], json.dumps(j["errors"])[:250])
                if done > 0 and j["errors_total"] <= max(1, done // 100):
                    out["minor_errors"] = out.pop("error")  # <1 %: figures kept, errors noted
            return out
        return self.measure("sessions" + tls.replace(".", ""), name, rep, "main", body)

    def clean_uploads(self):
        d = os.path.join(self.cfg.data, "upload")
        for f in os.listdir(d):
            try:
                os.unlink(os.path.join(d, f))
            except OSError:
                pass

    def upload_ftpsload(self, name, rep):
        c = self.cfg
        n = c.uploads
        extra = ["--path", "upload/fl-{}.bin", "--size", str(UPLOAD_SIZE), "-c", "4", "-n", str(n),
                 "--tls", "1.3", "--json", "--timeout", "15"]

        def body(pid):
            self.clean_uploads()
            with Meter(self.srv, name, pid) as m:
                res = run_procs([self.ftpsload(name, "upload", extra, 240)], c.logdir,
                                "upload-fl-%s-r%d" % (name, rep))[0]
                m.finish()
            out = m.fields()
            j = ftpsload_report(res, out)
            if j is None:
                return out
            ok = j["transfers"]["ok"]
            out.update({"attempted": n, "ok": ok, "failed": n - ok, "errors_by_kind": j["errors"],
                        "reply_codes": j["reply_codes"], "cipher": "%s %s" % (j["tls"]["protocol"], j["tls"]["cipher"]),
                        "tls": j["tls"]})
            self.clean_uploads()
            return out
        return self.measure("upload_ftpsload", name, rep, "main", body)

    def upload_curl(self, name, rep):
        c = self.cfg
        n = c.curl_uploads

        def body(pid):
            self.clean_uploads()
            fails = []
            with Meter(self.srv, name, pid) as m:
                i = 0
                while i < n:
                    batch = list(range(i, min(n, i + 4)))
                    cmds = [self.curl_base(name, False, 30) + ["--tlsv1.3", "-T", c.upload_src,
                            "ftp://127.0.0.1:%d/upload/cu-%d.bin" % (self.srv.port(name), j)] for j in batch]
                    res = run_procs(cmds, c.logdir, "upload-curl-%s-r%d" % (name, rep))
                    for j, p in zip(batch, res):
                        path = os.path.join(c.data, "upload", "cu-%d.bin" % j)
                        why = None
                        if p["rc"] != 0:
                            why = "curl rc=%d %s" % (p["rc"], p["err"].strip().splitlines()[-1][:120] if p["err"].strip() else "")
                        elif not os.path.exists(path):
                            why = "file missing on disk"
                        elif os.path.getsize(path) != UPLOAD_SIZE:
                            why = "on disk %d of %d bytes" % (os.path.getsize(path), UPLOAD_SIZE)
                        elif sha256_file(path) != c.upload_sha:
                            why = "SHA-256 differs on disk"
                        if why:
                            fails.append(why)
                    i += len(batch)
                m.finish()
            out = m.fields()
            kinds = {}
            for f in fails:
                kinds[f] = kinds.get(f, 0) + 1
            out.update({"attempted": n, "ok": n - len(fails), "failed": len(fails), "errors_by_kind": kinds})
            self.clean_uploads()
            return out
        return self.measure("upload_curl", name, rep, "main", body)

    def idle(self, name, rep, n, test="idle"):
        c = self.cfg
        hold = 60 + n // 20

        def body(pid):
            time.sleep(0.5)
            before = tree_mem(pid)
            fds0 = tree_fds(pid)
            mi0 = meminfo()
            outp = os.path.join(c.logdir, "%s%d-%s-r%d.out" % (test, n, name, rep))
            errp = outp[:-4] + ".err"
            # Not --quiet/--json: the "ready: N of M sessions logged in" progress line tells when all are up.
            cmd = ["timeout", "-k", "5", str(hold + 30), c.fbin, "idle", "--host", "127.0.0.1",
                   "--port", str(self.srv.port(name)), "--user", c.user, "--password", c.password,
                   "-c", str(n), "-d", str(hold), "--timeout", "30"]
            if n > 8000:  # each ring's file table is bounded by RLIMIT_NOFILE: split over rings
                cmd += ["-t", str(min(8, -(-n // 8000)))]
            with open(outp, "w") as o, open(errp, "w") as e:
                p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=o, stderr=e)
            t0 = time.time()
            ready = None  # (sessions held, seconds to get there)
            last, last_t = -1, time.time()
            try:
                while p.poll() is None and time.time() - t0 < hold:
                    text = open(outp).read()
                    mm = re.search(r"ready: (\d+) of (\d+) sessions logged in after ([\d.]+)s", text)
                    if mm:
                        ready = (int(mm.group(1)), float(mm.group(3)))
                        break
                    # ftpsload retries failed sessions, so a server refusing some never lets it say "ready":
                    # measure what is held once the count has not moved for STALL seconds.
                    up = re.findall(r"idle: (\d+) logged in", text)
                    if up and int(up[-1]) != last:
                        last, last_t = int(up[-1]), time.time()
                    elif last > 0 and time.time() - last_t > STALL:
                        ready = (last, last_t - t0)
                        break
                    time.sleep(0.2)
                if ready is None:
                    raise RuntimeError("sessions never all up; ftpsload: %s" % open(outp).read()[-300:].replace("\n", " | "))
                time.sleep(2.0)
                after = tree_mem(pid)
                fds1 = tree_fds(pid)
                limits = nofile_limits(pid)
                mi1 = meminfo()
                held = ready[0]
            finally:
                if p.poll() is None:
                    p.send_signal(signal.SIGINT)
                try:
                    p.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
            report = open(outp).read()
            me = re.search(r"^errors: (\d+)", report, re.M)
            kinds = {}
            if me:
                for l in report[me.end():].splitlines()[1:]:
                    mk = re.match(r"^  (.*\S)\s+x(\d+)$", l)
                    if not mk:
                        break
                    kinds[mk.group(1)] = int(mk.group(2))
            kern = lambda mi: mi["Slab"] + mi["PageTables"] + mi["KernelStack"]
            out = {"n": n, "sessions_held": held, "setup_s": ready[1], "before": before, "after": after,
                   "pss_kib_per_session": (after["pss_kib"] - before["pss_kib"]) / max(1, held),
                   "rss_kib_per_session": (after["rss_kib"] - before["rss_kib"]) / max(1, held),
                   "procs_per_session": (after["procs"] - before["procs"]) / max(1, held),
                   "fds_per_session": (fds1 - fds0) / max(1, held), "server_nofile_limits": limits,
                   "kernel_kib_per_session_both_ends": (kern(mi1) - kern(mi0)) / max(1, held),
                   "ftpsload_errors": int(me.group(1)) if me else None, "errors_by_kind": kinds}
            if held < n:
                out["error"] = "only %d of %d sessions logged in; ftpsload errors: %s" % (
                    held, n, ", ".join("%dx %s" % (v, k) for k, v in kinds.items()))
            return out
        return self.measure(test, name, rep, "main", body)


# --------------------------------------------------------------------------- summary
def med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def cell(rows, key, f="%.0f", show_range=True):
    good = [r for r in rows if r.get(key) is not None and not r.get("error")]
    bad = [r for r in rows if r.get("error")]
    if not rows:
        return "-"
    if not good:
        return "ERROR%s" % footnote(bad)
    xs = [r[key] for r in good]
    s = f % statistics.median(xs)
    if show_range and len(xs) > 1:
        s += (" (" + f + "-" + f + ")") % (min(xs), max(xs))
    if bad:
        s += " [%d/%d runs failed%s]" % (len(bad), len(rows), footnote(bad))
    return s


NOTES = []


def note(msg):
    """Number of the note `msg` (the same text gets the same number)."""
    msg = " ".join(msg.split())
    if msg not in NOTES:
        NOTES.append(msg)
    return NOTES.index(msg) + 1


def footnote(bad):
    return " (note %d)" % note("; ".join(sorted({"%s rep %s: %s" % (r["server"], r.get("rep"), r["error"]) for r in bad})))


def fails_cell(rows):
    if not rows:
        return "-"
    good = [r for r in rows if "failed" in r]
    bad = [r for r in rows if "failed" not in r]
    if not good:
        return "ERROR%s" % footnote(bad)
    s = "%d of %d" % (sum(r["failed"] for r in good), sum(r["attempted"] for r in good))
    kinds = {}
    for r in good:
        for k, v in (r.get("errors_by_kind") or {}).items():
            kinds[k] = kinds.get(k, 0) + v
    if kinds:
        s += " (note %d)" % note("; ".join("%dx %s" % (v, k) for k, v in sorted(kinds.items(), key=lambda x: -x[1]))[:400])
    if bad:
        s += " [%d runs failed%s]" % (len(bad), footnote(bad))
    return s


def label(cfg, s):
    return cfg.versions.get(s, s)


def summarize(cfg, rows, servers):
    NOTES.clear()
    by = lambda test, s: [r for r in rows if r["test"] == test and r["server"] == s]
    L = []
    L.append("| workload | " + " | ".join(label(cfg, s) for s in servers) + " |")
    L.append("|---" * (len(servers) + 1) + "|")

    def line(title, test, key, f="%.0f"):
        if not any(by(test, s) for s in servers):
            return
        L.append("| %s | %s |" % (title, " | ".join(cell(by(test, s), key, f) for s in servers)))

    def cipher_line(title, test, key):
        if not any(by(test, s) for s in servers):
            return
        cs = []
        for s in servers:
            vals = set()
            for r in by(test, s):
                v = r.get(key)
                if isinstance(v, list):
                    vals.update(v)
                elif v:
                    vals.add(v)
            cs.append(", ".join(sorted(vals)) or "-")
        L.append("| %s | %s |" % (title, " | ".join(cs)))

    big = "%s (%d MiB)" % (cfg.big, cfg.big_size >> 20)
    line("TLS download, 4 curl, MB/s (data phase)", "tls_curl", "mb_s")
    line("TLS download, 4 curl, MB/s (wall, incl. login)", "tls_curl", "mb_s_wall")
    line("TLS download, 4 curl, server CPU s/GB", "tls_curl", "server_cpu_s_per_gb", "%.2f")
    line("TLS download, ftpsload -c 4 (SHA-256 checked), MB/s", "tls_ftpsload", "mb_s")
    line("TLS download, ftpsload -c 4, server CPU s/GB", "tls_ftpsload", "server_cpu_s_per_gb", "%.2f")
    line("clear download, 1 curl, MB/s (data phase)", "clear_curl", "mb_s")
    line("clear download, 1 curl, server CPU s/GB", "clear_curl", "server_cpu_s_per_gb", "%.2f")
    line("clear download, ftpsload -c 1 (SHA-256 checked), MB/s", "clear_ftpsload", "mb_s")
    line("clear download, ftpsload -c 1, server CPU s/GB", "clear_ftpsload", "server_cpu_s_per_gb", "%.2f")
    for v in ("12", "13"):
        t = "sessions" + v
        vv = "1.2" if v == "12" else "1.3"
        line("sessions/s, 16 concurrent, TLS %s" % vv, t, "sessions_per_s", "%.1f")
        line("server CPU ms/session, TLS %s" % vv, t, "server_cpu_ms_per_session", "%.1f")
        line("session latency p50 ms, TLS %s" % vv, t, "p50_ms", "%.0f")
        line("session latency p99 ms, TLS %s" % vv, t, "p99_ms", "%.0f")
        line("data connections resumed %%, TLS %s" % vv, t, "data_resumed_pct", "%.0f")
    if any(by("idle", s) for s in servers):
        n = next(r["n"] for r in rows if r["test"] == "idle" and "n" in r) if any(
            "n" in r for r in rows if r["test"] == "idle") else cfg.idle_n
        line("PSS KiB per idle logged-in TLS session (N=%d)" % n, "idle", "pss_kib_per_session")
        line("server processes per idle session (N=%d)" % n, "idle", "procs_per_session", "%.2f")
        line("server open fds per idle session (N=%d)" % n, "idle", "fds_per_session", "%.2f")
    if any(by("upload_ftpsload", s) for s in servers):
        L.append("| TLS 1.3 uploads (300 KB) failed, ftpsload -c 4 | %s |" % " | ".join(fails_cell(by("upload_ftpsload", s)) for s in servers))
    if any(by("upload_curl", s) for s in servers):
        L.append("| TLS 1.3 uploads (300 KB) failed, curl -T, one session each | %s |" % " | ".join(fails_cell(by("upload_curl", s)) for s in servers))
    cipher_line("cipher negotiated by curl (TLS download)", "tls_curl", "ciphers")
    cipher_line("cipher negotiated by ftpsload (TLS download)", "tls_ftpsload", "cipher")

    big_rows = [r for r in rows if r["test"] == "idle_big"]
    if big_rows:
        L.append("")
        L.append("ringftpd alone, more idle logged-in TLS sessions (one run each):")
        L.append("")
        L.append("| N | sessions held | set-up s | PSS KiB/session | server PSS before -> after | processes | server fds/session | server RLIMIT_NOFILE |")
        L.append("|---|---|---|---|---|---|---|---|")
        for r in big_rows:
            if r.get("sessions_held") is None:
                L.append("| %s | ERROR%s | | | | | | |" % (r.get("n", "?"), footnote([r])))
                continue
            L.append("| %d | %d%s | %.1f | %.1f | %.1f MiB -> %.1f MiB | %d | %.2f | %s |" % (
                r["n"], r["sessions_held"], footnote([r]) if r.get("error") else "", r["setup_s"],
                r["pss_kib_per_session"], r["before"]["pss_kib"] / 1024, r["after"]["pss_kib"] / 1024,
                r["after"]["procs"], r.get("fds_per_session", float("nan")),
                ",".join(str(x) for x in r.get("server_nofile_limits", [])) or "?"))

    other = [(r["system_busy_s"] - r["server_cpu_s"] - r["client_cpu_s"]) / (r["wall_s"] * NCPU)
             for r in rows if r.get("client_cpu_s") is not None and r.get("system_busy_s") is not None
             and r.get("server_cpu_s") is not None and r.get("wall_s")]
    if other:
        L.append("")
        L.append("Machine busy with other processes (neither the server nor the client) during the throughput and "
                 "session runs: median %.0f%% of the %d CPUs (%.0f%%-%.0f%%)." % (
                     max(0, 100 * statistics.median(other)), NCPU, max(0, 100 * min(other)), 100 * max(other)))
    L.append("")
    L += targets(cfg, rows, servers)
    for r in rows:
        if (r.get("server_log_bytes") or 0) > 10 << 20:
            note("ringftpd wrote %.0f MB of log during %s rep %s (see ringftpd.log; compacted to head and tail)"
                         % (r["server_log_bytes"] / 1e6, r["test"] + (" N=%d" % r["n"] if "n" in r else ""), r.get("rep")))
    minor = [r for r in rows if r.get("minor_errors")]
    for r in minor:
        note("figures kept, errors < 1 %%: %s %s rep %s: %s" % (r["test"], r["server"], r.get("rep"), r["minor_errors"]))
    if NOTES:
        L.append("")
        L.append("Notes:")
        L.append("")
        for i, n in enumerate(NOTES, 1):
            L.append("%d. %s" % (i, n))
    return "\n".join(L) + "\n"


def targets(cfg, rows, servers):
    """issue 6's targets, ringftpd against the best peer measured in this run."""
    if "ringftpd" not in servers or not any(s in servers for s in PEERS_ONLY):
        return []
    peers = [s for s in servers if s != "ringftpd"]
    good = lambda test, s, key: [r[key] for r in rows if r["test"] == test and r["server"] == s
                                 and r.get(key) is not None and not r.get("error")]
    m = lambda test, s, key: med(good(test, s, key))
    L = ["Targets (issue 6), ringftpd against the best peer of this run (medians):", "",
         "| target | ringftpd | best peer | ratio | goal | met |", "|---|---|---|---|---|---|"]

    def row(title, test, key, better, goal, f="%.2f", peer=None):
        r = m(test, "ringftpd", key)
        vals = {s: m(test, s, key) for s in ([peer] if peer else peers)}
        vals = {s: v for s, v in vals.items() if v is not None}
        if r is None and not vals:
            return
        if r is None or not vals:
            L.append("| %s | %s | %s | | %s | n/a |" % (title, "n/a" if r is None else f % r,
                                                     "n/a" if not vals else "", goal))
            return
        bs = (max if better == "high" else min)(vals, key=vals.get)
        b = vals[bs]
        ratio = r / b if b else float("inf")
        lim = float(goal.split("x")[0].lstrip("<>= "))
        ok = ratio >= lim if better == "high" else ratio <= lim
        L.append("| %s | %s | %s (%s) | %.2fx | %s | %s |" % (title, f % r, f % b, label(cfg, bs), ratio, goal,
                                                         "yes" if ok else "**no**"))

    row("TLS download MB/s (4 curl)", "tls_curl", "mb_s", "high", ">= 1.5x", "%.0f")
    row("TLS download server CPU s/GB (4 curl)", "tls_curl", "server_cpu_s_per_gb", "low", "<= 0.5x")
    row("TLS download MB/s (ftpsload)", "tls_ftpsload", "mb_s", "high", ">= 1.5x", "%.0f")
    row("TLS download server CPU s/GB (ftpsload)", "tls_ftpsload", "server_cpu_s_per_gb", "low", "<= 0.5x")
    row("clear download MB/s (1 curl)", "clear_curl", "mb_s", "high", ">= 1x", "%.0f")
    if "vsftpd" in peers:
        row("clear download server CPU s/GB vs vsftpd (1 curl)", "clear_curl", "server_cpu_s_per_gb", "low",
            "<= 1x", peer="vsftpd")
    for v, vv in (("12", "1.2"), ("13", "1.3")):
        row("sessions/s TLS %s" % vv, "sessions" + v, "sessions_per_s", "high", ">= 3x", "%.1f")
        row("server CPU ms/session TLS %s" % vv, "sessions" + v, "server_cpu_ms_per_session", "low", "<= 0.2x", "%.1f")
    pss = m("idle", "ringftpd", "pss_kib_per_session")
    if pss is not None:
        L.append("| PSS per idle TLS session (N=%d) | %.1f KiB | | | <= 32 KiB | %s |" % (
            cfg.idle_n, pss, "yes" if pss <= 32 else "**no**"))
    for r in rows:
        if r["test"] == "idle_big" and r.get("sessions_held") is not None:
            ok = r["sessions_held"] >= r["n"] and r["pss_kib_per_session"] <= 32
            L.append("| %d idle TLS sessions held, PSS each | %d held, %.1f KiB | | | all held, <= 32 KiB | %s |" % (
                r["n"], r["sessions_held"], r["pss_kib_per_session"], "yes" if ok else "**no**"))
    for t, what in (("upload_ftpsload", "ftpsload"), ("upload_curl", "curl")):
        rr = [r for r in rows if r["test"] == t and r["server"] == "ringftpd" and "failed" in r]
        if rr:
            f, a = sum(r["failed"] for r in rr), sum(r["attempted"] for r in rr)
            L.append("| TLS 1.3 upload failures (%s) | %d of %d | | | 0 | %s |" % (what, f, a, "yes" if f == 0 else "**no**"))
    return L


# --------------------------------------------------------------------------- setup
class Cfg:
    pass


def peers_env(peers):
    out = sh(["bash", "-c", ". %s/lib/env.sh; set | grep -E '^(FTP_[A-Z_]*|[A-Z]+_PORT|DATA_DIR|TLS_DIR|RUN_DIR|CONF_DIR|VSFTPD_BIN|PUREFTPD_BIN|PKG_DIR)='" % peers]).stdout
    d = {}
    for line in out.splitlines():
        k, v = line.split("=", 1)
        d[k] = v.strip("'")
    return d


def shadow_hash(user):
    for line in open("/etc/shadow"):
        f = line.rstrip("\n").split(":")
        if f[0] == user:
            return f[1]
    raise RuntimeError("user %s not in /etc/shadow" % user)


def write_ringftpd_config(cfg, E):
    d = os.path.join(cfg.work, "ringftpd")
    os.makedirs(os.path.join(d, "state"), exist_ok=True)
    h = shadow_hash(E["FTP_USER"])
    if not h.startswith("$6$"):
        raise RuntimeError("expected a sha512-crypt hash for %s, got %s..." % (E["FTP_USER"], h[:3]))
    with open(os.path.join(d, "users.toml"), "w") as f:
        f.write("# generated by bench/compare_servers.sh: the peers' user, the SAME sha512-crypt hash as in /etc/shadow\n"
                "[[user]]\nname = \"%s\"\npassword = \"%s\"\nroot = \"%s\"\npermissions = [\"all\"]\n"
                % (E["FTP_USER"], h, cfg.data))
    cfg.rconf = {}
    for variant, prot in (("main", "required"), ("cleardata", "client_choice")):
        p = os.path.join(d, "%s.toml" % variant)
        with open(p, "w") as f:
            f.write("""# generated by bench/compare_servers.sh (%s): as close to the peers' configs as ringftpd allows
state_dir = "%s/state"
run_as = "%s"           # the workers serve as the FTP user, like the peers' session processes
# workers = default (one per CPU)

[[listen]]
address = "127.0.0.1"
port = %d

[tls]                    # the peers' certificate and key; TLS 1.2 and 1.3, built-in suites
certificate = "%s/cert.pem"
private_key = "%s/key.pem"

[control]
tls = "required_for_login"

[data]
protection = "%s"%s
require_session_reuse = true

[passive]
ports = "%d-%d"

[limits]                 # the peers have no per-address limit either
max_sessions = 25000
max_sessions_per_address = 25000

[users]
file = "%s/users.toml"

[log]                    # like the peers: warnings and a transfer log
level = "warn"
xferlog = "%s/xferlog"
""" % (variant, d, E["FTP_USER"], cfg.ports["ringftpd"], E["TLS_DIR"], E["TLS_DIR"], prot,
                "   # PROT C allowed, like the peers' *-cleardata configs" if prot != "required" else "",
                cfg.pasv[0], cfg.pasv[1], d, cfg.out))
        r = sh([cfg.rbin, "--check-config", "--config", p])
        if r.returncode != 0:
            raise RuntimeError("ringftpd --check-config %s: %s %s" % (p, r.stdout, r.stderr))
        cfg.rconf[variant] = p
    cfg.rlog = os.path.join(cfg.out, "ringftpd.log")


def versions(cfg, E):
    v = {"ringftpd": "ringftpd"}
    r = sh(["sh", "-c", '"$0" -v 0>&1', E["VSFTPD_BIN"]])  # vsftpd prints its version on fd 0
    m = re.search(r"version (\S+)", r.stdout + r.stderr)
    v["vsftpd"] = "vsftpd %s" % m.group(1) if m else "vsftpd"
    r = sh(["proftpd", "-v"])
    m = re.search(r"ProFTPD Version (\S+)", r.stdout + r.stderr)
    v["proftpd"] = "ProFTPD %s" % m.group(1) if m else "ProFTPD"
    r = sh([E["PUREFTPD_BIN"], "--help"])
    m = re.search(r"v(\d+\.\d+\.\d+)", r.stdout + r.stderr)
    v["pure-ftpd"] = "Pure-FTPd %s" % m.group(1) if m else "Pure-FTPd"
    return v


def env_text(cfg, E):
    git = sh(["git", "-C", REPO, "describe", "--always", "--dirty"]).stdout.strip()
    lines = [
        "date: %s" % datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "command: %s" % cfg.command,
        "machine: %d CPUs (%s), %s, kernel %s, %.1f GiB RAM" % (
            NCPU, next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?"),
            sh(["sh", "-c", ". /etc/os-release; echo $PRETTY_NAME"]).stdout.strip(), os.uname().release,
            meminfo()["MemTotal"] / 1048576),
        "loadavg at start: %s" % open("/proc/loadavg").read().strip(),
        "ringftpd: %s (git %s), %s" % (sh([cfg.rbin, "--version"]).stdout.strip().replace("\n", "; "), git, cfg.rbin),
        "ftpsload: %s" % cfg.fbin,
        "peers: %s, %s, %s (set up by %s/setup.sh)" % (cfg.versions["vsftpd"], cfg.versions["proftpd"],
                                                         cfg.versions["pure-ftpd"], cfg.peers),
        "curl: %s" % sh(["curl", "--version"]).stdout.splitlines()[0],
        "cert: %s (%s)" % (open(os.path.join(E["TLS_DIR"], "ACTIVE")).read().strip(), E["TLS_DIR"]),
        "ports: ringftpd %d (passive %d-%d), vsftpd %s, proftpd %s, pure-ftpd %s" % (
            cfg.ports["ringftpd"], cfg.pasv[0], cfg.pasv[1], E["VSFTPD_PORT"], E["PROFTPD_PORT"], E["PUREFTPD_PORT"]),
        "server CPU from: %s" % cfg.cpu_source,
        "reps: %d; big file %s (%d bytes); quick=%s" % (cfg.reps, cfg.big, cfg.big_size, cfg.quick),
    ]
    return "\n".join(lines) + "\n"


def main():
    ap = argparse.ArgumentParser(prog="bench/compare_servers.sh",
                                 description="ringftpd vs vsftpd, ProFTPD, Pure-FTPd side by side (run as root)")
    ap.add_argument("--reps", type=int, default=3, help="repetitions (default 3)")
    ap.add_argument("--quick", action="store_true",
                    help="smoke run: 1 rep, 32 MiB file, short session runs, fewer uploads, N=50 idle, no big idle run")
    ap.add_argument("--only", default=",".join(ALL), help="comma list of servers (default: all four)")
    ap.add_argument("--tests", default="tls_curl,tls_ftpsload,clear_curl,clear_ftpsload,sessions12,sessions13,"
                    "upload_ftpsload,upload_curl,idle,idle_big", help="comma list of workloads (default: all)")
    ap.add_argument("--idle-n", type=int, default=250, help="idle sessions for the side-by-side figure (default 250; "
                    "Pure-FTPd 1.0.50 allows at most 300 here)")
    ap.add_argument("--idle-big", default="1000,20000", help="ringftpd alone: more idle sessions (default 1000,20000; '' = skip)")
    ap.add_argument("--sessions-seconds", type=float, default=8, help="length of each session-rate run (default 8)")
    ap.add_argument("--uploads", type=int, default=200, help="ftpsload uploads per server and rep (default 200)")
    ap.add_argument("--curl-uploads", type=int, default=None,
                    help="curl uploads per server in all, spread over the reps (default 200)")
    ap.add_argument("--max-minutes", type=float, default=40, help="abort (servers stopped, partial table) after this")
    ap.add_argument("--work", default=os.environ.get("RINGFTPD_COMPARE_DIR", "/tmp/ringftpd-compare"))
    ap.add_argument("--peers", required=True, help=argparse.SUPPRESS)
    ap.add_argument("--ringftpd", required=True, help=argparse.SUPPRESS)
    ap.add_argument("--ftpsload", required=True, help=argparse.SUPPRESS)
    ap.add_argument("--port", type=int, default=24021, help="ringftpd control port (default 24021)")
    ap.add_argument("--pasv", default="24100-24899", help="ringftpd passive range (default 24100-24899)")
    ap.add_argument("--command", default=" ".join(sys.argv), help=argparse.SUPPRESS)
    a = ap.parse_args()

    cfg = Cfg()
    cfg.command = a.command
    cfg.quick = a.quick
    cfg.reps = 1 if a.quick else a.reps
    cfg.max_minutes = a.max_minutes
    cfg.deadline = time.time() + 60 * a.max_minutes
    cfg.work = a.work
    cfg.peers = a.peers
    cfg.ctl = os.path.join(a.peers, "lib", "ctl.sh")
    cfg.rbin, cfg.fbin = a.ringftpd, a.ftpsload
    E = peers_env(a.peers)
    cfg.user, cfg.password, cfg.data = E["FTP_USER"], E["FTP_PASS"], E["DATA_DIR"]
    cfg.ports = {"ringftpd": a.port, "vsftpd": int(E["VSFTPD_PORT"]), "proftpd": int(E["PROFTPD_PORT"]),
                 "pure-ftpd": int(E["PUREFTPD_PORT"])}
    lo, hi = (int(x) for x in a.pasv.split("-"))
    cfg.pasv = (lo, hi)
    if lo <= 21999 and hi >= 21000:
        sys.exit("--pasv overlaps the peers' ports 21000-21999")
    cfg.rworkers = NCPU
    servers = [s for s in a.only.split(",") if s]
    for s in servers:
        if s not in ALL:
            sys.exit("unknown server %s (ringftpd, vsftpd, proftpd, pure-ftpd)" % s)
    tests = set(a.tests.split(","))
    if a.quick:
        cfg.big = "f32m.bin"
        cfg.tls_rounds, cfg.clear_rounds, cfg.tls_fl_count, cfg.clear_fl_count = 1, 1, 4, 2
        cfg.sessions_s = 3
        cfg.uploads = 50
        curl_up_total = 20 if a.curl_uploads is None else a.curl_uploads
        cfg.idle_n = 50
        idle_big = []
    else:
        cfg.big = "f256m.bin"
        cfg.tls_rounds, cfg.clear_rounds, cfg.tls_fl_count, cfg.clear_fl_count = 2, 2, 8, 4
        cfg.sessions_s = a.sessions_seconds
        cfg.uploads = a.uploads
        curl_up_total = 200 if a.curl_uploads is None else a.curl_uploads
        cfg.idle_n = a.idle_n
        idle_big = [int(x) for x in a.idle_big.split(",") if x.strip()]
    cfg.curl_uploads_total = curl_up_total  # spread over the reps: rep r gets its share
    bigp = os.path.join(cfg.data, cfg.big)
    if cfg.big == "f32m.bin" and (not os.path.exists(bigp) or os.path.getsize(bigp) != 32 << 20):
        sh(["dd", "if=/dev/urandom", "of=" + bigp, "bs=1M", "count=32", "status=none"])
        os.chmod(bigp, 0o644)
    cfg.big_size = os.path.getsize(bigp)

    ts = time.strftime("%Y%m%d-%H%M%S")
    cfg.out = os.path.join(cfg.work, "results", "compare-%s%s" % (ts, "-quick" if a.quick else ""))
    cfg.logdir = os.path.join(cfg.out, "logs")
    os.makedirs(cfg.logdir, exist_ok=True)
    cfg.upload_src = os.path.join(cfg.out, "upload-src.bin")
    with open(cfg.upload_src, "wb") as f:
        f.write(os.urandom(UPLOAD_SIZE))
    cfg.upload_sha = sha256_file(cfg.upload_src)
    cfg.versions = versions(cfg, E)
    if "ringftpd" in servers:
        write_ringftpd_config(cfg, E)

    srv = Servers(cfg)
    cfg.cpu_source = srv.cpu_source

    def on_signal(sig, _frame):
        raise Abort("signal %d" % sig)
    for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(s, on_signal)

    envt = env_text(cfg, E)
    open(os.path.join(cfg.out, "env.txt"), "w").write(envt)
    sys.stderr.write(envt)
    bench = Bench(cfg, srv)
    aborted = None
    t_start = time.time()
    try:
        for s in ALL:  # nothing of ours may be left running from an earlier, killed run
            if s != "ringftpd":
                srv.stop(s)
        busy = [s for s in servers if listening(cfg.ports[s])]
        t0 = time.time()
        while busy and time.time() - t0 < 30:
            time.sleep(1)
            busy = [s for s in servers if listening(cfg.ports[s])]
        if busy:
            raise Abort("ports in use by other processes (not started by this run): %s" % "; ".join(
                " ".join(sh(["ss", "-Hltnp", "sport = :%d" % cfg.ports[s]]).stdout.split())[:200] for s in busy))
        with open(bigp, "rb") as fh:  # page cache warm for everyone
            while fh.read(1 << 22):
                pass
        for rep in range(1, cfg.reps + 1):
            k = (rep - 1) % len(servers)
            order = servers[k:] + servers[:k]
            log("repetition %d of %d, order %s" % (rep, cfg.reps, ",".join(order)))
            if "tls_curl" in tests:
                for s in order:
                    bench.bulk_curl(s, rep, clear=False)
            if "tls_ftpsload" in tests:
                for s in order:
                    bench.bulk_ftpsload(s, rep, clear=False)
            if "clear_curl" in tests:
                for s in order:
                    bench.bulk_curl(s, rep, clear=True)
            if "clear_ftpsload" in tests:
                for s in order:
                    bench.bulk_ftpsload(s, rep, clear=True)
            for v in ("1.2", "1.3"):
                if "sessions" + v.replace(".", "") in tests:
                    for s in order:
                        bench.sessions(s, rep, v)
            if "upload_ftpsload" in tests:
                for s in order:
                    bench.upload_ftpsload(s, rep)
            cfg.curl_uploads = curl_up_total // cfg.reps + (1 if rep <= curl_up_total % cfg.reps else 0)
            if "upload_curl" in tests and cfg.curl_uploads > 0:
                for s in order:
                    bench.upload_curl(s, rep)
            if "idle" in tests:
                for s in order:
                    bench.idle(s, rep, cfg.idle_n)
        if "idle_big" in tests and "ringftpd" in servers:
            for n in idle_big:
                bench.idle("ringftpd", 1, n, test="idle_big")
    except Abort as e:
        aborted = str(e)
        log("ABORTED: %s; stopping servers, partial table follows" % aborted)
    finally:
        srv.cleanup()
        try:
            bench.clean_uploads()
        except OSError:
            pass
    for r in bench.rows:
        if r.get("data_resumed_frac") is not None:
            r["data_resumed_pct"] = 100 * r["data_resumed_frac"]
    table = summarize(cfg, bench.rows, servers)
    head = ["# ringftpd vs vsftpd, ProFTPD, Pure-FTPd (bench/compare_servers.sh)", "", "```", envt.rstrip(),
            "loadavg at end: %s" % open("/proc/loadavg").read().strip(),
            "run time: %.1f min%s" % ((time.time() - t_start) / 60, "; ABORTED: " + aborted if aborted else ""),
            "```", "",
            "Median (min-max) over %d repetition%s; servers alternate within each repetition, one at a time, each "
            "started fresh for each measurement. 1 MB = 10^6 bytes. Server CPU = %s of the server's "
            "processes (all it forked, threads included) / bytes or sessions. curl \"data phase\" = bytes / time during "
            "which at least one curl was between time_pretransfer and its end (curl 7.88 stalls 0.2-1 s per session "
            "before the data starts, ../shared/peers/RESULTS.md caveat 2); \"wall\" = bytes / (start of the first curl .. "
            "end of the last), connect, AUTH TLS, login and those stalls included. Client and server "
            "share the same %d CPUs. Raw rows: results.jsonl next to this file." % (
                cfg.reps, "" if cfg.reps == 1 else "s", cfg.cpu_source, NCPU), ""]
    text = "\n".join(head) + table
    open(os.path.join(cfg.out, "summary.md"), "w").write(text)
    shutil.copyfile(os.path.join(cfg.out, "summary.md"), os.path.join(cfg.work, "results", "latest%s.md" % ("-quick" if a.quick else "")))
    print(text)
    log("wrote %s/summary.md (and results.jsonl, env.txt, logs/)" % cfg.out)
    return 1 if aborted else 0


if __name__ == "__main__":
    sys.exit(main())
