#!/usr/bin/env bash
# A real Docker engine for the `docker` tests: engine, local registry, base image and wheelhouse.
#
#   scripts/docker_bootstrap.sh          (or `source` it; it then runs in its own process)
#
# 1. an engine that answers `docker info` — else Debian's docker.io is installed (as root) and dockerd started;
# 2. the base image, built WITHOUT Docker Hub: debootstrap (minbase + python3, python3-venv) + `docker import`,
#    the rootfs tarball cached under $MLOPS_CACHE (default ~/.cache/mlops);
# 3. Debian's docker-registry on 127.0.0.1:5000 (storage under .mlops/registry);
# 4. the serving wheelhouse (scripts/build_wheelhouse.sh), so builds install with `pip --no-index`.
# Idempotent and fast the second time. Never fatal for the rest of the suite: when a step fails, the reason is
# written to .mlops/docker-unavailable and the docker tests skip with it. MLOPS_SKIP_DOCKER=1 skips it all.
# Facts for the tests go to .mlops/docker.json (base image, registry, wheelhouse).
if [[ "${BASH_SOURCE[0]}" != "$0" ]]; then bash "${BASH_SOURCE[0]}" "$@"; return $?; fi
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
STATE="$ROOT/.mlops"
REASON="$STATE/docker-unavailable"
CACHE="${MLOPS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/mlops}"
BASE_IMAGE="${MLOPS_BASE_IMAGE:-mlops-base:bookworm}"
REGISTRY_ADDR="${MLOPS_REGISTRY_ADDR:-127.0.0.1:5000}"
MIRROR="${MLOPS_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
ROOTFS_TAR="$CACHE/rootfs-bookworm-minbase-python3.tar"
WHEELHOUSE="$CACHE/wheelhouse"
ENGINE_WAIT_S=60
REGISTRY_WAIT_S=20
mkdir -p "$STATE" "$CACHE"
rm -f "$REASON"
step="starting"
t0=$SECONDS

say() { printf '» docker: %s\n' "$*" >&2; }
unavailable() { printf '%s\n' "$*" > "$REASON"; say "unavailable: $*"; say "the docker tests will skip"; exit 1; }
trap 'rc=$?; [ $rc -eq 0 ] || [ -f "$REASON" ] || unavailable "$step failed (exit $rc)"' EXIT

if [ "${MLOPS_SKIP_DOCKER:-0}" = "1" ]; then unavailable "MLOPS_SKIP_DOCKER=1"; fi

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"
  elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then sudo -n "$@"
  else return 1; fi
}
can_root() { [ "$(id -u)" = 0 ] || { command -v sudo >/dev/null && sudo -n true 2>/dev/null; }; }
engine_up() { timeout 10 docker info >/dev/null 2>&1; }
PY="$ROOT/.venv/bin/python"; [ -x "$PY" ] || PY="$(command -v python3 || echo python3)"
http_ok() { timeout 5 "$PY" -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=4)' "$1" \
            >/dev/null 2>&1; }
missing_packages() {
  local p; for p in "$@"; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || echo "$p"; done
}

