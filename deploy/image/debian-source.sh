#!/bin/sh
# debian-source.sh -- Debian's source package of a library, unpacked.
#
#   debian-source.sh PACKAGE DIR [VERSION] [--tar-only]
#
# Used by build-openssl.sh and build-curl.sh in the Dockerfile's deps stage.
# Downloads the source package PACKAGE (the newest version, or VERSION)
# from the suites apt already uses for binaries -- the release the image is
# based on, security updates included -- and unpacks it into DIR with
# Debian's patches applied (dpkg-source). Prints the unpacked tree's path.
# With --tar-only, only the upstream (orig) tarball is fetched -- apt checks
# it against the archive's signed index as for a whole source package -- and
# unpacked as released: for a version whose Debian parts the mirror lacks.
#
# The deb-src entries and package lists live in DIR/apt, apt's own state
# is left alone: one-line sources are copied as deb-src lines, deb822
# .sources files as stanzas of Types deb-src.
set -eu

pkg=${1:?usage: debian-source.sh PACKAGE DIR [VERSION] [--tar-only]}
dir=${2:?usage: debian-source.sh PACKAGE DIR [VERSION] [--tar-only]}
version=${3:-}
tar_only=${4:-}
apt=$dir/apt

mkdir -p "$apt/sources.list.d" "$apt/lists/partial" \
  "$apt/cache/archives/partial"
for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
  [ -f "$f" ] || continue
  sed -n 's/^deb \(.*\)$/deb-src \1/p' "$f"
done >"$apt/sources.list"
for f in /etc/apt/sources.list.d/*.sources; do
  [ -f "$f" ] || continue
  sed 's/^Types:.*$/Types: deb-src/' "$f" >"$apt/sources.list.d/${f##*/}"
done

set -- -o "Dir::Etc::SourceList=$apt/sources.list" \
  -o "Dir::Etc::SourceParts=$apt/sources.list.d" \
  -o "Dir::State::Lists=$apt/lists" -o "Dir::Cache=$apt/cache"
apt-get "$@" update >"$apt/update.log" 2>&1 || {
  cat "$apt/update.log" >&2
  echo "debian-source: apt-get update (deb-src) failed" >&2
  exit 1
}
cd "$dir"
if [ "$tar_only" = --tar-only ]; then
  apt-get "$@" source --tar-only --only-source "$pkg${version:+=$version}" \
    >"$apt/source.log" 2>&1 || {
    cat "$apt/source.log" >&2
    echo "debian-source: apt-get source --tar-only $pkg${version:+=$version} failed" >&2
    exit 1
  }
  tarball=$(find "$dir" -mindepth 1 -maxdepth 1 -name "${pkg}_*.orig.tar.*" | head -n 1)
  [ -n "$tarball" ] || { echo "debian-source: no $pkg tarball in $dir" >&2; exit 1; }
  mkdir "$dir/upstream"
  tar -xf "$tarball" -C "$dir/upstream" || {
    echo "debian-source: cannot unpack $tarball" >&2
    exit 1
  }
  src=$(find "$dir/upstream" -mindepth 1 -maxdepth 1 -type d | head -n 1)
  [ -n "$src" ] || { echo "debian-source: $tarball holds no directory" >&2; exit 1; }
  echo "$src"
  exit 0
fi
# --only-source: PACKAGE names the source package, not a binary one.
apt-get "$@" source --only-source "$pkg${version:+=$version}" \
  >"$apt/source.log" 2>&1 || {
  cat "$apt/source.log" >&2
  echo "debian-source: apt-get source $pkg${version:+=$version} failed" >&2
  exit 1
}
src=$(find "$dir" -mindepth 1 -maxdepth 1 -type d -name "$pkg-*" | head -n 1)
[ -n "$src" ] || { echo "debian-source: no $pkg source in $dir" >&2; exit 1; }
echo "$src"
