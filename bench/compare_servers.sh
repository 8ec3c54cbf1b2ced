#!/usr/bin/env bash
# ringftpd side by side with vsftpd, ProFTPD and Pure-FTPd (issue 6, item 4):
# the same workloads, the same clients (curl and tools/ftpsload), the same
# certificate, files, user and password hash, on 127.0.0.1; prints a markdown
# table of medians (min-max) and checks issue 6's targets.
#
# Usage (root):  bench/compare_servers.sh [--reps N] [--quick] [--only ringftpd,vsftpd,...]
#                                         [--tests LIST] [--idle-n N] [--idle-big N,N|'']
#                                         [--max-minutes M] [--help]
#   default: 3 reps, all four servers, all workloads: 11-13 min here (2 cores)
#   --quick: 1 rep, 32 MiB file, short runs, no 20 000-session run: a smoke test (~1.5 min)
#
# Needs: build/ringftpd and build/ftpsload (cmake -S . -B build -G Ninja &&
# nice ninja -C build ringftpd ftpsload); the binaries are copied first, so a
# rebuild during the run changes nothing. The peers are Debian's packages, set
# up by a copy of ../shared/peers (its scripts write in place) in
# $RINGFTPD_COMPARE_DIR/peers (default /tmp/ringftpd-compare/peers): the first
# run installs them (apt), later runs pass SKIP_APT=1.
#
# Output: the table on stdout; it and the raw rows under
# $RINGFTPD_COMPARE_DIR/results/compare-<timestamp>/ (summary.md, results.jsonl,
# env.txt, logs/), a copy in $RINGFTPD_COMPARE_DIR/results/latest.md.
#
# Ports: the peers use 21000-21999 (../shared/peers/lib/env.sh); ringftpd gets
# 24021 and passive 24100-24899 (--port, --pasv), clear of the integration
# tests' 22000-23999 and 28000-29999.
#
# Bounded: every client runs under timeout(1); the driver stops after
# --max-minutes (default 40) with a partial table; every server it started is
# stopped on exit, error or signal (by pid, and again here by the trap).
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
work="${RINGFTPD_COMPARE_DIR:-/tmp/ringftpd-compare}"
peers_src="${RINGFTPD_PEERS_SRC:-$repo/../shared/peers}"
rbin_src="${RINGFTPD_BIN:-$repo/build/ringftpd}"
fbin_src="${FTPSLOAD_BIN:-$repo/build/ftpsload}"

for a in "$@"; do
  case "$a" in -h|--help)
    sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
    exec /usr/bin/python3 "$repo/bench/compare_servers.py" --peers x --ringftpd x --ftpsload x --help ;;
  esac
done
[ "$(id -u)" = 0 ] || { echo "run as root (the peers need system users, PAM and chroot)" >&2; exit 1; }
for b in "$rbin_src" "$fbin_src"; do
  [ -x "$b" ] || { echo "missing $b: cmake -S . -B build -G Ninja && nice ninja -C build ringftpd ftpsload" >&2; exit 1; }
done
[ -d "$peers_src" ] || { echo "missing $peers_src (set RINGFTPD_PEERS_SRC)" >&2; exit 1; }
command -v curl >/dev/null || { echo "curl is needed" >&2; exit 1; }

mkdir -p "$work/bin" "$work/results"
# A copy of the binaries: other builds in the tree must not change them mid-run.
cp -f "$rbin_src" "$work/bin/ringftpd"; cp -f "$fbin_src" "$work/bin/ftpsload"

# The peers: copy once, then (re)run setup.sh every time (idempotent; rewrites
# the configs and sets ftpbench's sha512-crypt hash, which we copy afterwards).
if [ ! -f "$work/peers/.ready" ]; then
  rm -rf "$work/peers"; cp -r "$peers_src" "$work/peers"; chmod -R u+w "$work/peers"
fi
skip_apt=1
command -v proftpd >/dev/null && ls "$work"/peers/pkg/debs/vsftpd_*.deb "$work"/peers/pkg/debs/pure-ftpd_*.deb \
  >/dev/null 2>&1 || skip_apt=
echo "[compare] peers: $work/peers/setup.sh (SKIP_APT=${skip_apt:-no})" >&2
(cd "$work/peers" && SKIP_APT=$skip_apt ./setup.sh >"$work/setup.log" 2>&1) \
  || { echo "peers setup failed, see $work/setup.log:" >&2; tail -20 "$work/setup.log" >&2; exit 1; }
touch "$work/peers/.ready"

# Belt and braces: the driver stops what it starts; this trap does it again by
# pid file (peers) and pid (ringftpd master), whatever happened to the driver.
driver=
cleanup() {
  local rc=$?
  trap - EXIT INT TERM HUP
  if [ -n "$driver" ] && kill -0 "$driver" 2>/dev/null; then
    kill -TERM "$driver" 2>/dev/null || true
    for _ in $(seq 100); do kill -0 "$driver" 2>/dev/null || break; sleep 0.2; done
    kill -KILL "$driver" 2>/dev/null || true
  fi
  for s in vsftpd proftpd pure-ftpd; do "$work/peers/lib/ctl.sh" stop "$s" >/dev/null 2>&1 || true; done
  local pidf="$work/ringftpd/state/ringftpd.pid" p
  if [ -s "$pidf" ]; then
    p=$(cat "$pidf")
    if [ -n "$p" ] && [ "$(readlink "/proc/$p/exe" 2>/dev/null)" = "$work/bin/ringftpd" ]; then
      kill -INT "$p" 2>/dev/null || true
    fi
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
/usr/bin/python3 "$repo/bench/compare_servers.py" --peers "$work/peers" --work "$work" \
  --ringftpd "$work/bin/ringftpd" --ftpsload "$work/bin/ftpsload" \
  --command "bench/compare_servers.sh $*" "$@" &
driver=$!
wait "$driver"
