#!/usr/bin/env bash
# The hostile-network figures of issue 10 ("Figures to reach") on loopback:
#  1. 64 connections from each of 127.0.0.2 and 127.0.0.3 pipeline commands
#     (HELP FEAT STAT NOOP, garbage, LIST, USER/PASS, before and after login)
#     and never read, for 30 s (closed ones reconnect): the server's PSS
#     (master + authd + workers) before, at its peak and after, how many the
#     server closed and how long after they stopped reading; and a normal
#     client's 64 KiB RETR latency p50/p99 on the idle server and under the
#     attack, side by side (200 RETRs each, one after another, sha256 checked).
#  2. 1000 cycles each of REIN + login, ABOR and a disconnect in the middle of
#     a slowly read 16 MiB RETR, clear and PROT P (TLS, data sessions resuming
#     the control session): the worker's descriptors and PSS before and 1 s
#     after the last session's end, the transfers' final replies, and the
#     xferlog lines (one per transfer expected); and the issue's REIN
#     reproduction (clear, 100 rounds of REIN during a RETR whose data
#     connection stays open and unread until the next RETR is answered).
# Prints markdown tables.
#
# Usage (root: reads /proc/<pid>/smaps_rollup of the server's processes):
#   bench/hostile_network.sh [--seconds 30] [--per-source 64] [--downloads 200]
#                            [--send-timeout 10] [--cycles 1000] [--rein-rounds 100]
#                            [--pss-cap-mib 1024] [--only attack|churn]
#   --quick: --seconds 10 --cycles 100
# Needs build/ringftpd (or RINGFTPD_BIN). Bounded: the attack runs --seconds
# plus a drain of send timeout + 10 s, and stops early once the server has
# grown by --pss-cap-mib (a server without bounds grows ~70 MiB/s here); each churn mode --cycles cycles (a
# socket timeout of 10 s bounds every read); the whole run is killed after
# RINGFTPD_HOSTILE_MAX_MINUTES (default 30). Every server is stopped on exit.
# Ports: control from the ephemeral range, passive 61000-64999.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bin="${RINGFTPD_BIN:-$repo/build/ringftpd}"
args=()
for a in "$@"; do
  case "$a" in
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    --quick) args+=(--seconds 10 --cycles 100) ;;
    *) args+=("$a") ;;
  esac
done
[ -x "$bin" ] || { echo "missing $bin: cmake --build build --target ringftpd (or set RINGFTPD_BIN)" >&2; exit 1; }
[ "$(id -u)" = 0 ] || echo "warning: not root; PSS of the workers (another user) may read as 0" >&2
export RINGFTPD_BIN="$bin" PYTHONDONTWRITEBYTECODE=1
exec timeout --kill-after=30 "$(( ${RINGFTPD_HOSTILE_MAX_MINUTES:-30} * 60 ))" \
  python3 "$repo/bench/hostile_network.py" "${args[@]}"
