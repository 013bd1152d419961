#!/bin/sh
# build-openssl.sh -- a static OpenSSL with only what smi-bridge's TLS uses.
#
#   build-openssl.sh PREFIX [VERSION]
#
# Runs in the Dockerfile's deps stage, before build-curl.sh, which builds
# libcurl against it. Debian's libcrypto carries every algorithm, protocol
# and format of OpenSSL 3, and SSL_CTX_new fetches every algorithm of the
# default provider: a process that only makes TLS connections to an API
# server has 4.1 MiB of libcrypto resident, and the method stores of all
# those algorithms on its heap. This builds the same OpenSSL -- Debian's
# source package of the version its libssl3 is in the release the image is
# based on (security updates included), or of the Debian VERSION given,
# with Debian's patches, Debian's build target and compiler flags,
# OPENSSLDIR /usr/lib/ssl as Debian's -- as static libraries under PREFIX,
# without what such a client never uses. When the archive mirror holds
# that version's upstream tarball but not its Debian parts, the upstream
# release is built as it is (with OpenSSL's own target), never an older
# Debian version, which would lack security fixes.
#
# Kept: TLS 1.2 and 1.3 (client and server code: libssl has no client-only
# build), ECDHE over X25519, P-256 and P-384 (and the other curves the
# default provider always has), AES-GCM, AES-CBC and ChaCha20-Poly1305,
# RSA, RSA-PSS, ECDSA and Ed25519 keys and certificates (PEM, DER, PKCS#8,
# PKCS#1, SEC1), X.509 verification, SHA-1/SHA-2/SHA-3, HMAC, HKDF, the
# TLS PRFs, the DRBGs, error strings. Left out:
#
#   no-legacy no-module no-dso no-engine   no legacy provider, nothing
#       loaded at run time (no provider modules, no engines); an
#       openssl.cnf asking for one is a configuration error
#   no-deprecated   the APIs deprecated up to 3.0: curl builds without
#       them, smi-bridge does not use them
#   no-ssl3 no-tls1 no-tls1_1 (and their -method)   every API server
#       speaks TLS 1.2 or 1.3; Go's client (kubectl's) offers nothing older
#   no-dtls no-dgram no-sctp no-srtp   datagram TLS
#   no-dh   finite-field Diffie-Hellman: the TLS 1.2 DHE suites and the
#       TLS 1.3 ffdhe groups; Go's TLS server (kube-apiserver) offers
#       neither, ECDHE is always there
#   no-dsa no-ec2m no-gost no-sm2 no-sm3 no-sm4 no-des no-idea no-seed
#   no-camellia no-aria no-bf no-cast no-rc2 no-rc4 no-rc5 no-md4 no-mdc2
#   no-rmd160 no-whirlpool no-blake2 no-siphash no-cmac no-ocb no-siv
#   no-scrypt   algorithms no TLS 1.2/1.3 suite, kube-apiserver or
#       kubeconfig uses (legacy DES- or RC2-encrypted keys and PKCS#12 files
#       with them no longer load: a kubeconfig holds plain PEM keys)
#   no-psk no-srp   pre-shared-key and SRP logins (TLS 1.3 session
#       resumption is not affected)
#   no-nextprotoneg   NPN; curl uses ALPN
#   no-ocsp no-ct no-cms no-ts no-cmp no-comp   OCSP stapling checks,
#       certificate transparency, CMS/S-MIME, time stamps, CMP, TLS
#       compression: smi-bridge asks for none of them
#   no-async no-ui-console no-multiblock   async jobs (engines), password
#       prompts, the multi-block AES-CBC write path of TLS servers
#   no-filenames   source file names in the error queue (curl's messages
#       carry the error strings, which stay)
#   no-tests   and only the libraries and headers are built and installed
#
# Debian also enables ec_nistp_64_gcc_128 (faster P-224 and P-521); not
# here: P-256 has its own assembler code, P-384 and P-521 still work.
#
# Every function and variable gets a section of its own (-ffunction-sections
# -fdata-sections), so the final link (--gc-sections, Dockerfile) drops
# what the program does not reach: about 0.4 MB of the binary.
#
# Installs PREFIX/lib/lib{ssl,crypto}.a, PREFIX/include, the .pc files
# (openssl.pc for CMake's pkg_check_modules) and
# PREFIX/share/doc/openssl/copyright (Debian's copyright file with the
# Apache License 2.0 it refers to appended), for the runtime image.
set -eu

prefix=${1:?usage: build-openssl.sh PREFIX [VERSION]}
version=${2:-}
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'cd / && rm -rf "$work"' EXIT

