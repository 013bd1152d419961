#!/bin/sh
# stage-runtime.sh -- lay out the runtime image's whole file system.
#
#   stage-runtime.sh BINARY ROOTFS [DOCDIR...]
#
# Runs in the Dockerfile's builder stage. The runtime image is FROM scratch
# plus ROOTFS, so ROOTFS must hold everything the process needs and nothing
# else: the stripped binary as /smi-bridge, each shared library the dynamic
# loader resolves for it (found with ldd, copied to the path ldd reports so
# the loader's built-in search path finds them without an ld.so.cache), the
# loader itself, the CA bundle, name-service files with the unprivileged
# user 65532, and the Debian copyright file of every package a file came
# from, and the copyright file of each DOCDIR (a /usr/share/doc/NAME-like
# directory of a library linked in statically: libcurl and OpenSSL, from
# build-curl.sh and build-openssl.sh). Libraries loaded with dlopen()
# would not show up in ldd: smi-bridge loads none (glibc >= 2.34 has the
# files/dns NSS modules built in; the static OpenSSL loads no modules).
set -eu

bin=$1
root=$2
shift 2

mkdir -p "$root"
install -m 0755 "$bin" "$root/smi-bridge"
strip --strip-all "$root/smi-bridge"

pkgs=""
# pkg_of FILE: the Debian package that installed FILE (tried under the
# path ldd printed, its /usr twin and its resolved path; merged /usr).
pkg_of() {
  for p in "$1" "/usr$1" "$(readlink -f "$1")"; do
    out=$(dpkg -S "$p" 2>/dev/null | head -n 1) || continue
    [ -n "$out" ] && { echo "${out%%:*}"; return 0; }
  done
  echo "stage-runtime: no package owns $1" >&2
  return 1
}

# `name => /path (0x...)` for libraries, `/path (0x...)` for the loader;
# the vDSO has no file.
libs=$(ldd "$root/smi-bridge" | awk '
  $2 == "=>" && $3 ~ /^\// { print $3; next }
  $1 ~ /^\// { print $1 }')
[ -n "$libs" ] || { echo "stage-runtime: ldd found no libraries" >&2; exit 1; }
for f in $libs; do
  mkdir -p "$root$(dirname "$f")"
  cp -L "$f" "$root$f"
  pkgs="$pkgs $(pkg_of "$f")"
done

mkdir -p "$root/etc/ssl/certs"
cp -L /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/"
pkgs="$pkgs ca-certificates"

for p in $(printf '%s\n' $pkgs | sort -u); do
  mkdir -p "$root/usr/share/doc/$p"
  cp -L "/usr/share/doc/$p/copyright" "$root/usr/share/doc/$p/"
done
for d in "$@"; do
  [ -f "$d/copyright" ] || { echo "stage-runtime: no $d/copyright" >&2; exit 1; }
  mkdir -p "$root/usr/share/doc/$(basename "$d")"
  cp -L "$d/copyright" "$root/usr/share/doc/$(basename "$d")/"
done

cat >"$root/etc/passwd" <<'PW'
root:x:0:0:root:/root:/sbin/nologin
nonroot:x:65532:65532:nonroot:/nonexistent:/sbin/nologin
PW
cat >"$root/etc/group" <<'GR'
root:x:0:
nonroot:x:65532:
GR
cat >"$root/etc/nsswitch.conf" <<'NS'
passwd: files
group: files
hosts: files dns
NS
chmod 0644 "$root/etc/passwd" "$root/etc/group" "$root/etc/nsswitch.conf"
