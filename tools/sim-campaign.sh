#!/usr/bin/env bash
# Long simulation campaigns on spare cores (tests/sim, SIMULATION.md §5).
#
#   tools/sim-campaign.sh [--build-dir DIR] [--jobs N] [--minutes M] [--first SEED]
#
# Runs N ringftpd_sim explorers at once, each on its own block of seeds
# (FIRST + i*10^9 ..), for M minutes, then prints their summaries and every
# failing seed. Replay one with: DIR/tests/sim/ringftpd_sim --seed S --trace
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

build_dir=build
jobs=$(( $(nproc) > 1 ? $(nproc) - 1 : 1 ))
minutes=60
first=1000000
while [[ $# -gt 0 ]]; do
  case "$1" in
    --build-dir) build_dir=$2; shift 2 ;;
    --jobs) jobs=$2; shift 2 ;;
    --minutes) minutes=$2; shift 2 ;;
    --first) first=$2; shift 2 ;;
    *) echo "usage: $0 [--build-dir DIR] [--jobs N] [--minutes M] [--first SEED]" >&2; exit 2 ;;
  esac
done

sim="$build_dir/tests/sim/ringftpd_sim"
[[ -x "$sim" ]] || { echo "$sim not built (cmake --build $build_dir --target ringftpd_sim)" >&2; exit 2; }

out=$(mktemp -d "${TMPDIR:-/tmp}/sim-campaign-XXXXXX")
echo "campaign: $jobs job(s), $minutes minute(s), logs in $out"
pids=()
for ((i = 0; i < jobs; i++)); do
  a=$(( first + i * 1000000000 ))
  b=$(( a + 999999999 ))
  "$sim" --seeds "$a..$b" --minutes "$minutes" > "$out/job$i.log" 2>&1 &
  pids+=($!)
done
status=0
for pid in "${pids[@]}"; do wait "$pid" || status=1; done

runs=0; sessions=0
for f in "$out"/job*.log; do
  line=$(grep '^seeds ' "$f" | tail -1)
  echo "$(basename "$f"): $line"
  runs=$(( runs + $(sed -E 's/.*: ([0-9]+) runs.*/\1/' <<<"$line") ))
  sessions=$(( sessions + $(sed -E 's/.* ([0-9]+) sessions simulated.*/\1/' <<<"$line") ))
done
echo "total: $runs runs, $sessions sessions, $(( runs / minutes )) seeds/minute"
if grep -h '^seed .*violation' "$out"/job*.log; then
  echo "failing seeds above; details in $out"
fi
exit $status