# --- 1. packages (only what is missing; apt-get update once) -------------------------------------------------
step="installing Debian packages"
want=()
command -v dockerd >/dev/null || want+=(docker.io)
command -v debootstrap >/dev/null || want+=(debootstrap)
command -v docker-registry >/dev/null || want+=(docker-registry)
if ! command -v docker >/dev/null && ! printf '%s\n' "${want[@]}" | grep -qx docker.io; then want+=(docker.io); fi
if [ ${#want[@]} -gt 0 ]; then
  if engine_up && [ "${want[*]}" = "docker.io" ]; then want=(); fi   # an engine elsewhere is enough for docker.io
fi
if [ ${#want[@]} -gt 0 ]; then
  can_root || unavailable "no Docker engine answers and ${want[*]} cannot be installed (not root, no sudo)"
  command -v apt-get >/dev/null || unavailable "no Docker engine answers and there is no apt-get to install ${want[*]}"
  say "installing ${want[*]} (apt-get, first run only)"
  # no service starts from postinst: we start dockerd and the registry ourselves, with our own settings
  policy_added=0
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' | as_root tee /usr/sbin/policy-rc.d >/dev/null && as_root chmod +x /usr/sbin/policy-rc.d
    policy_added=1
  fi
  export DEBIAN_FRONTEND=noninteractive
  ok=1
  as_root apt-get update -qq >"$STATE/apt.log" 2>&1 || ok=0
  [ $ok = 1 ] && { as_root apt-get install -y -qq --no-install-recommends "${want[@]}" >>"$STATE/apt.log" 2>&1 || ok=0; }
  [ $policy_added = 1 ] && as_root rm -f /usr/sbin/policy-rc.d
  [ $ok = 1 ] || unavailable "apt-get install ${want[*]} failed: $(tail -n 3 "$STATE/apt.log" | tr '\n' ' ')"
  say "installed ${want[*]} in $((SECONDS - t0)) s"
fi

# --- 2. engine -------------------------------------------------------------------------------------------------
step="starting dockerd"
start_dockerd() {  # $@: extra flags
  say "starting dockerd $* (log: $STATE/dockerd.log)"
  as_root setsid nohup dockerd --host=unix:///var/run/docker.sock "$@" >"$STATE/dockerd.log" 2>&1 < /dev/null &
  local pid=$! i
  for ((i = 0; i < ENGINE_WAIT_S * 2; i++)); do
    engine_up && return 0
    kill -0 "$pid" 2>/dev/null || return 1
    sleep 0.5
  done
  return 1
}
if ! engine_up; then
  can_root || unavailable "no Docker engine answers \`docker info\` and dockerd cannot be started (not root, no sudo)"
  if ! start_dockerd; then
    # kernels or sandboxes without NAT support: the tests use --network host and builds run without a network
    command -v pgrep >/dev/null && pgrep -x dockerd >/dev/null && unavailable "dockerd runs but does not answer; see $STATE/dockerd.log"
    start_dockerd --iptables=false --bridge=none ||
      unavailable "dockerd did not answer within ${ENGINE_WAIT_S} s: $(tail -n 3 "$STATE/dockerd.log" | tr '\n' ' ')"
  fi
fi
docker version --format '{{.Server.Version}}' >/dev/null 2>&1 ||
  unavailable "\`docker\` cannot talk to the engine (permission on /var/run/docker.sock?)"
say "engine $(docker version --format '{{.Server.Version}}') answers ($((SECONDS - t0)) s)"

# --- 3. base image: debootstrap + docker import, no Docker Hub ---------------------------------------------------
step="building the base image"
if docker image inspect "$BASE_IMAGE" >/dev/null 2>&1; then
  say "base image $BASE_IMAGE present"
else
  if [ ! -s "$ROOTFS_TAR" ]; then
    command -v debootstrap >/dev/null || unavailable "debootstrap is missing; cannot build the base image $BASE_IMAGE"
    say "debootstrap bookworm minbase + python3 (first run only, about a minute)"
    rootfs="$(mktemp -d "$CACHE/rootfs.XXXXXX")"
    if ! as_root debootstrap --variant=minbase --include=python3,python3-venv bookworm "$rootfs" "$MIRROR" \
        >"$STATE/debootstrap.log" 2>&1; then
      as_root rm -rf "$rootfs"
      unavailable "debootstrap failed: $(tail -n 3 "$STATE/debootstrap.log" | tr '\n' ' ')"
    fi
    as_root sh -c "rm -rf '$rootfs'/var/cache/apt/archives/*.deb '$rootfs'/var/lib/apt/lists/* '$rootfs'/tmp/*"
    as_root tar -C "$rootfs" --numeric-owner -cf "$ROOTFS_TAR.tmp" .
    mv "$ROOTFS_TAR.tmp" "$ROOTFS_TAR"
    as_root rm -rf "$rootfs"
  fi
  say "docker import $ROOTFS_TAR → $BASE_IMAGE"
  docker import --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV LANG=C.UTF-8' --change 'CMD ["/bin/bash"]' \
    --message "debootstrap --variant=minbase --include=python3,python3-venv bookworm" \
    "$ROOTFS_TAR" "$BASE_IMAGE" >/dev/null
fi

# --- 4. local registry ---------------------------------------------------------------------------------------------
step="starting the local registry"
if http_ok "http://$REGISTRY_ADDR/v2/"; then
  say "registry answers on $REGISTRY_ADDR"
else
  command -v docker-registry >/dev/null || unavailable "docker-registry is missing; cannot start a local registry"
  mkdir -p "$STATE/registry"
  cat > "$STATE/registry/config.yml" <<EOF
version: 0.1
log: {level: warn}
storage:
  filesystem: {rootdirectory: $STATE/registry/data}
  delete: {enabled: true}
http: {addr: $REGISTRY_ADDR}
EOF
  say "starting docker-registry on $REGISTRY_ADDR (log: $STATE/registry.log)"
  setsid nohup docker-registry serve "$STATE/registry/config.yml" >"$STATE/registry.log" 2>&1 < /dev/null &
  pid=$!
  for ((i = 0; i < REGISTRY_WAIT_S * 4; i++)); do
    http_ok "http://$REGISTRY_ADDR/v2/" && break
    kill -0 "$pid" 2>/dev/null || unavailable "docker-registry exited: $(tail -n 3 "$STATE/registry.log" | tr '\n' ' ')"
    sleep 0.25
  done
  http_ok "http://$REGISTRY_ADDR/v2/" || unavailable "the registry did not answer on $REGISTRY_ADDR in ${REGISTRY_WAIT_S} s"
fi

# --- 5. wheelhouse of the serving runtime's dependencies -------------------------------------------------------------
step="building the wheelhouse"
if ! "$ROOT/scripts/build_wheelhouse.sh" "$WHEELHOUSE" >"$STATE/wheelhouse.log" 2>&1; then
  unavailable "building the wheelhouse failed: $(tail -n 3 "$STATE/wheelhouse.log" | tr '\n' ' ')"
fi

printf '{"base_image": "%s", "registry": "%s", "wheelhouse": "%s"}\n' \
  "$BASE_IMAGE" "$REGISTRY_ADDR" "$WHEELHOUSE" > "$STATE/docker.json"
say "ready in $((SECONDS - t0)) s: base $BASE_IMAGE, registry $REGISTRY_ADDR, wheelhouse $WHEELHOUSE"
