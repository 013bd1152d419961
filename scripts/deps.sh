#!/usr/bin/env bash
# Installs the Debian packages smi-bridge needs to build, test and demo.
# Idempotent: does nothing when every package is already installed.
set -euo pipefail

pkgs=(build-essential cmake ninja-build pkg-config
      libuv1-dev libcurl4-openssl-dev libcjson-dev libyaml-dev libssl-dev
      libcmocka-dev openssl curl valgrind clang libclang-rt-14-dev
      python3 ca-certificates)
if [ "${1:-}" = "--image" ]; then
  pkgs+=(buildah debootstrap busybox-static)
fi

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
    missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
