#!/usr/bin/env bash
# Installs everything ringftpd needs on a fresh Debian 12 machine, then builds
# wolfSSL 5.5.4 from Debian's *source* package (Debian's patches applied) with
# intel asm / AES-NI into a project-local prefix.
#
# Why not Debian's binary libwolfssl: it is built without the assembly code
# paths; on our machines it seals AES-128-GCM at ~141 MB/s, the same source
# with --enable-intelasm at ~4300 MB/s (DESIGN.md §1).
#
# Idempotent: packages already present are skipped by apt; the wolfSSL build is
# skipped when the prefix holds a build made with the same configure flags.
#
# Usage: tools/install-deps.sh [--no-apt]
#   RINGFTPD_DEPS_DIR  where the private build lives (default: <repo>/.deps)
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
deps="${RINGFTPD_DEPS_DIR:-$repo/.deps}"
wolfssl_version="5.5.4"
prefix="$deps/wolfssl"

log() { printf '[install-deps] %s\n' "$*"; }
die() { printf '[install-deps] error: %s\n' "$*" >&2; exit 1; }

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}

# Debian packages: build tools, libraries, and the real clients the
# integration tests drive (curl = OpenSSL, lftp = GnuTLS, python3 ftplib).
packages=(
  build-essential cmake ninja-build pkg-config clang lld libclang-rt-14-dev
  autoconf automake libtool dpkg-dev
  liburing-dev libtomlplusplus-dev libgtest-dev libgmock-dev libbenchmark-dev
  libcrypt-dev libseccomp-dev libsystemd-dev libmicrohttpd-dev libhiredis-dev
  curl lftp python3 openssl ca-certificates procps iproute2
  systemd fail2ban  # systemd-analyze verify, fail2ban-regex (dist/, tests)
  redis-server  # [shared]: tests/integration/test_shared_redis.py
  prometheus  # the real scraper and promtool for tests/integration/test_metrics.py
  haproxy  # the real balancer of tests/integration/test_scale_out.py (PROXY v2, in netns)
  debhelper lintian fakeroot  # dpkg-buildpackage of debian/, test_debian_package.py
)

if [ "${1:-}" != "--no-apt" ]; then
  missing=()
  for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' \
      || missing+=("$p")
  done
  if [ "${#missing[@]}" -gt 0 ]; then
    log "apt-get install ${missing[*]}"
    as_root apt-get update -qq || log "warning: apt-get update reported errors (continuing)"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
      --no-install-recommends "${missing[@]}" >/dev/null
  else
    log "Debian packages: all present"
  fi
fi

# wolfSSL features the server needs (DESIGN.md §1), one flag per reason:
wolfssl_flags=(
  --enable-intelasm --enable-aesni      # AES-GCM at GB/s instead of MB/s
  --enable-sp --enable-sp-asm           # fast RSA/ECC: handshakes per second
  --enable-tls13 --enable-session-ticket
  --enable-opensslextra                 # HAVE_EXT_CACHE, i2d/d2i_SSL_SESSION
  --enable-context-extra-user-data      # HAVE_EX_DATA: origin id on sessions
  --enable-certgen --enable-keygen --enable-certext  # first-run self-signed cert
  --enable-extended-master --enable-alpn --enable-sni
  --enable-aesgcm --enable-chacha --enable-poly1305 --enable-curve25519
  --enable-ecc --enable-supportedcurves
  --enable-static --enable-shared --with-pic
  --disable-examples --disable-crypttests --disable-benchmark
)
stamp_text="wolfssl ${wolfssl_version} ${wolfssl_flags[*]}"
stamp="$prefix/.ringftpd-build"

if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$stamp_text" ] \
   && [ -f "$prefix/lib/libwolfssl.a" ]; then
  log "wolfSSL ${wolfssl_version}: already built with these flags in $prefix"
  exit 0
fi

# A private apt configuration with a deb-src entry, so the system's sources are
# left exactly as they were.
apt_dir="$deps/apt"
mkdir -p "$apt_dir/lists/partial" "$apt_dir/cache/archives/partial"
cat >"$apt_dir/sources.list" <<'EOF'
deb-src http://deb.debian.org/debian bookworm main
deb-src http://deb.debian.org/debian-security bookworm-security main
EOF
apt_opts=(
  -o "Dir::Etc::SourceList=$apt_dir/sources.list"
  -o "Dir::Etc::SourceParts=/dev/null"
  -o "Dir::State::Lists=$apt_dir/lists"
  -o "Dir::Cache=$apt_dir/cache"
  -o "APT::Sandbox::User=root"
)

src_root="$deps/src"
rm -rf "$src_root"
mkdir -p "$src_root"
log "fetching Debian's wolfssl source package"
apt-get "${apt_opts[@]}" -qq update
(cd "$src_root" && apt-get "${apt_opts[@]}" -qq source wolfssl >/dev/null)
src_dir="$(find "$src_root" -maxdepth 1 -type d -name "wolfssl-${wolfssl_version}*" | head -n 1)"
[ -n "$src_dir" ] || die "apt-get source wolfssl produced no wolfssl-${wolfssl_version} tree"
[ -d "$src_dir/debian/patches" ] || die "Debian's patches are missing from $src_dir"

log "building wolfSSL ${wolfssl_version} (Debian source, patches applied) into $prefix"
build_log="$deps/wolfssl-build.log"
(
  cd "$src_dir"
  ./autogen.sh
  ./configure --prefix="$prefix" "${wolfssl_flags[@]}" CFLAGS="-O2 -g"
  make -j"$(nproc)"
  rm -rf "$prefix"
  make install
) >"$build_log" 2>&1 || { tail -n 30 "$build_log" >&2; die "wolfSSL build failed (log: $build_log)"; }

grep -q 'WOLFSSL_AESNI' "$prefix/include/wolfssl/options.h" \
  || die "built wolfSSL lacks WOLFSSL_AESNI in options.h"
printf '%s' "$stamp_text" >"$stamp"
rm -rf "$src_root"
log "wolfSSL ${wolfssl_version} installed in $prefix"