# The OpenSSL Debian's own libssl3 of this release is (security updates
# included), unless VERSION names another Debian version.
bin=$(dpkg-query -W -f '${Version}' libssl3 2>/dev/null || true)
[ -n "$version" ] || version=$bin
[ -n "$version" ] || {
  echo "build-openssl: libssl3 is not installed; pass the Debian VERSION" >&2
  exit 1
}
if src=$(sh "$here/debian-source.sh" openssl "$work/deb" "$version" \
    2>"$work/source.err"); then
  debversion=$(dpkg-parsechangelog -l "$src/debian/changelog" -S Version)
  # Debian's target (debian-amd64, ...: its -D and -W flags, security
  # level 2 by default).
  target="debian-$(dpkg-architecture -qDEB_HOST_ARCH)"
else
  # An archive mirror can hold a version's upstream tarball without its
  # Debian parts. Falling back to an older Debian version would drop
  # security fixes, so the upstream release that version packages is
  # built instead, from Debian's tarball (checked against the signed
  # index), with OpenSSL's own target for this machine.
  echo "build-openssl: Debian's openssl $version source package is" \
    "incomplete on the archive mirror; building the upstream release it" \
    "packages without Debian's patches" >&2
  src=$(sh "$here/debian-source.sh" openssl "$work/orig" "$version" \
    --tar-only) || {
    cat "$work/source.err" >&2
    exit 1
  }
  debversion="$version, upstream tarball only"
  # Debian's target would also raise the default security level to 2
  # (no RSA keys under 2048 bits, no SHA-1 signatures): keep that.
  target="-DOPENSSL_TLS_SECURITY_LEVEL=2"
fi
# A VERSION older than Debian's own libssl3 lacks security fixes: say so.
if [ -n "$bin" ] && dpkg --compare-versions "$version" lt "$bin"; then
  echo "build-openssl: warning: openssl $version is older than" \
    "Debian's libssl3 $bin of this release" >&2
fi

# Debian's target (debian-amd64, ...: its -D and -W flags, security level
# 2 by default) and Debian's hardening flags. Configure takes CFLAGS in
# place of the target's optimisation flags, as debian/rules has it.
CFLAGS="$(dpkg-buildflags --get CFLAGS) -ffunction-sections -fdata-sections"
CPPFLAGS=$(dpkg-buildflags --get CPPFLAGS)
export CFLAGS CPPFLAGS
mkdir "$work/build"
cd "$work/build"
# shellcheck disable=SC2086 # $target is one word
"$src/Configure" $target \
  --prefix="$prefix" --openssldir=/usr/lib/ssl --libdir=lib \
  no-shared no-tests \
  no-legacy no-module no-dso no-engine no-deprecated \
  no-ssl3 no-ssl3-method no-tls1 no-tls1-method no-tls1_1 no-tls1_1-method \
  no-dtls no-dgram no-sctp no-srtp \
  no-dh no-dsa no-ec2m no-gost no-sm2 no-sm3 no-sm4 \
  no-des no-idea no-seed no-camellia no-aria no-bf no-cast \
  no-rc2 no-rc4 no-rc5 no-md4 no-mdc2 no-rmd160 no-whirlpool no-blake2 \
  no-siphash no-cmac no-ocb no-siv no-scrypt \
  no-psk no-srp no-nextprotoneg \
  no-ocsp no-ct no-cms no-ts no-cmp no-comp \
  no-async no-ui-console no-multiblock no-filenames \
  >"$work/configure.log" 2>&1 || {
  tail -n 30 "$work/configure.log" >&2
  echo "build-openssl: configuring OpenSSL failed" >&2
  exit 1
}
make -j"$(nproc)" build_libs >"$work/build.log" 2>&1 || {
  tail -n 30 "$work/build.log" >&2
  echo "build-openssl: building OpenSSL failed" >&2
  exit 1
}
make install_dev >"$work/install.log" 2>&1 || {
  tail -n 30 "$work/install.log" >&2
  echo "build-openssl: installing OpenSSL failed" >&2
  exit 1
}
# Static only: nothing may link a shared libcrypto by accident.
if ls "$prefix/lib/"*.so* >/dev/null 2>&1; then
  echo "build-openssl: shared libraries in $prefix/lib" >&2
  exit 1
fi

mkdir -p "$prefix/share/doc/openssl"
{
  if [ -f "$src/debian/copyright" ]; then
    cat "$src/debian/copyright"
    printf '\n%s\n\n' '--- LICENSE.txt (Apache License 2.0) ---'
  fi
  cat "$src/LICENSE.txt"
} >"$prefix/share/doc/openssl/copyright"

upstream=$(sed -n 's/^Version: *//p' "$prefix/lib/pkgconfig/openssl.pc")
echo "build-openssl: OpenSSL $upstream (Debian $debversion), static, TLS 1.2/1.3 client subset, in $prefix"
