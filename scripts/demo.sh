#!/usr/bin/env bash
# The main job, end to end on this machine: builds smi-bridge, starts a real
# Kubernetes control plane on loopback (kube-apiserver + etcd, built once
# from the Go module proxy into ${XDG_CACHE_HOME:-$HOME/.cache}/smi-bridge),
# applies the SMI examples in examples/ twice -- to namespace demo-istio and
# demo-linkerd --, runs one controller per mesh, and shows the objects they
# generated. Ctrl-C stops the controllers (they release their Leases) and
# the control plane.
#
#   scripts/demo.sh          run until Ctrl-C
#   scripts/demo.sh --once   show the objects, then stop everything
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

once=0
[ "${1:-}" = "--once" ] && once=1

scripts/deps.sh
build=build/demo
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DSB_TESTS=OFF >/dev/null
cmake --build "$build" -j "$(nproc 2>/dev/null || echo 2)" >/dev/null
bin=$root/$build/smi-bridge

state=$root/$build/controlplane
testenv=tests/testenv/testenv
$testenv build
$testenv up --replace --dir "$state"
eval "$($testenv env --dir "$state")"

pids=()
stop() {
  trap - INT TERM HUP PIPE EXIT
  echo
  echo "== stopping"
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  $testenv down --dir "$state" || true
}
trap stop INT TERM HUP PIPE EXIT

# The examples name namespace "demo"; each mesh gets its own copy.
for mesh in istio linkerd; do
  ns=demo-$mesh
  kubectl create namespace "$ns" --dry-run=client -o yaml | kubectl apply -f - >/dev/null
  kubectl -n "$ns" create serviceaccount default --dry-run=client -o yaml |
    kubectl apply -f - >/dev/null
  for f in examples/context.yaml examples/smi/*.yaml; do
    sed "s/namespace: demo\b/namespace: $ns/" "$f"
    echo "---"
  done | kubectl apply -f - >/dev/null
done
echo "== applied examples/ to namespaces demo-istio and demo-linkerd"

port=18080
for mesh in istio linkerd; do
  "$bin" run --mesh "$mesh" -n "demo-$mesh" --leader-elect \
    --leader-elect-namespace "demo-$mesh" \
    --metrics-addr "127.0.0.1:$port" --health-addr "127.0.0.1:$((port + 1))" \
    2> "$root/$build/controller-$mesh.log" &
  pids+=("$!")
  echo "== smi-bridge run --mesh $mesh (log: $build/controller-$mesh.log," \
       "probes on 127.0.0.1:$((port + 1)))"
  for _ in $(seq 1 100); do
    curl -fs "http://127.0.0.1:$((port + 1))/readyz" >/dev/null && break
    sleep 0.2
  done
  port=$((port + 10))
done
sleep 2  # let the first reconciles land

show() {
  local ns=$1; shift
  echo
  echo "== generated in $ns (managed-by=smi-bridge)"
  kubectl -n "$ns" get "$@" -l app.kubernetes.io/managed-by=smi-bridge
}
show demo-istio virtualservices.networking.istio.io,authorizationpolicies.security.istio.io
show demo-linkerd httproutes.policy.linkerd.io,servers.policy.linkerd.io,authorizationpolicies.policy.linkerd.io,meshtlsauthentications.policy.linkerd.io
echo
echo "== one of them in full"
kubectl -n demo-istio get virtualservices.networking.istio.io -o yaml \
  -l app.kubernetes.io/managed-by=smi-bridge | sed -n '1,60p'
echo
echo "== Events on the SMI objects"
kubectl -n demo-istio get events --field-selector source=smi-bridge \
  -o custom-columns=OBJECT:.involvedObject.name,REASON:.reason,MESSAGE:.message \
  2>/dev/null || kubectl -n demo-istio get events

if [ "$once" = 1 ]; then
  exit 0
fi
echo
echo "== running; try: eval \"\$($testenv env --dir $state)\"; kubectl -n demo-istio edit trafficsplit ..."
echo "== Ctrl-C stops everything"
wait
