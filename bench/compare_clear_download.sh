#!/usr/bin/env bash
# Clear-data bulk download, one curl client, ringftpd and vsftpd side by side in
# one run (DESIGN.md §7). Prints a markdown table of medians (min-max) of MB/s
# and server CPU seconds per GB.
#
# vsftpd is Debian's, set up by ../shared/peers/setup.sh (copied to a scratch
# directory so shared/ is never written). Both servers require TLS on the control
# connection and allow clear data; curl uses --ftp-ssl-control against both, so
# the data phase (256 MiB, PROT C) is the same.
#
# Usage (root): bench/compare_clear_download.sh [REPS]   (default 5; ~1 min)
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
reps="${1:-5}"
work="${RINGFTPD_COMPARE_DIR:-/tmp/ringftpd-compare}"
bin="${RINGFTPD_BIN:-$repo/build/ringftpd}"
[ "$(id -u)" = 0 ] || { echo "run as root (the peers need system users)" >&2; exit 1; }
[ -x "$bin" ] || { echo "build ringftpd first ($bin)" >&2; exit 1; }

if [ ! -f "$work/peers/.ready" ]; then
  rm -rf "$work/peers"; mkdir -p "$work"
  cp -r "$repo/../shared/peers" "$work/peers"
  (cd "$work/peers" && ./setup.sh >/dev/null)
  touch "$work/peers/.ready"
fi
. "$work/peers/lib/env.sh"
file="f256m.bin"
bytes=$(stat -c %s "$DATA_DIR/$file")

port=21024
hash=$(printf '%s\n' "$FTP_PASS" | "$bin" --hash-password --scheme sha512)
cat >"$work/users.toml" <<EOF
[[user]]
name = "$FTP_USER"
password = "$hash"
root = "$DATA_DIR"
permissions = ["list", "read"]
EOF
cat >"$work/ringftpd.toml" <<EOF
run_as = "nobody"
state_dir = "$work/state"
[[listen]]
address = "127.0.0.1"
port = $port
[data]
protection = "client_choice"
[passive]
ports = "21950-21999"
[users]
file = "$work/users.toml"
[log]
level = "warn"
EOF

cleanup() {
  "$work/peers/stop-vsftpd.sh" >/dev/null 2>&1 || true
  [ -n "${rpid:-}" ] && kill "$rpid" 2>/dev/null && wait "$rpid" 2>/dev/null || true
  for g in "${cgroup[@]}"; do rmdir "$g" 2>/dev/null || true; done
}
declare -A cgroup
trap cleanup EXIT
# CPU seconds of a server with every process it forks and every thread (io-wq
# included): a cgroup-v1 cpuacct group per server where /sys/fs/cgroup/cpuacct
# is writable. Without it, /proc/<pid>/stat's utime+stime+cutime+cstime, which
# misses vsftpd's session processes (they are not reaped into the listener's
# cutime, so vsftpd then looks almost free) and ringftpd's workers.
for s in vsftpd ringftpd; do
  g="/sys/fs/cgroup/cpuacct/ringftpd-compare-$$-$s"
  mkdir "$g" 2>/dev/null && cgroup[$s]=$g || true
done
vpid=$("$work/peers/start-vsftpd.sh" cleardata | tail -n 1)
# vsftpd forks per connection only: moving its listener now is early enough.
[ -n "${cgroup[vsftpd]:-}" ] && echo "$vpid" >"${cgroup[vsftpd]}/cgroup.procs"
# ringftpd forks its workers at once: it enters its group before exec.
bash -c '[ -z "$1" ] || echo $$ >"$1/cgroup.procs"; shift; exec "$@"' _ "${cgroup[ringftpd]:-}" \
  "$bin" --config "$work/ringftpd.toml" >/dev/null 2>"$work/ringftpd.err" &
rpid=$!
for _ in $(seq 50); do ss -Hltn "sport = :$port" | grep -q . && break; sleep 0.1; done

cpu_seconds() {  # cpu_seconds PID SERVER
  if [ -n "${cgroup[$2]:-}" ]; then
    awk '{ printf "%.6f\n", $1 / 1e9 }' "${cgroup[$2]}/cpuacct.usage"
    return
  fi
  awk -v hz="$(getconf CLK_TCK)" '{ s=$0; sub(/.*\) /,"",s); split(s,f," ");
       printf "%.4f\n", (f[12]+f[13]+f[14]+f[15])/hz }' "/proc/$1/stat"
}

declare -A mbs cpu
for rep in $(seq "$reps"); do
  for server in vsftpd ringftpd; do
    if [ "$server" = vsftpd ]; then
      pid=$vpid; url="ftp://127.0.0.1:$VSFTPD_PORT/$file"; tls=(--ftp-ssl-control -k)
    else
      pid=$rpid; url="ftp://127.0.0.1:$port/$file"; tls=(--ftp-ssl-control -k)
    fi
    before=$(cpu_seconds "$pid" "$server")
    speed=$(curl -s --max-time 60 "${tls[@]}" -u "$FTP_USER:$FTP_PASS" -o /dev/null \
                 -w '%{speed_download}' "$url")
    sleep 0.3  # let vsftpd reap the session processes into its cutime
    after=$(cpu_seconds "$pid" "$server")
    mbs[$server]+="$(awk -v s="$speed" 'BEGIN{printf "%.0f", s/1e6}') "
    cpu[$server]+="$(awk -v a="$after" -v b="$before" -v n="$bytes" \
                      'BEGIN{printf "%.3f", (a-b)/(n/1e9)}') "
  done
done

stats() {  # median (min-max) of a list of numbers
  printf '%s\n' $1 | sort -g | awk '{v[NR]=$1} END{m=(NR%2)?v[(NR+1)/2]:(v[NR/2]+v[NR/2+1])/2;
    printf "%s (%s-%s)", m, v[1], v[NR]}'
}
echo "Clear download of $file ($bytes bytes), 1 curl client, $reps reps, $(date -u +%F), $(nproc) cores," \
     "CPU from $([ -n "${cgroup[vsftpd]:-}" ] && echo cpuacct || echo /proc)"
echo
echo "| server | MB/s | server CPU s/GB |"
echo "|---|---|---|"
for server in vsftpd ringftpd; do
  echo "| $server | $(stats "${mbs[$server]}") | $(stats "${cpu[$server]}") |"
done
