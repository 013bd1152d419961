#!/usr/bin/env bash
# build-helm.sh -- the helm binary the chart tests and deploy/generate.sh use.
#
#   build-helm.sh            build helm once into the cache (no-op when it
#                            is there) and print its path on stdout
#   build-helm.sh --check    only print the path when it is built; exit 1
#                            (and say so on stderr) when it is not
#
# No registry ships prebuilt binaries here, so helm is compiled from its Go
# module: tool/ beside this script is a module whose go.mod names helm as a
# `tool` and pins its version (and, through go.sum, every dependency). The
# binary lands in ${XDG_CACHE_HOME:-$HOME/.cache}/smi-bridge/helm/<version>/
# bin/helm and is shared by every checkout and build tree. Go (>= the version
# tool/go.mod names) is needed once, for the build; nothing else uses it.
#
# Failures are one line starting with "build-helm:" on stderr.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)

say() { printf 'build-helm: %s\n' "$*" >&2; }
die() { printf 'build-helm: %s\n' "$*" >&2; exit 1; }

version=$(awk '$1 == "helm.sh/helm/v3" && $2 ~ /^v/ { print $2; exit }' \
  "$here/tool/go.mod")
[[ $version =~ ^v3\.[0-9]+\.[0-9]+$ ]] ||
  die "cannot read the helm version from $here/tool/go.mod"

cache=${XDG_CACHE_HOME:-$HOME/.cache}/smi-bridge/helm/$version
helm=$cache/bin/helm

case ${1:-} in
  "") ;;
  --check)
    [ -x "$helm" ] || die "helm $version is not built yet (run $0)"
    echo "$helm"
    exit 0 ;;
  -h|--help) sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; exit 0 ;;
  *) die "unknown option '$1' (see --help)" ;;
esac

if [ -x "$helm" ]; then echo "$helm"; exit 0; fi

command -v go >/dev/null 2>&1 ||
  die "no Go toolchain on PATH; Go is needed once to build helm $version into $cache"
command -v flock >/dev/null 2>&1 || die "'flock' is not installed"
mkdir -p "$cache" || die "cannot create $cache"
exec 8>"$cache/.build.lock"
if ! flock -n 8; then
  say "waiting for another build into $cache"
  flock 8
fi
if [ -x "$helm" ]; then echo "$helm"; exit 0; fi

log=$cache/build.log
work=$(mktemp -d "$cache/.work.XXXXXX")
trap 'rm -rf "$work"' EXIT
t0=$EPOCHREALTIME

# helm's own Makefile stamps its version and the Kubernetes version its
# client libraries speak (client-go v0.Y.Z is Kubernetes 1.Y): without them
# `helm version` says v3-unreleased and .Capabilities.KubeVersion is wrong.
kv=$(awk '$1 == "k8s.io/client-go" { print $2; exit }' "$here/tool/go.mod")
[[ $kv =~ ^v0\.([0-9]+)\.[0-9]+$ ]] ||
  die "cannot read the k8s.io/client-go version from $here/tool/go.mod"
kminor=${BASH_REMATCH[1]}
ldflags="-s -w -X helm.sh/helm/v3/internal/version.version=$version"
ldflags+=" -X helm.sh/helm/v3/internal/version.gitTreeState=clean"
for p in pkg/lint/rules pkg/chartutil; do
  ldflags+=" -X helm.sh/helm/v3/$p.k8sVersionMajor=1"
  ldflags+=" -X helm.sh/helm/v3/$p.k8sVersionMinor=$kminor"
done

say "compiling helm $version (log: $log)"
cp "$here/tool/go.mod" "$here/tool/go.sum" "$work/"
# A private build cache: helm's dependency tree fills ~1 GB that nothing
# else reuses, so it goes once the binary exists.
export GOWORK=off CGO_ENABLED=0 GOCACHE=$cache/go-build
if ! (cd "$work" && go build -trimpath -buildvcs=false -ldflags "$ldflags" \
  -o "$work/helm" helm.sh/helm/v3/cmd/helm) >"$log" 2>&1; then
  die "compiling helm $version failed: $(grep -v '^[[:space:]]*$' "$log" |
    tail -n 2 | paste -sd ' ' | cut -c1-300) (log: $log)"
fi
"$work/helm" version --short >>"$log" 2>&1 ||
  die "the helm binary just built does not run (log: $log)"
mkdir -p "$cache/bin"
mv "$work/helm" "$helm"
rm -rf "$GOCACHE"
secs=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.0f", b - a }')
{
  echo "helm=$version kubernetes=1.$kminor"
  echo "go=$(go env GOVERSION)"
  echo "build-seconds=$secs"
  echo "built=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "size=$(du -sh "$helm" | cut -f1)"
} >"$cache/build-info"
say "built helm $version in ${secs}s"
echo "$helm"
