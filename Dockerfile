# Dockerfile -- smi-bridge's container image.
#
# `deps` + `builder` compile smi-bridge on Debian with the same
# libraries the project is developed against -- except OpenSSL and
# libcurl, which deploy/image/build-openssl.sh and build-curl.sh build
# from Debian's own source packages as static libraries: OpenSSL with
# only what a TLS 1.2/1.3 client of the API server uses, libcurl with HTTP
# and HTTPS only, so the image carries neither Debian's libcurl and the 27
# libraries it is linked with nor libssl and libcrypto -- and lays out,
# with deploy/image/stage-runtime.sh, a root file system holding only the
# stripped binary, the shared libraries it loads, the dynamic loader, the
# CA bundle and passwd/group files with the unprivileged user 65532.
# `runtime` (the default target) is that file system on scratch: no shell,
# no package manager, nothing to patch but what the binary uses. It runs as
# 65532, writes nothing, so it works with a read-only root file system.
#
# `runtime-debian` is the same binary on the Debian base, kept only to
# measure what the static layout saves (docs/install.md has the numbers).
#
#   buildah bud --build-arg VERSION=0.1.0 -t smi-bridge:0.1.0 .
#
# VERSION must be the CMake project version; the build fails when the
# binary reports another one, so the labels cannot lie. OPENSSL_VERSION
# (optional) is the Debian version of the openssl source package to build
# instead of the one Debian's libssl3 is; the build warns when it is older.

# The build dependencies on their own stage: tests/image/image.sh tags it,
# so it stays cached while the sources change.
FROM debian:bookworm-slim AS deps
ENV DEBIAN_FRONTEND=noninteractive
RUN apt-get update \
 && apt-get upgrade -y \
 && apt-get install -y --no-install-recommends \
      cmake ninja-build pkg-config gcc make perl libc6-dev dpkg-dev \
      libuv1-dev libnghttp2-dev zlib1g-dev libcjson-dev libyaml-dev \
      ca-certificates \
 && rm -rf /var/lib/apt/lists/*
# No libssl-dev: curl and smi-bridge can only find the static OpenSSL.
COPY deploy/image/debian-source.sh deploy/image/build-openssl.sh /usr/local/sbin/
ARG OPENSSL_VERSION=
RUN sh /usr/local/sbin/build-openssl.sh /opt/openssl "$OPENSSL_VERSION"
COPY deploy/image/build-curl.sh /usr/local/sbin/
RUN sh /usr/local/sbin/build-curl.sh /opt/curl /opt/openssl
FROM deps AS builder
COPY . /src
ARG VERSION
ENV PKG_CONFIG_PATH=/opt/curl/lib/pkgconfig:/opt/openssl/lib/pkgconfig
# --gc-sections drops the functions of the static libraries the binary
# never reaches; packed relative relocations (DT_RELR, glibc >= 2.36) shrink
# the relocations of OpenSSL's pointer tables from 0.33 MB to 5 kB, all of
# which the loader reads at start.
RUN test -n "$VERSION" || { echo "pass --build-arg VERSION=<project version>" >&2; exit 1; } \
 && cmake -S /src -B /build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
      -DSB_TESTS=OFF -DSB_INTEGRATION=OFF -DSB_BENCH=OFF \
      "-DCMAKE_EXE_LINKER_FLAGS=-Wl,--gc-sections -Wl,-z,pack-relative-relocs" \
 && cmake --build /build --target smi-bridge \
 && test "$(/build/smi-bridge version)" = "smi-bridge $VERSION" \
      || { echo "the binary does not report version $VERSION" >&2; exit 1; } \
 && { ! ldd /build/smi-bridge | grep -E 'lib(ssl|crypto|curl)\.so' >&2 \
      || { echo "the binary loads a shared OpenSSL or libcurl" >&2; exit 1; }; } \
 && sh /src/deploy/image/stage-runtime.sh /build/smi-bridge /rootfs \
      /opt/curl/share/doc/curl /opt/openssl/share/doc/openssl

FROM debian:bookworm-slim AS runtime-debian
ARG VERSION
RUN apt-get update \
 && apt-get upgrade -y \
 && apt-get install -y --no-install-recommends \
      libuv1 libnghttp2-14 zlib1g libcjson1 libyaml-0-2 ca-certificates \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin
COPY --from=builder /rootfs/smi-bridge /usr/bin/smi-bridge
USER 65532:65532
ENTRYPOINT ["/usr/bin/smi-bridge"]
CMD ["run"]
LABEL org.opencontainers.image.title="smi-bridge" \
      org.opencontainers.image.description="Renders SMI resources into Istio, Linkerd and Gateway API objects (Debian base variant)" \
      org.opencontainers.image.version="$VERSION"

FROM scratch AS runtime
ARG VERSION
COPY --from=builder /rootfs/ /
USER 65532:65532
ENTRYPOINT ["/smi-bridge"]
CMD ["run"]
LABEL org.opencontainers.image.title="smi-bridge" \
      org.opencontainers.image.description="Kubernetes controller that renders Service Mesh Interface resources into Istio, Linkerd and Gateway API objects" \
      org.opencontainers.image.version="$VERSION"
