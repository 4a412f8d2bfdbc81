#!/usr/bin/env bash
# docker/local-base.sh: local stand-ins for the official Temurin images that docker/Dockerfile
# starts FROM, for machines that reach no image registry (CI here). Debian bookworm from
# debootstrap, with a Java runtime made from this machine's JDK 25:
#
#   rtarget-local/temurin:25-jre   bookworm + a jlinked runtime in /opt/java/openjdk (RUNTIME_IMAGE)
#   rtarget-local/temurin:25-jdk   bookworm + the whole JDK in /opt/java/openjdk (BUILD_IMAGE; --jdk only)
#
# and tags the JRE image alpine:3.17 when no such image exists (Testcontainers looks that name up
# when it starts). Idempotent and quick when the images exist; --rebuild builds them anew.
# Needs root, debootstrap, tar and a running Docker engine. Then, for example:
#   docker build -f docker/Dockerfile --target prebuilt \
#       --build-arg RUNTIME_IMAGE=rtarget-local/temurin:25-jre -t rtarget .
set -euo pipefail

JRE_IMAGE=rtarget-local/temurin:25-jre
JDK_IMAGE=rtarget-local/temurin:25-jdk
CACHE=${RTARGET_BASE_CACHE:-/var/cache/rtarget-docker}
SUITE=bookworm
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
# What the server needs from the platform (Netty uses sun.misc.Unsafe, hence jdk.unsupported).
JRE_MODULES=java.se,jdk.unsupported,jdk.zipfs,jdk.net,jdk.management,jdk.crypto.ec,jdk.crypto.cryptoki

want_jdk=false rebuild=false
for arg in "$@"; do
  case $arg in
    --jdk) want_jdk=true ;;
    --rebuild) rebuild=true ;;
    -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
    *) echo "local-base: unknown argument $arg (--jdk, --rebuild)" >&2; exit 2 ;;
  esac
done

say() { echo "local-base: $*" >&2; }
have_image() { docker image inspect "$1" >/dev/null 2>&1; }

find_jdk() {
  local c
  for c in ${JAVA_HOME:+"$JAVA_HOME"} /usr/lib/jvm/temurin-25-jdk-amd64 /usr/lib/jvm/temurin-25* /usr/lib/jvm/*25*; do
    if [ -x "$c/bin/jlink" ] && "$c/bin/java" -version 2>&1 | grep -q '"25'; then
      echo "$c"
      return 0
    fi
  done
  return 1
}

# rootfs_tar: a minimal bookworm root file system as a tar file, made once and kept in $CACHE.
rootfs_tar() {
  local tarball="$CACHE/$SUITE-minbase.tar" dir
  if [ -s "$tarball" ] && ! $rebuild; then
    echo "$tarball"
    return 0
  fi
  command -v debootstrap >/dev/null || { say "debootstrap is missing: apt-get install debootstrap"; exit 1; }
  mkdir -p "$CACHE"
  dir=$(mktemp -d "$CACHE/rootfs.XXXXXX")
  say "debootstrap --variant=minbase $SUITE (about 30 s)"
  debootstrap --variant=minbase "$SUITE" "$dir" "$MIRROR" >"$CACHE/debootstrap.log" 2>&1 || {
    tail -20 "$CACHE/debootstrap.log" >&2
    rm -rf "$dir"
    say "debootstrap failed (log: $CACHE/debootstrap.log)"
    exit 1
  }
  rm -rf "$dir"/var/cache/apt/archives/*.deb "$dir"/var/lib/apt/lists/*
  tar -C "$dir" --numeric-owner -cf "$tarball.tmp" .
  mv "$tarball.tmp" "$tarball"
  rm -rf "$dir"
  echo "$tarball"
}

# import IMAGE JAVA_DIR: the cached root file system plus JAVA_DIR as /opt/java/openjdk.
import_image() {
  local image=$1 java_dir=$2 rootfs stage
  rootfs=$(rootfs_tar)
  stage=$(mktemp -d)
  (
    tar -C "$stage" -xf "$rootfs"
    mkdir -p "$stage/opt/java"
    cp -aL "$java_dir" "$stage/opt/java/openjdk"   # -L: a distribution JDK links cacerts to /etc
    tar -C "$stage" --numeric-owner -c . | docker import \
        --change 'ENV JAVA_HOME=/opt/java/openjdk' \
        --change 'ENV PATH=/opt/java/openjdk/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
        --change 'ENV LANG=C.UTF-8' \
        --change 'CMD ["jshell"]' \
        - "$image" >/dev/null
  ) || { rm -rf "$stage"; say "importing $image failed"; exit 1; }
  rm -rf "$stage"
  say "built $image"
}

command -v docker >/dev/null && docker info >/dev/null 2>&1 || { say "no Docker engine answers"; exit 1; }
JDK=$(find_jdk) || { say "no JDK 25 with jlink found (set JAVA_HOME)"; exit 1; }

if $rebuild || ! have_image "$JRE_IMAGE"; then
  jre=$(mktemp -d)
  rmdir "$jre"
  "$JDK/bin/jlink" --add-modules "$JRE_MODULES" --strip-debug --no-man-pages --no-header-files \
      --output "$jre"
  import_image "$JRE_IMAGE" "$jre"
  rm -rf "$jre"
fi
if $want_jdk && { $rebuild || ! have_image "$JDK_IMAGE"; }; then
  import_image "$JDK_IMAGE" "$JDK"
fi
if ! have_image alpine:3.17; then
  docker tag "$JRE_IMAGE" alpine:3.17
fi
