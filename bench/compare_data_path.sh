#!/usr/bin/env bash
# Bulk data path, ringftpd builds side by side in one run (DESIGN.md §7):
# typically the current HEAD ("before", built in a git worktree) and the working
# tree ("after"). curl clients on 127.0.0.1; for each repetition and each
# build, in alternation so that drift on a noisy machine hits all alike:
#   clear   RETR (PROT C, control in clear)
#   tls     RETR (AUTH TLS, PROT P, session reuse required)
#   clear-up / tls-up  STOR of the same file (atomic uploads on)
# Prints a markdown table of medians (min-max): MB/s (one client: over curl's
# data phase; several: all bytes over the wall time of the round) and
# server CPU seconds per GB. CPU comes from a cgroup-v1 cpuacct group per server
# when /sys/fs/cgroup/cpuacct is writable (nanoseconds; every thread, io-wq
# workers and forked processes included), else from utime+stime of the server
# and its reaped children in /proc/<pid>/stat (10 ms ticks: use a big file).
#
# Usage: bench/compare_data_path.sh [--reps N] [--mib N] NAME=BINARY...
#   (defaults: 5 repetitions, a 256 MiB file), e.g.
#   git worktree add --detach /tmp/before HEAD   # and build it into /tmp/before/build
#   bench/compare_data_path.sh --reps 7 --mib 1024 before=/tmp/before/build/ringftpd \
#                              after=build/ringftpd
# Env: WORKLOADS="clear tls clear-up tls-up" (any subset, in that order);
#      CLIENTS=N runs N curl transfers at once (MB/s is then the aggregate);
#      PIN=1 runs the servers on CPU 0 and curl on CPU 1 (steadier figures on a
#      shared machine: where the kernel's TCP work lands varies less).
set -euo pipefail
reps=5
mib=256
names=()
declare -A bin
while [ $# -gt 0 ]; do
  case "$1" in
    --reps) reps="$2"; shift 2 ;;
    --mib) mib="$2"; shift 2 ;;
    *=*) names+=("${1%%=*}"); bin[${1%%=*}]="${1#*=}"; shift ;;
    *) echo "usage: $0 [--reps N] [--mib N] NAME=BINARY..." >&2; exit 2 ;;
  esac
done
[ ${#names[@]} -gt 0 ] || { echo "usage: $0 [--reps N] [--mib N] NAME=BINARY..." >&2; exit 2; }
workloads="${WORKLOADS:-clear tls clear-up tls-up}"
work="$(mktemp -d /tmp/ringftpd-datapath.XXXXXX)"
user=bench
pass=benchpass

mkdir -p "$work/root" "$work/src"
server_cpu=()
client_cpu=()
if [ "${PIN:-0}" = 1 ]; then
  server_cpu=(taskset -c 0)
  client_cpu=(taskset -c 1)
fi
run_as=""
if [ "$(id -u)" = 0 ]; then  # the workers drop to nobody: let them in
  run_as='run_as = "nobody"'
  chmod 755 "$work"
  chmod 777 "$work/root"
fi
head -c "$((mib << 20))" /dev/urandom >"$work/root/f.bin"
cp "$work/root/f.bin" "$work/src/f.bin"
bytes=$((mib << 20))
hash=$(printf '%s\n' "$pass" | "${bin[${names[0]}]}" --hash-password --scheme sha512)
cat >"$work/users.toml" <<EOF
[[user]]
name = "$user"
password = "$hash"
root = "$work/root"
permissions = ["list", "read", "write", "delete"]
EOF

pids=()
cgroups=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null && wait "$p" 2>/dev/null || true; done
  for g in "${cgroups[@]}"; do rmdir "$g" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

start() {  # start NAME BIN PORT PASSIVE -> sets started_pid
  cat >"$work/$1.toml" <<EOF
$run_as
state_dir = "$work/state-$1"
[[listen]]
address = "127.0.0.1"
port = $3
[control]
tls = "optional"
[data]
protection = "client_choice"
[passive]
ports = "$4"
[users]
file = "$work/users.toml"
[transfer]
atomic_uploads = true
[log]
level = "warn"
EOF
  # Into its cgroup before exec, so that every process it forks is counted.
  local g="/sys/fs/cgroup/cpuacct/ringftpd-datapath-$$-$1"
  if mkdir "$g" 2>/dev/null; then
    cgroups+=("$g")
    cgroup[$1]=$g
  else
    g=""
  fi
  bash -c '[ -z "$1" ] || echo $$ >"$1/cgroup.procs"; shift; exec "$@"' _ "$g" \
    ${server_cpu[@]+"${server_cpu[@]}"} "$2" --config "$work/$1.toml" >/dev/null 2>"$work/$1.err" &
  started_pid=$!
  pids+=("$started_pid")
  for _ in $(seq 100); do ss -Hltn "sport = :$3" | grep -q . && return 0; sleep 0.1; done
  echo "$1 did not start: $(cat "$work/$1.err")" >&2
  exit 1
}

cpu_seconds() {  # cpu_seconds PID NAME
  if [ -n "${cgroup[$2]:-}" ]; then
    awk '{ printf "%.6f\n", $1 / 1e9 }' "${cgroup[$2]}/cpuacct.usage"
    return
  fi
  awk -v hz="$(getconf CLK_TCK)" '{ s=$0; sub(/.*\) /,"",s); split(s,f," ");
       printf "%.4f\n", (f[12]+f[13]+f[14]+f[15])/hz }' "/proc/$1/stat"
}

declare -A port pid cgroup
i=0
for s in "${names[@]}"; do
  p=$((24411 + i))
  start "$s" "${bin[$s]}" "$p" "$((24420 + 40 * i))-$((24459 + 40 * i))"
  pid[$s]=$started_pid
  port[$s]=$p
  i=$((i + 1))
done

# One transfer of workload $1 against server $2 by client number $3; prints
# its speed in bytes/s over the data phase only (from curl's pretransfer time
# to the end): curl 7.88 sometimes idles up to a second between control
# commands (a poll timeout, with any server), which is no server's doing.
transfer() {
  local url="ftp://127.0.0.1:${port[$2]}" args
  case "$1" in
    clear) args=(-o /dev/null "$url/f.bin") ;;
    tls) args=(--ssl-reqd -k -o /dev/null "$url/f.bin") ;;
    clear-up) args=(-T "$work/src/f.bin" "$url/up$3.bin") ;;
    tls-up) args=(--ssl-reqd -k -T "$work/src/f.bin" "$url/up$3.bin") ;;
  esac
  ${client_cpu[@]+"${client_cpu[@]}"} curl -s -S --max-time 300 -u "$user:$pass" \
    -w '%{size_download} %{size_upload} %{time_pretransfer} %{time_total}\n' "${args[@]}" |
    awk -v n="$bytes" '{ t = $4 - $3; if (t > 0 && $1 + $2 == n) printf "%.0f\n", n / t }' ||
    echo "$2 $1: curl failed" >&2
}

