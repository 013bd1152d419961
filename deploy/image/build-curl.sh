#!/bin/sh
# build-curl.sh -- a static libcurl with only what smi-bridge uses.
#
#   build-curl.sh PREFIX OPENSSL
#
# Runs in the Dockerfile's deps stage, after build-openssl.sh has put a
# static OpenSSL under OPENSSL. Debian's libcurl is built for every
# program on the system: besides HTTP/2 and OpenSSL it links GnuTLS (for
# RTMP), LDAP, Kerberos, SSH, IDN, PSL, brotli and zstd, 27 libraries that
# smi-bridge never calls but that every process using it maps, relocates
# and ships. This builds the same libcurl -- Debian's source package for the
# release the image is based on, with Debian's patches, security fixes
# included (debian-source.sh) -- with HTTP and HTTPS only (proxies, HTTP/2
# through nghttp2, TLS through the OpenSSL under OPENSSL, gzip through
# zlib: the API server compresses large list responses), as a static
# library under PREFIX, plus:
#
#   PREFIX/lib/pkgconfig/libcurl.pc   naming the libraries it needs, so
#                                     CMake links it like the shared one
#                                     (OpenSSL through openssl.pc: the
#                                     builder's PKG_CONFIG_PATH has both)
#   PREFIX/share/doc/curl/copyright   its licence, for the runtime image
#
# Without NTLM, which needs DES, left out of that OpenSSL; smi-bridge never
# asks for it (nor can Go's Kubernetes clients). The image then loads
# libnghttp2 and libz instead of libcurl and its 27 dependencies (about
# 11 MB of image and 3.6 MiB of every process's resident memory,
# docs/install.md, docs/benchmarks.md), and OpenSSL is linked in as well
# (build-openssl.sh). It is compiled with
# Debian's own hardening flags (dpkg-buildflags: stack protector,
# _FORTIFY_SOURCE, RELRO), as Debian's libcurl is: it parses what comes
# from the network; and, like OpenSSL, with a section per function, so the
# final link drops what smi-bridge does not reach.
set -eu

prefix=${1:?usage: build-curl.sh PREFIX OPENSSL}
openssl=${2:?usage: build-curl.sh PREFIX OPENSSL}
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'cd / && rm -rf "$work"' EXIT

src=$(sh "$here/debian-source.sh" curl "$work")

# CMake reads CFLAGS but not CPPFLAGS, where _FORTIFY_SOURCE is.
cflags="$(dpkg-buildflags --get CPPFLAGS) $(dpkg-buildflags --get CFLAGS)"
cflags="$cflags -ffunction-sections -fdata-sections"
cmake -S "$src" -B "$work/build" -G Ninja \
  -DCMAKE_BUILD_TYPE=Release -DCMAKE_C_FLAGS="$cflags" \
  -DCMAKE_INSTALL_PREFIX="$prefix" \
  -DCMAKE_POSITION_INDEPENDENT_CODE=ON \
  -DBUILD_SHARED_LIBS=OFF -DBUILD_CURL_EXE=OFF -DBUILD_TESTING=OFF \
  -DENABLE_MANUAL=OFF \
  -DHTTP_ONLY=ON \
  -DCURL_USE_OPENSSL=ON -DOPENSSL_ROOT_DIR="$openssl" \
  -DOPENSSL_USE_STATIC_LIBS=ON -DUSE_NGHTTP2=ON -DCURL_DISABLE_NTLM=ON \
  -DCURL_DISABLE_LDAP=ON -DCURL_USE_LIBSSH2=OFF -DUSE_LIBIDN2=OFF \
  -DCURL_USE_LIBPSL=OFF -DCURL_ZLIB=ON -DCURL_BROTLI=OFF -DCURL_ZSTD=OFF \
  -DCURL_DISABLE_ALTSVC=ON -DCURL_DISABLE_COOKIES=ON \
  >"$work/configure.log" 2>&1 || {
  tail -n 30 "$work/configure.log" >&2
  echo "build-curl: configuring curl failed" >&2
  exit 1
}
cmake --build "$work/build" >"$work/build.log" 2>&1 || {
  tail -n 30 "$work/build.log" >&2
  echo "build-curl: building curl failed" >&2
  exit 1
}
# What smi-bridge relies on, checked rather than trusted: without zlib
# the client would quietly stop asking for gzip (and still pass every
# test), without nghttp2 it would fall back to HTTP/1.1.
for feature in HAVE_LIBZ USE_NGHTTP2 USE_OPENSSL; do
  grep -q "^#define $feature 1" "$work/build/lib/curl_config.h" || {
    echo "build-curl: curl was configured without $feature" >&2
    exit 1
  }
done
# ... and with that static OpenSSL, not a shared one found elsewhere.
for lib in SSL:libssl CRYPTO:libcrypto; do
  grep -qx "OPENSSL_${lib%%:*}_LIBRARY:FILEPATH=$openssl/lib/${lib#*:}.a" \
    "$work/build/CMakeCache.txt" || {
    echo "build-curl: curl was configured without $openssl/lib/${lib#*:}.a" >&2
    exit 1
  }
done
cmake --install "$work/build" >/dev/null

# curl's own .pc lists its dependencies as absolute paths, which CMake's
# pkg_check_modules does not put on the link line; name them instead,
# OpenSSL through its own .pc (after libcurl on the link line, as a static
# link needs).
version=$(sed -n 's/^Version: *//p' "$prefix/lib/pkgconfig/libcurl.pc")
cat >"$prefix/lib/pkgconfig/libcurl.pc" <<PC
prefix=$prefix
libdir=\${prefix}/lib
includedir=\${prefix}/include

Name: libcurl
Description: libcurl, HTTP and HTTPS only (HTTP/2 via nghttp2, OpenSSL, zlib), static
Version: $version
Requires: openssl
Libs: -L\${libdir} -lcurl -lnghttp2 -lz -lpthread
Cflags: -I\${includedir} -DCURL_STATICLIB
PC

mkdir -p "$prefix/share/doc/curl"
cp "$src/debian/copyright" "$prefix/share/doc/curl/copyright"

echo "build-curl: libcurl $version (HTTP, HTTPS; HTTP/2; OpenSSL; gzip) in $prefix"
