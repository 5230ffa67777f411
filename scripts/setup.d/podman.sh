#!/usr/bin/env bash
# Starts podman's Docker-compatible API for the Docker adapter's tests (tests/docker/) and
# builds the local images they use. Idempotent: a running service and existing images are
# kept. Installs nothing (scripts/apt-packages.txt lists podman and friends).
#
#   CHAOSHUB_PODMAN_DIR   where everything lives (default /tmp/chaoshub-podman):
#     containers.conf     selected with CONTAINERS_CONF (runc, cgroupfs, file events)
#     root/ run/ tmp/     podman's storage, run root and temp folder
#     podman.sock         the API socket (the tests read $DIR/docker-host for its URL)
#     service.log         the service's output
#
# Images (no registry is reachable, so they are built from this machine's binaries):
#   localhost/chaoshub-busybox:latest   busybox applets only: the containers faults hit
#   localhost/chaoshub-tools:latest     busybox + tc + iptables + stress-ng: the helper and
#                                       stress images the adapter runs beside a target
set -euo pipefail

DIR=${CHAOSHUB_PODMAN_DIR:-/tmp/chaoshub-podman}
SOCK="$DIR/podman.sock"
mkdir -p "$DIR/root" "$DIR/run" "$DIR/tmp"

for tool in podman runc busybox tc iptables stress-ng; do
  command -v "$tool" >/dev/null || { echo "podman.sh: $tool is missing (see scripts/apt-packages.txt)" >&2; exit 1; }
done

cat >"$DIR/containers.conf.new" <<CONF
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=4096:4096"]

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = "$DIR/events.log"
CONF
mv "$DIR/containers.conf.new" "$DIR/containers.conf"
export CONTAINERS_CONF="$DIR/containers.conf"

podman_() {
  podman --root "$DIR/root" --runroot "$DIR/run" --tmpdir "$DIR/tmp" \
    --storage-driver overlay --cgroup-manager cgroupfs --runtime runc --events-backend file "$@"
}

ping_() { curl -sf --max-time 3 --unix-socket "$SOCK" http://d/_ping >/dev/null 2>&1; }

# -- the API service ------------------------------------------------------------------------
if ! ping_; then
  # a service of ours that no longer answers: end it, but only if that pid still is it
  old=$(cat "$DIR/service.pid" 2>/dev/null || true)
  if [ -n "$old" ] && tr '\0' ' ' <"/proc/$old/cmdline" 2>/dev/null | grep -qF "system service --time=0 unix://$SOCK"; then
    kill "$old" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$old" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$old" 2>/dev/null || true
  fi
  rm -f "$SOCK"
  setsid podman --root "$DIR/root" --runroot "$DIR/run" --tmpdir "$DIR/tmp" \
    --storage-driver overlay --cgroup-manager cgroupfs --runtime runc --events-backend file \
    system service --time=0 "unix://$SOCK" >"$DIR/service.log" 2>&1 </dev/null &
  echo $! >"$DIR/service.pid"
  for _ in $(seq 100); do ping_ && break; sleep 0.1; done
  ping_ || { echo "podman.sh: the API did not come up; see $DIR/service.log" >&2; tail -20 "$DIR/service.log" >&2; exit 1; }
fi
echo "unix://$SOCK" >"$DIR/docker-host"

# -- images ---------------------------------------------------------------------------------
# copy a binary and the shared libraries it loads into a root file system
add_binary() {
  local rootfs=$1 bin=$2
  install -D -m 0755 "$bin" "$rootfs$bin"
  ldd "$bin" 2>/dev/null | grep -oE '/[^ ]+' | while read -r lib; do
    if [ -e "$lib" ] && [ ! -e "$rootfs$lib" ]; then
      install -D -m 0755 "$(readlink -f "$lib")" "$rootfs$lib"
    fi
  done
  return 0
}

busybox_rootfs() {
  local rootfs=$1
  mkdir -p "$rootfs"/{bin,sbin,usr/bin,usr/sbin,tmp,etc,proc,sys,dev,run,var}
  install -m 0755 "$(command -v busybox)" "$rootfs/bin/busybox"
  for applet in $(busybox --list); do
    [ -e "$rootfs/bin/$applet" ] || ln -s busybox "$rootfs/bin/$applet"
  done
  chmod 1777 "$rootfs/tmp"
  echo "root:x:0:0:root:/root:/bin/sh" >"$rootfs/etc/passwd"
  echo "root:x:0:" >"$rootfs/etc/group"
}

# bump when what goes into the images changes: an image of another version is rebuilt
IMAGE_VERSION=1

build_image() {
  local name=$1 kind=$2 have
  have=$(podman_ image inspect --format '{{ index .Labels "chaoshub.image-version" }}' "$name" 2>/dev/null || true)
  if [ "$have" = "$IMAGE_VERSION" ]; then return; fi
  local work
  work=$(mktemp -d "$DIR/tmp/image.XXXXXX")
  busybox_rootfs "$work/rootfs"
  if [ "$kind" = tools ]; then
    rm -f "$work/rootfs/bin/tc" # busybox's tc knows few qdiscs; the real one is on PATH instead
    add_binary "$work/rootfs" "$(readlink -f "$(command -v tc)")"
    add_binary "$work/rootfs" "$(readlink -f "$(command -v stress-ng)")"
    local xt
    xt=$(readlink -f "$(command -v iptables)")
    add_binary "$work/rootfs" "$xt"
    ln -sf "$xt" "$work/rootfs/usr/sbin/iptables"
    # iptables loads its matches (statistic, comment...) as plug-ins
    local plugins
    plugins=$(dirname "$(find /usr/lib -name 'libxt_statistic.so' | head -1)")
    mkdir -p "$work/rootfs$plugins"
    cp -a "$plugins"/. "$work/rootfs$plugins"/
    for so in "$plugins"/*.so; do add_binary "$work/rootfs" "$so"; done
    for conf in /etc/iproute2 /etc/ethertypes /etc/protocols; do
      if [ -e "$conf" ]; then cp -a "$conf" "$work/rootfs/etc/"; fi
    done
  fi
  tar -C "$work/rootfs" -cf "$work/rootfs.tar" .
  podman_ import --change 'CMD ["/bin/sh"]' --change "LABEL chaoshub.image-version=$IMAGE_VERSION" \
    "$work/rootfs.tar" "$name" >/dev/null 2>"$work/import.log" ||
    { cat "$work/import.log" >&2; exit 1; }
  rm -rf "$work"
  podman_ image prune -f >/dev/null 2>&1 || true # the previous version, now untagged
}

build_image localhost/chaoshub-busybox:latest busybox
build_image localhost/chaoshub-tools:latest tools
echo "podman API: unix://$SOCK ($(curl -s --unix-socket "$SOCK" http://d/version | head -c 120)...)"