clients="${CLIENTS:-1}"
declare -A mbs cpu
for rep in $(seq "$reps"); do
  for w in $workloads; do
    for s in "${names[@]}"; do
      # A fresh target each time: ext4 writes a file renamed over another
      # back at once (auto_da_alloc), which would bill a GB of writeback to
      # the atomic upload's rename.
      rm -f "$work"/root/up*.bin
      before=$(cpu_seconds "${pid[$s]}" "$s")
      t0=$(date +%s.%N)
      jobs_=()
      for c in $(seq "$clients"); do
        transfer "$w" "$s" "$c" >"$work/speed.$c" &
        jobs_+=($!)
      done
      wait "${jobs_[@]}"  # not the servers, also children of this shell
      t1=$(date +%s.%N)
      after=$(cpu_seconds "${pid[$s]}" "$s")
      ok=1
      for c in $(seq "$clients"); do
        [ -s "$work/speed.$c" ] || ok=0
        if [[ "$w" == *-up ]] && ! cmp -s "$work/src/f.bin" "$work/root/up$c.bin"; then
          echo "$s $w: uploaded file differs" >&2
          ok=0
        fi
      done
      [ "$ok" = 1 ] || continue
      # One client: its data-phase speed; several: all bytes over the wall time.
      if [ "$clients" = 1 ]; then
        speed=$(cat "$work/speed.1")
      else
        speed=$(awk -v n="$((bytes * clients))" -v a="$t0" -v b="$t1" 'BEGIN{print n/(b-a)}')
      fi
      mbs[$s.$w]+="$(awk -v s="$speed" 'BEGIN{printf "%.0f", s/1e6}') "
      cpu[$s.$w]+="$(awk -v a="$after" -v b="$before" -v n="$((bytes * clients))" \
                        'BEGIN{printf "%.3f", (a-b)/(n/1e9)}') "
    done
  done
done

stats() {  # median (min-max) of a list of numbers
  printf '%s\n' $1 | sort -g | awk '{v[NR]=$1} END{m=(NR%2)?v[(NR+1)/2]:(v[NR/2]+v[NR/2+1])/2;
    printf "%s (%s-%s)", m, v[1], v[NR]}'
}
echo "Data path, ${mib} MiB, $clients curl client(s) at once, CPU from $([ ${#cgroups[@]} -gt 0 ] && echo cpuacct || echo /proc), $reps reps, $(date -u +%F), $(nproc) cores, $(uname -r)"
echo
echo "| workload | build | MB/s | server CPU s/GB |"
echo "|---|---|---|---|"
for w in $workloads; do
  for s in "${names[@]}"; do
    echo "| $w | $s | $(stats "${mbs[$s.$w]}") | $(stats "${cpu[$s.$w]}") |"
  done
done
