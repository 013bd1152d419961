#!/usr/bin/env bash
# test-image.sh -- checks of the image tests/image/image.sh built.
#
#   test-image.sh run VERSION       what the image is and how it runs
#   test-image.sh translate         `smi-bridge translate` inside it on a
#                                   file mounted in
#
# `run` checks: `smi-bridge version` in the image prints VERSION; the image
# config (non-root numeric USER, ENTRYPOINT, CMD, OCI labels); the file
# list (the binary, the libraries and loader it needs, CA bundle, passwd/
# group/nsswitch, copyright files, nothing else); the uid and gid the
# process gets; that it runs with the root file system read-only (with a
# control showing the root really is read-only there); the size against
# the 12 MB budget (uncompressed, 12,000,000 bytes); that libcurl and
# OpenSSL are linked in (no shared libcurl nor its Debian dependencies, no
# shared libssl or libcrypto, their copyright files present).
#
# The image has no shell and no `id`, so the uid is read by a statically
# linked busybox from the host, mounted in and started the way buildah
# starts the entrypoint: it proves what uid/gid buildah gives processes of
# this image (from its USER), which is also what Kubernetes enforces with
# the chart's runAsUser. Prints one line per check and "N passed, N failed".
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
image=$here/image.sh
tag=localhost/smi-bridge:latest
budget=12000000

