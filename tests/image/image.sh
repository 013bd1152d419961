#!/usr/bin/env bash
# image.sh -- build and run smi-bridge's container image without a registry.
#
#   image.sh base [--refresh]   make the Debian base image the Dockerfile's
#                               FROM names (debootstrap, cached)
#   image.sh build [--variant V] [--tag T] [--no-cache]
#                               base, then `buildah bud` the Dockerfile;
#                               prints the image id (--no-cache: install
#                               the build dependencies afresh, e.g. for
#                               security updates). V is `static` (the
#                               default: only the binary and the libraries
#                               it loads) or `debian` (the same binary on
#                               the Debian base, kept to compare sizes)
#   image.sh run [--tag T] [--user U] [--entrypoint E] [--network host]
#                [--read-only] [--volume H:C[:o]]... [--env K=V]... [--]
#                [ARGS...]
#                               run the image the way a container engine
#                               does: its ENTRYPOINT (or E) with ARGS, or
#                               with its CMD when there are none, as its
#                               USER (or U), in a fresh container that is
#                               removed afterwards. --read-only: with the
#                               root file system mounted read-only, as
#                               Kubernetes' readOnlyRootFilesystem does
#                               (buildah run cannot; this uses a private
#                               mount namespace and chroot; root only;
#                               host network). TERM, INT and HUP are
#                               passed on to the process; the container
#                               is removed when it ends
#   image.sh size [--tag T]     uncompressed and gzip-compressed size, bytes
#   image.sh binary [--tag T] DEST
#                               copy the image's /smi-bridge to DEST, to
#                               run or measure it on the host (it loads the
#                               host's copies of the same Debian libraries)
#   image.sh buildah ARGS...    buildah with the storage this script uses
#
# Nothing is pulled from an image registry. `base` makes a
# Debian rootfs with debootstrap (--variant=minbase, from the Debian mirror
# apt on this machine uses, read from /etc/apt/sources.list*), caches it as
# ${XDG_CACHE_HOME:-$HOME/.cache}/smi-bridge/image/debian-SUITE-ARCH.tar
# (made again only when missing or with --refresh) and imports it into
# buildah's storage under the exact name the Dockerfile's FROM resolves to,
# so `buildah bud` finds it locally. The same Dockerfile builds unchanged
# wherever the real base image can be pulled.
#
# buildah runs with --storage-driver vfs and --isolation chroot (no kernel
# overlay or user namespaces needed) and keeps its images in a storage of
# its own, ${XDG_CACHE_HOME:-$HOME/.cache}/smi-bridge/image/storage, so it
# never meets another tool's storage configuration. SB_IMAGE_MIRROR
# overrides the mirror, SB_IMAGE_SUITE the Debian suite (bookworm),
# SB_IMAGE_OPENSSL the Debian version of the openssl source the image's
# OpenSSL is built from (the Dockerfile's OPENSSL_VERSION; default: the
# version of Debian's libssl3).
#
# Failures are one line starting with "image:" on stderr.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
repo=$(cd "$here/../.." && pwd -P)

say() { printf 'image: %s\n' "$*" >&2; }
die() { printf 'image: %s\n' "$*" >&2; exit 1; }

usage() {
  sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"
  exit "${1:-2}"
}

suite=${SB_IMAGE_SUITE:-bookworm}
cache=${XDG_CACHE_HOME:-$HOME/.cache}/smi-bridge/image
storage=$cache/storage
runroot=${XDG_RUNTIME_DIR:-/tmp}/smi-bridge-buildah-$(id -u)
# What `FROM debian:bookworm-slim` resolves to without a registry.
base_ref=docker.io/library/debian:$suite-slim
default_tag=localhost/smi-bridge:latest
deps_ref=localhost/smi-bridge-build-deps:latest
nocache=""

need() {
  local t
  for t in "$@"; do
    command -v "$t" >/dev/null 2>&1 ||
      die "'$t' is not installed (scripts/deps.sh --image installs it)"
  done
}

# Rootless buildah needs subordinate uid/gid ranges; say so up front
# instead of letting it fail half way through a build.
check_user() {
  [ "$(id -u)" -eq 0 ] && return 0
  local u
  u=$(id -un)
  grep -qs "^$u:" /etc/subuid && grep -qs "^$u:" /etc/subgid ||
    die "running as $u without /etc/subuid and /etc/subgid entries: rootless buildah needs them (usermod --add-subuids 100000-165535 --add-subgids 100000-165535 $u), or run as root"
}

