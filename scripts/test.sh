#!/usr/bin/env bash
# The test command: installs what it needs, builds smi-bridge twice (plain
# and AddressSanitizer+UBSan), and runs every suite in both builds: unit,
# golden, integration (against a real kube-apiserver + etcd on loopback,
# built once into a cache), fuzzing for a bounded time.
#
#   scripts/test.sh            everything
#   scripts/test.sh -L unit    only tests with that CTest label
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/deps.sh
jobs=$(nproc 2>/dev/null || echo 2)

for type in RelWithDebInfo Asan; do
  dir=build/test-$type
  cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=$type >/dev/null
  cmake --build "$dir" -j "$jobs"
  echo "== ctest ($type)"
  ctest --test-dir "$dir" --output-on-failure -j "$jobs" "$@"
done