passed=0 failed=0
ok() { passed=$((passed + 1)); echo "ok   $*"; }
bad() { failed=$((failed + 1)); echo "FAIL $*"; }
# expect WHAT EXPECTED ACTUAL
expect() {
  if [ "$2" = "$3" ]; then ok "$1"; else bad "$1: expected '$2', got '$3'"; fi
}
finish() {
  echo "$passed passed, $failed failed"
  [ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
  exit
}

# A busybox that runs in an image without libraries: no ELF interpreter.
busybox=$(command -v busybox || true)
if [ -n "$busybox" ] && readelf -l "$(readlink -f "$busybox")" 2>/dev/null |
  grep -q INTERP; then
  busybox=""
fi

inspect() { "$image" buildah inspect --type image --format "$1" "$tag"; }

cmd_run() {
  local version=$1 out rc files f unexpected sizes raw gz

  out=$("$image" run --tag "$tag" version 2>&1); rc=$?
  expect "smi-bridge version in the image (exit $rc)" "smi-bridge $version" "$out"

  expect "USER is the numeric non-root 65532:65532" "65532:65532" \
    "$(inspect '{{.OCIv1.Config.User}}')"
  expect "ENTRYPOINT" "/smi-bridge" \
    "$(inspect '{{range .OCIv1.Config.Entrypoint}}{{.}} {{end}}' | sed 's/ $//')"
  expect "CMD" "run" "$(inspect '{{range .OCIv1.Config.Cmd}}{{.}} {{end}}' | sed 's/ $//')"
  expect "label org.opencontainers.image.version" "$version" \
    "$(inspect '{{index .OCIv1.Config.Labels "org.opencontainers.image.version"}}')"
  expect "label org.opencontainers.image.title" "smi-bridge" \
    "$(inspect '{{index .OCIv1.Config.Labels "org.opencontainers.image.title"}}')"

  if [ -z "$busybox" ]; then
    bad "a statically linked busybox is needed for the checks inside the image (scripts/deps.sh --image installs busybox-static)"
    finish
  fi
  # Every file in the image, against the layout stage-runtime.sh promises.
  files=$("$image" run --tag "$tag" --read-only --entrypoint /busybox \
    -v "$busybox:/busybox:ro" -- find / -xdev -type f 2>/dev/null |
    grep -v '^/busybox$' | sort)
  unexpected=$(grep -v -E '^/smi-bridge$|^/(usr/)?lib(64|32)?/[^ ]*\.so[.0-9]*$|^/etc/(passwd|group|nsswitch\.conf|ssl/certs/ca-certificates\.crt)$|^/usr/share/doc/[^/]+/copyright$' <<<"$files")
  expect "only the binary, its libraries, CA bundle, user files and copyrights (unexpected: ${unexpected:-none})" "" "$unexpected"
  for f in /smi-bridge /etc/passwd /etc/group /etc/ssl/certs/ca-certificates.crt /usr/share/doc/libc6/copyright /usr/share/doc/curl/copyright /usr/share/doc/openssl/copyright; do
    grep -qx -- "$f" <<<"$files" && ok "file $f" || bad "file $f missing"
  done
  grep -q -E '^/lib(64)?/ld-linux' <<<"$files" && ok "the dynamic loader" ||
    bad "no dynamic loader in the image"
  # libcurl is linked in (deploy/image/build-curl.sh): neither Debian's
  # shared libcurl nor the libraries it drags in belong here.
  extra=$(grep -E '/lib(curl|gnutls|ldap|lber|gssapi|krb5|k5crypto|com_err|keyutils|ssh2|rtmp|idn2|unistring|psl|brotli|zstd|sasl2|p11-kit|tasn1|nettle|hogweed|gmp)[^/]*\.so' <<<"$files" | paste -sd ' ')
  expect "no shared libcurl or its Debian dependencies (found: ${extra:-none})" "" "$extra"
  # So is OpenSSL (deploy/image/build-openssl.sh).
  extra=$(grep -E '/lib(ssl|crypto)[^/]*\.so' <<<"$files" | paste -sd ' ')
  expect "no shared libssl or libcrypto (found: ${extra:-none})" "" "$extra"
  grep -q -E '/(bin|sbin)/' <<<"$files" && bad "a bin/ directory in the image: $(grep -E '/(bin|sbin)/' <<<"$files" | head -3 | paste -sd ' ')" ||
    ok "no shell or other programs"

  out=$("$image" run --tag "$tag" --entrypoint /busybox \
    -v "$busybox:/busybox:ro" -- id -u 2>&1)
  expect "buildah run gives the image's processes uid 65532" "65532" "$out"
  out=$("$image" run --tag "$tag" --entrypoint /busybox \
    -v "$busybox:/busybox:ro" -- id -g 2>&1)
  expect "... and gid 65532" "65532" "$out"
  out=$("$image" run --tag "$tag" --entrypoint /busybox \
    -v "$busybox:/busybox:ro" -- id -un 2>&1)
  expect "... which /etc/passwd names nonroot" "nonroot" "$out"

  out=$("$image" run --tag "$tag" --read-only version 2>&1); rc=$?
  expect "version with a read-only root file system, as 65532 (exit $rc)" \
    "smi-bridge $version" "$out"
  out=$("$image" run --tag "$tag" --read-only --user 0 --entrypoint /busybox \
    -v "$busybox:/busybox:ro" -- touch /probe 2>&1)
  grep -q 'Read-only file system' <<<"$out" &&
    ok "control: even root cannot write to that root file system" ||
    bad "control: root could write to the read-only root: $out"

  sizes=$("$image" size --tag "$tag") || { bad "image.sh size failed"; finish; }
  raw=$(sed -n 's/.*uncompressed=\([0-9]*\).*/\1/p' <<<"$sizes")
  gz=$(sed -n 's/.*gzip=\([0-9]*\).*/\1/p' <<<"$sizes")
  echo "     size: $raw bytes uncompressed, $gz bytes gzip"
  [ -n "$raw" ] && [ "$raw" -le "$budget" ] &&
    ok "size $raw <= $budget bytes" || bad "size ${raw:-?} > $budget bytes"
  finish
}

cmd_translate() {
  local out rc
  out=$("$image" run --tag "$tag" --read-only \
    -v "$here/trafficsplit.yaml:/in/trafficsplit.yaml:ro" -- \
    translate -f /in/trafficsplit.yaml --mesh istio 2>&1); rc=$?
  expect "translate in the image exits 0" "0" "$rc"
  grep -q '^kind: VirtualService$' <<<"$out" &&
    ok "it prints a VirtualService" || bad "no VirtualService in: $out"
  grep -q 'reviews-v2.bookinfo.svc.cluster.local' <<<"$out" &&
    ok "routed to the TrafficSplit's backend" ||
    bad "backend reviews-v2 missing from: $out"
  out=$("$image" run --tag "$tag" --read-only \
    -v "$here/trafficsplit.yaml:/in/trafficsplit.yaml:ro" -- \
    translate -f /in/missing.yaml 2>&1); rc=$?
  [ "$rc" -ne 0 ] && ok "a missing input file fails (exit $rc)" ||
    bad "a missing input file exited 0"
  finish
}

case ${1:-} in
  run) cmd_run "${2:?usage: test-image.sh run VERSION}" ;;
  translate) cmd_translate ;;
  *) echo "usage: test-image.sh run VERSION | translate" >&2; exit 2 ;;
esac