buildah_cmd=(buildah --root "$storage" --runroot "$runroot" --storage-driver vfs)
bah() { "${buildah_cmd[@]}" "$@"; }

have_image() { bah inspect --type image "$1" >/dev/null 2>&1; }

project_version() {
  sed -n 's/^project(smi-bridge VERSION \([0-9][0-9.]*\).*/\1/p' \
    "$repo/CMakeLists.txt"
}

# --- base -----------------------------------------------------------------

# apt_uri SUITE: the first archive URI apt on this machine uses for SUITE,
# from one-line (sources.list) or deb822 (*.sources) files. No host name is
# written in here: the image follows whatever the machine is set up with.
apt_uri() {
  local f
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list \
    /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    case $f in
      *.sources)
        # Stanzas are separated by blank lines; fields may come in any order.
        awk -v s="$1" '
          function flush() {
            if (types ~ /(^|[ \t])deb([ \t]|$)/ && enabled != "no" &&
                (suites " ") ~ ("[ \t]" s " ") && uri != "") {
              print uri; found = 1; exit
            }
            types = uri = suites = enabled = ""
          }
          /^[ \t]*$/ { flush(); next }
          tolower($1) == "types:" { types = $0 }
          tolower($1) == "uris:" { uri = $2 }
          tolower($1) == "suites:" { suites = $0 }
          tolower($1) == "enabled:" { enabled = tolower($2) }
          END { if (!found) flush() }' "$f" ;;
      *)
        # deb [options] URI SUITE COMPONENTS...
        awk -v s="$1" '
          $1 == "deb" {
            i = 2
            if ($i ~ /^\[/) { while (i < NF && $i !~ /\]$/) i++; i++ }
            if ($(i + 1) == s) { print $i; exit }
          }' "$f" ;;
    esac
  done | head -n 1
}

cmd_base() {
  local refresh=${1:-} arch tarball m sec work log t0 secs
  need buildah debootstrap
  check_user
  arch=$(dpkg --print-architecture)
  tarball=$cache/debian-$suite-$arch.tar
  mkdir -p "$cache" || die "cannot create $cache"
  exec 8>"$cache/.base.lock"
  flock 8
  if [ -n "$refresh" ] || [ ! -s "$tarball" ]; then
    [ "$(id -u)" -eq 0 ] ||
      die "debootstrap needs root to make the base image; run '$0 base' once as root (the result is cached in $cache)"
    m=${SB_IMAGE_MIRROR:-$(apt_uri "$suite")}
    [ -n "$m" ] ||
      die "no Debian mirror for '$suite' in /etc/apt/sources.list*; set SB_IMAGE_MIRROR"
    sec=$(apt_uri "$suite-security")
    work=$(mktemp -d "$cache/.base.XXXXXX")
    # A failed debootstrap leaves mount points behind in its target only
    # when it got as far as mounting; it unmounts them itself on success.
    trap 'rm -rf "$work"' EXIT
    log=$cache/base.log
    t0=$EPOCHREALTIME
    say "debootstrap $suite ($arch, minbase) from $m (log: $log)"
    debootstrap --variant=minbase --arch="$arch" "$suite" "$work/rootfs" \
      "$m" >"$log" 2>&1 ||
      die "debootstrap failed: $(tail -n 2 "$log" | paste -sd ' ' | cut -c1-300) (log: $log)"
    # The image's apt uses the same mirror, with updates and security
    # updates, like the official images.
    {
      echo "deb $m $suite main"
      echo "deb $m $suite-updates main"
      [ -z "$sec" ] || echo "deb $sec $suite-security main"
    } >"$work/rootfs/etc/apt/sources.list"
    # Nothing of the build host belongs in the image.
    rm -rf "$work/rootfs/var/cache/apt/archives/"*.deb \
      "$work/rootfs/var/lib/apt/lists/"* "$work/rootfs/var/log/"*
    : >"$work/rootfs/etc/hostname"
    : >"$work/rootfs/etc/resolv.conf"
    tar --numeric-owner --xattrs -C "$work/rootfs" -cf "$work/base.tar" . ||
      die "packing the base rootfs failed"
    mv "$work/base.tar" "$tarball"
    rm -rf "$work"
    trap - EXIT
    secs=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.0f", b - a }')
    say "base rootfs made in ${secs}s: $tarball ($(du -h "$tarball" | cut -f1))"
    refresh=1
  fi
  if [ -n "$refresh" ] || ! have_image "$base_ref"; then
    local ctr
    ctr=$(bah from --pull-never scratch) || die "buildah from scratch failed"
    bah add --quiet "$ctr" "$tarball" / >/dev/null ||
      { bah rm "$ctr" >/dev/null 2>&1; die "importing $tarball failed"; }
    bah config --os linux --arch "$arch" --cmd /bin/bash \
      --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
      "$ctr"
    bah commit --quiet --rm "$ctr" "$base_ref" >/dev/null ||
      die "committing the base image failed"
    say "imported the base as $base_ref"
  fi
  exec 8>&-
}

