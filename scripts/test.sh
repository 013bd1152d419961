#!/usr/bin/env bash
# The test command. Installs what it needs (Debian packages; the test
# control plane and helm are built from the Go module proxy once into
# ${XDG_CACHE_HOME:-$HOME/.cache}/smi-bridge), then:
#
#   1. builds smi-bridge plainly (RelWithDebInfo) and runs every suite:
#      unit, golden, integration (a real kube-apiserver + etcd on
#      loopback), helm and image (buildah), one scenario under valgrind;
#   2. builds it with AddressSanitizer + UBSan and runs every suite again
#      (the image suites excepted: they build their own binary);
#   3. builds the libFuzzer targets with clang and fuzzes each for
#      SB_FUZZ_SECONDS (default 60).
#
#   scripts/test.sh                 everything
#   scripts/test.sh -L unit         only tests with that CTest label
#                                   (passed to both ctest runs; no fuzzing)
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/deps.sh --image
jobs=$(nproc 2>/dev/null || echo 2)
fuzz_seconds=${SB_FUZZ_SECONDS:-60}

run_suite() {
  local type=$1 dir=build/test-$1; shift
  cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE="$type" >/dev/null
  cmake --build "$dir" -j "$jobs"
  echo "== ctest ($type)"
  ctest --test-dir "$dir" --output-on-failure -j "$jobs" "$@"
}

run_suite RelWithDebInfo -LE bench "$@"
run_suite Asan -LE 'bench|image' "$@"

if [ $# -eq 0 ]; then
  dir=build/test-fuzz
  CC=clang cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DSB_FUZZ=ON -DSB_INTEGRATION=OFF -DSB_BENCH=OFF \
    -DSB_FUZZ_SECONDS="$fuzz_seconds" >/dev/null
  cmake --build "$dir" -j "$jobs"
  echo "== fuzzing (${fuzz_seconds}s per target)"
  ctest --test-dir "$dir" --output-on-failure -L fuzz
fi
echo "== all tests passed"
