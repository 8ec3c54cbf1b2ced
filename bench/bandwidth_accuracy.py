#!/usr/bin/env python3
"""How closely limits.bandwidth_bytes_per_second holds, and what it costs
(issue 11, item 1). Prints markdown tables.

1. Accuracy: at 1, 10 and 100 MB/s, curl (a real client) downloads and
   uploads a file of rate x --seconds bytes, clear and FTPS (TLS 1.3, data
   connections resuming the control session), --reps times each. The rate is
   the bytes over curl's transfer time (time_total - time_pretransfer); the
   table gives the median and the error against the limit (target: within
   +-5 % over 10 s).
2. Cost when off: clear and FTPS downloads of --cost-mib MiB with no limit,
   and with a limit far above what loopback reaches (8 GB/s: every transfer
   asks its bucket, none ever waits), side by side in one run, --reps each,
   alternating. The server's CPU (master + workers, /proc utime + stime) per
   GB, medians, and their ratio.

Usage: bench/bandwidth_accuracy.py [--seconds 10] [--reps 3] [--cost-mib 1024]
                                   [--rates 1,10,100]
Needs build/ringftpd (or RINGFTPD_BIN) and curl. Every transfer is bounded by
curl's --max-time; every server is stopped on exit. Passive ports 61000-61999
(outside Linux's ephemeral range, where the control ports come from).
"""
import argparse
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "integration"))
os.environ.setdefault("RINGFTPD_BIN", os.path.join(HERE, "..", "build", "ringftpd"))

from clients import (CLEAR_CONFIG, FULL_PASS, FULL_USER, TLS_CONFIG,  # noqa: E402
                     _start_server)

MB = 1_000_000
TICKS = os.sysconf("SC_CLK_TCK")


def start(kind, rate, ports="61000-61499"):
    template = (CLEAR_CONFIG if kind == "clear" else TLS_CONFIG).replace(
        '[log]\nlevel = "debug"\n', '[log]\nlevel = "warn"\n')
    extra = "[limits]\nbandwidth_bytes_per_second = %d\n" % rate if rate else ""
    return _start_server("ringftpd-bench-bw-", template, ports, extra, "", "workers = 1")


def make_file(path, size):
    block = os.urandom(1 << 20)
    with open(path, "wb") as f:
        left = size
        while left > 0:
            n = min(left, len(block))
            f.write(block[:n])
            left -= n
    os.chmod(path, 0o644)


def curl(srv, kind, direction, name, local, max_time):
    url = "ftp://127.0.0.1:%d/%s" % (srv.port, name)
    cmd = ["curl", "-s", "-S", "--max-time", str(max_time), "-u", "%s:%s" % (FULL_USER, FULL_PASS),
           "-w", "%{size_download} %{size_upload} %{time_pretransfer} %{time_total}"]
    if kind == "tls":
        cmd += ["--ssl-reqd", "-k", "--tlsv1.3"]
    cmd += ["-T", local, url] if direction == "up" else ["-o", local, url]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout.split()
    down, up, pre, total = int(out[0]), int(out[1]), float(out[2]), float(out[3])
    return (down or up), total - pre


def tree_cpu_seconds(master):
    """utime + stime of the master and its children (authd, workers)."""
    total = 0
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % pid) as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        ppid = int(fields[1])
        if int(pid) == master or ppid == master:
            total += int(fields[11]) + int(fields[12])
    return total / TICKS


def accuracy(args, rates):
    rows = []
    for kind in ("clear", "tls"):
        for rate_mb in rates:
            rate = rate_mb * MB
            size = rate * args.seconds
            srv = start(kind, rate)
            try:
                make_file(os.path.join(srv.root, "f.bin"), size)
                local_up = os.path.join(srv.root, "..", "up-source.bin")
                make_file(local_up, size)
                for direction in ("down", "up"):
                    measured = []
                    for rep in range(args.reps):
                        name = "f.bin" if direction == "down" else "up%d.bin" % rep
                        local = "/dev/null" if direction == "down" else local_up
                        n, seconds = curl(srv, kind, direction, name, local,
                                          max_time=args.seconds * 3 + 30)
                        if n != size:
                            raise SystemExit("%s %s moved %d of %d bytes" % (kind, direction, n, size))
                        measured.append(n / seconds)
                    med = statistics.median(measured)
                    rows.append((kind, direction, rate_mb, med / MB, 100.0 * (med - rate) / rate,
                                 " ".join("%.3f" % (m / MB) for m in measured)))
            finally:
                srv.__exit__(None, None, None)
    print("### Accuracy: %d s transfers, median of %d (curl, loopback)\n" % (args.seconds, args.reps))
    print("| mode | direction | limit MB/s | measured MB/s | error | runs MB/s |")
    print("|---|---|---|---|---|---|")
    for kind, direction, rate_mb, got, err, runs in rows:
        print("| %s | %s | %d | %.3f | %+.2f %% | %s |" % (kind, direction, rate_mb, got, err, runs))
    print()


def cost(args):
    size = args.cost_mib << 20
    print("### Cost with limits off vs on but never binding (8 GB/s): %d MiB downloads, "
          "median of %d\n" % (args.cost_mib, args.reps))
    print("| mode | limit | server CPU s/GB | MB/s | ratio on/off (CPU) |")
    print("|---|---|---|---|---|")
    for kind in ("clear", "tls"):
        servers = {}
        try:
            # Inside the try: if the second fails to start, the first is stopped.
            servers["off"] = start(kind, 0)
            servers["on"] = start(kind, 8_000_000_000, "61500-61999")
            results = {"off": [], "on": []}
            for srv in servers.values():
                make_file(os.path.join(srv.root, "f.bin"), size)
                curl(srv, kind, "down", "f.bin", "/dev/null", 120)  # warm-up (page cache)
            for _ in range(args.reps):
                for label, srv in servers.items():  # alternating, side by side
                    before = tree_cpu_seconds(srv.proc.pid)
                    n, seconds = curl(srv, kind, "down", "f.bin", "/dev/null", 120)
                    cpu = tree_cpu_seconds(srv.proc.pid) - before
                    results[label].append((cpu / (n / 1e9), n / seconds / MB))
            med = {k: (statistics.median(c for c, _ in v), statistics.median(r for _, r in v))
                   for k, v in results.items()}
            for label in ("off", "on"):
                ratio = "%.3f" % (med["on"][0] / med["off"][0]) if label == "on" and med["off"][0] else ""
                print("| %s | %s | %.3f | %.0f | %s |" % (kind, label, med[label][0], med[label][1], ratio))
        finally:
            for srv in servers.values():
                srv.__exit__(None, None, None)
    print()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--seconds", type=int, default=10)
    p.add_argument("--reps", type=int, default=3)
    p.add_argument("--cost-mib", type=int, default=1024)
    p.add_argument("--rates", default="1,10,100", help="MB/s, comma-separated")
    p.add_argument("--only", choices=("accuracy", "cost"))
    args = p.parse_args()
    start_time = time.monotonic()
    if args.only != "cost":
        accuracy(args, [int(r) for r in args.rates.split(",")])
    if args.only != "accuracy":
        cost(args)
    print("(%.0f s in all)" % (time.monotonic() - start_time))


if __name__ == "__main__":
    main()