# --- build ----------------------------------------------------------------

# bud ARGS...: buildah bud of the repository's Dockerfile, output to the log.
bud() {
  local args=(--build-arg "VERSION=$version")
  [ -n "${SB_IMAGE_OPENSSL:-}" ] &&
    args+=(--build-arg "OPENSSL_VERSION=$SB_IMAGE_OPENSSL")
  bah bud --isolation chroot --pull-never --layers ${nocache:+--no-cache} \
    "${args[@]}" -f "$repo/Dockerfile" "$@" "$repo" \
    >>"$cache/build.log" 2>&1
}

cmd_build() {
  local variant=$1 tag=$2 target version t0 secs id
  case $variant in
    static) target=runtime ;;
    debian) target=runtime-debian ;;
    *) die "unknown variant '$variant' (static, debian)" ;;
  esac
  cmd_base
  exec 7>"$cache/.build.lock"
  flock 7
  version=$(project_version)
  [ -n "$version" ] || die "cannot read the project version from CMakeLists.txt"
  t0=$EPOCHREALTIME
  say "building $tag (variant $variant, version $version)"
  # The Dockerfile's `deps` stage (base + build dependencies) is built and
  # tagged first: --layers then finds it as the cached first half of the
  # real build, and the prune below, which drops every untagged step
  # (with vfs each is a full copy of its file system, ~600 MB), keeps it.
  # So a rebuild after a source change copies and compiles, nothing more.
  : >"$cache/build.log"
  bud --target deps -t "$deps_ref" && bud --target "$target" -t "$tag" ||
    die "buildah bud failed: $(grep -v '^[[:space:]]*$' "$cache/build.log" |
      tail -n 3 | paste -sd ' ' | cut -c1-400) (log: $cache/build.log)"
  bah rmi --prune >/dev/null 2>&1 || true
  secs=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }')
  id=$(bah inspect --type image --format '{{.FromImageID}}' "$tag")
  say "built $tag in ${secs}s"
  echo "$id"
}

# --- run ------------------------------------------------------------------

cmd_run() {
  local tag=$default_tag user="" net="" ep="" ep_set="" ro="" ctr rc
  local opts=() argv=() vols=() envs=()
  while [ $# -gt 0 ]; do
    case $1 in
      --tag) tag=${2:?--tag needs a value}; shift ;;
      --user) user=${2:?--user needs a value}; shift ;;
      --entrypoint) ep=${2?--entrypoint needs a value}; ep_set=1; shift ;;
      --read-only) ro=1 ;;
      --volume|-v) vols+=("${2:?--volume needs a value}"); shift ;;
      --env|-e) envs+=("${2:?--env needs a value}"); shift ;;
      --network) net=${2:?--network needs a value}; shift ;;
      --) shift; break ;;
      *) break ;;
    esac
    shift
  done
  need buildah
  check_user
  have_image "$tag" || die "no image $tag (build it with: $0 build)"
  # `buildah run` runs exactly the command it is given; the image's
  # ENTRYPOINT and CMD are applied here as a container engine would.
  if [ -n "$ep_set" ]; then
    [ -z "$ep" ] || argv=("$ep")
  else
    mapfile -t argv < <(bah inspect --type image \
      --format '{{range .OCIv1.Config.Entrypoint}}{{println .}}{{end}}' "$tag")
  fi
  if [ $# -gt 0 ]; then
    argv+=("$@")
  else
    mapfile -t -O "${#argv[@]}" argv < <(bah inspect --type image \
      --format '{{range .OCIv1.Config.Cmd}}{{println .}}{{end}}' "$tag")
  fi
  [ ${#argv[@]} -gt 0 ] || die "nothing to run: $tag has no ENTRYPOINT or CMD"
  # The container is removed however this ends: the process exits, a
  # step fails (die), or we are stopped before the process started.
  trap remove_ctr EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  trap 'exit 129' HUP
  ctr=$(bah from --pull-never --quiet "$tag") ||
    die "buildah from $tag failed"
  run_ctr=$ctr
  rc=0
  if [ -n "$ro" ]; then
    run_read_only "$ctr" "${user:-$(image_user "$tag")}" || rc=$?
  else
    local v e
    for v in ${vols[@]+"${vols[@]}"}; do opts+=(--volume "$v"); done
    for e in ${envs[@]+"${envs[@]}"}; do opts+=(--env "$e"); done
    [ -z "$user" ] || opts+=(--user "$user")
    # chroot isolation shares the host's network; --network host says so
    # explicitly (the in-cluster test reaches an API server on loopback).
    [ -z "$net" ] || opts+=(--network "$net")
    # buildah itself, not the bah function: a signal must reach buildah
    # (which passes it on), not a subshell running the function.
    supervise "${buildah_cmd[@]}" run --isolation chroot ${opts[@]+"${opts[@]}"} "$ctr" -- \
      "${argv[@]}" || rc=$?
  fi
  return "$rc"
}

# The container of the current `run`, removed by the EXIT trap.
run_ctr=""
remove_ctr() {
  [ -z "$run_ctr" ] || bah rm "$run_ctr" >/dev/null 2>&1 || true
  run_ctr=""
}

# supervise CMD...: runs CMD and returns its exit status, passing TERM,
# INT and HUP on to it, as a container engine's `stop` hands the signal to
# the container's process (which then shuts down in its own time) rather
# than ending the engine. With --read-only CMD execs into the image's
# process, so the signal reaches it directly.
supervise() {
  local pid rc sig
  "$@" &
  pid=$!
  for sig in TERM INT HUP; do
    # shellcheck disable=SC2064 # the pid is meant to be fixed here
    trap "kill -s $sig $pid 2>/dev/null || true" "$sig"
  done
  # A trapped signal ends `wait` early; wait again until the process is
  # gone, then once more for its status (bash keeps it), not that of the
  # interrupted wait.
  while :; do
    wait "$pid" 2>/dev/null || true
    kill -0 "$pid" 2>/dev/null || break
  done
  rc=0
  wait "$pid" 2>/dev/null || rc=$?
  return "$rc"
}

image_user() {
  local u
  u=$(bah inspect --type image --format '{{.OCIv1.Config.User}}' "$1")
  echo "${u:-0:0}"
}

# run_read_only CTR USER: run argv (from cmd_run) in CTR's file system,
# mounted read-only in a mount namespace of its own, with /proc, /dev and
# the volumes mounted in, as USER (numeric uid:gid), in the environment
# the image configures plus the --env values. Network: the host's.
run_read_only() {
  local ctr=$1 user=$2 mnt v src dst mode
  [ "$(id -u)" -eq 0 ] || die "--read-only needs root (mount namespace)"
  need unshare chroot
  [[ $user =~ ^[0-9]+(:[0-9]+)?$ ]] ||
    die "--read-only needs a numeric user, not '$user'"
  [[ $user == *:* ]] || user=$user:$user
  mnt=$(bah mount "$ctr") || die "buildah mount failed"
  # Mount points must exist before the root turns read-only; they are
  # made in the container's own layer, which is thrown away.
  mkdir -p "$mnt/proc" "$mnt/dev"
  local binds=()
  for v in ${vols[@]+"${vols[@]}"}; do
    IFS=: read -r src dst mode <<<"$v"
    [ -e "$src" ] || die "volume source $src does not exist"
    if [ -d "$src" ]; then mkdir -p "$mnt$dst"; else
      mkdir -p "$(dirname "$mnt$dst")"; : >"$mnt$dst"; fi
    binds+=("$src" "$dst" "${mode:-rw}")
  done
  local env=()
  mapfile -t env < <(bah inspect --type image \
    --format '{{range .OCIv1.Config.Env}}{{println .}}{{end}}' "$tag")
  env+=(${envs[@]+"${envs[@]}"})
  supervise unshare --mount --propagation private -- bash -c '
    set -e
    mnt=$1 user=$2 n=$3; shift 3
    mount --bind "$mnt" "$mnt"
    mount -t proc proc "$mnt/proc"
    mount --rbind /dev "$mnt/dev"
    while [ "$n" -gt 0 ]; do
      mount --bind "$1" "$mnt$2"
      [ "$3" != ro ] || mount -o remount,bind,ro "$mnt$2"
      shift 3; n=$((n - 1))
    done
    mount -o remount,bind,ro "$mnt"
    envs=()
    while [ "$1" != -- ]; do envs+=("$1"); shift; done
    shift
    exec env -i "${envs[@]}" chroot --userspec="$user" "$mnt" "$@"
  ' _ "$mnt" "$user" $((${#binds[@]} / 3)) ${binds[@]+"${binds[@]}"} \
    ${env[@]+"${env[@]}"} -- "${argv[@]}"
}

# --- size -----------------------------------------------------------------

cmd_size() {
  local tag=$1 ctr mnt raw gz
  need buildah
  check_user
  have_image "$tag" || die "no image $tag (build it with: $0 build)"
  ctr=$(bah from --pull-never --quiet "$tag") || die "buildah from $tag failed"
  mnt=$(bah mount "$ctr") || { bah rm "$ctr" >/dev/null; die "buildah mount failed"; }
  raw=$(du -sb --apparent-size "$mnt" | cut -f1)
  gz=$(tar --numeric-owner -C "$mnt" -cf - . | gzip -6 | wc -c)
  bah umount "$ctr" >/dev/null || true
  bah rm "$ctr" >/dev/null || true
  printf 'uncompressed=%s gzip=%s\n' "$raw" "$gz"
}

# --- binary ---------------------------------------------------------------

cmd_binary() {
  local tag=$1 dest=$2 ctr mnt rc=0
  need buildah
  check_user
  have_image "$tag" || die "no image $tag (build it with: $0 build)"
  ctr=$(bah from --pull-never --quiet "$tag") || die "buildah from $tag failed"
  mnt=$(bah mount "$ctr") || { bah rm "$ctr" >/dev/null; die "buildah mount failed"; }
  cp "$mnt/smi-bridge" "$dest" || rc=$?
  bah umount "$ctr" >/dev/null || true
  bah rm "$ctr" >/dev/null || true
  [ "$rc" -eq 0 ] || die "copying /smi-bridge out of $tag to $dest failed"
}

# --- main -----------------------------------------------------------------

verb=${1:-}
[ $# -eq 0 ] || shift
case $verb in
  base)
    case ${1:-} in
      "") cmd_base ;;
      --refresh) cmd_base refresh ;;
      *) die "base takes only --refresh" ;;
    esac ;;
  build)
    variant=static tag=""
    while [ $# -gt 0 ]; do
      case $1 in
        --variant) variant=${2:?--variant needs a value}; shift ;;
        --tag) tag=${2:?--tag needs a value}; shift ;;
        --no-cache) nocache=1 ;;
        *) die "unknown build option '$1'" ;;
      esac
      shift
    done
    if [ -z "$tag" ]; then
      tag=$default_tag
      [ "$variant" = static ] || tag=localhost/smi-bridge:$variant
    fi
    need buildah
    check_user
    cmd_build "$variant" "$tag" ;;
  run) cmd_run "$@" ;;
  size)
    tag=$default_tag
    case ${1:-} in
      "") ;;
      --tag) tag=${2:?--tag needs a value} ;;
      *) die "size takes only --tag" ;;
    esac
    cmd_size "$tag" ;;
  binary)
    tag=$default_tag
    if [ "${1:-}" = --tag ]; then
      tag=${2:?--tag needs a value}
      shift 2
    fi
    [ $# -eq 1 ] || die "binary takes [--tag T] DEST"
    cmd_binary "$tag" "$1" ;;
  buildah) need buildah; check_user; bah "$@" ;;
  ""|-h|--help|help) usage 0 ;;
  *) die "unknown verb '$verb' (base, build, run, size, binary, buildah)" ;;
esac
