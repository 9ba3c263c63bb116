#!/usr/bin/env bash
# Make a Docker engine answer for the `docker` tests; do nothing when one already does.
#
# Installs docker.io and debootstrap when missing (Debian/Ubuntu), starts dockerd in
# the background with the overlay2 storage driver, falls back to vfs when the kernel
# refuses overlay2, and waits until `docker info` answers (DLDOCTOR_DOCKERD_TIMEOUT s).
# Safe to run twice. The engine's log goes to $DLDOCTOR_DOCKERD_LOG.
set -euo pipefail

timeout_s="${DLDOCTOR_DOCKERD_TIMEOUT:-60}"
log="${DLDOCTOR_DOCKERD_LOG:-/tmp/dldoctor-dockerd.log}"
sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 || { echo "dockerd.sh: need root or sudo" >&2; exit 1; }
    sudo_cmd=(sudo -n)
fi

engine_answers() { timeout 10 docker info >/dev/null 2>&1; }

if command -v docker >/dev/null 2>&1 && engine_answers; then
    echo "== docker: an engine already answers"
    exit 0
fi

missing=()
command -v dockerd >/dev/null 2>&1 || missing+=(docker.io)
command -v debootstrap >/dev/null 2>&1 || missing+=(debootstrap)
if [ "${#missing[@]}" -gt 0 ]; then
    echo "== docker: installing ${missing[*]}"
    "${sudo_cmd[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# Wait for the engine; return 1 as soon as the dockerd we started has died.
wait_for_engine() {
    local pid="$1" waited=0
    while [ "$waited" -lt "$timeout_s" ]; do
        engine_answers && return 0
        kill -0 "$pid" 2>/dev/null || return 1
        sleep 1
        waited=$((waited + 1))
    done
    return 1
}

for driver in overlay2 vfs; do
    echo "== docker: starting dockerd (storage driver $driver, log $log)"
    # setsid: the engine outlives this script and the CI step that ran it.
    "${sudo_cmd[@]}" setsid dockerd --storage-driver "$driver" >>"$log" 2>&1 < /dev/null &
    pid=$!
    if wait_for_engine "$pid"; then
        echo "== docker: engine up ($(docker version --format '{{.Server.Version}}' 2>/dev/null), $driver)"
        exit 0
    fi
    echo "== docker: dockerd with $driver did not answer; last log lines:" >&2
    tail -n 5 "$log" >&2 || true
    # Only the dockerd started above is stopped, by its id.
    "${sudo_cmd[@]}" kill "$pid" 2>/dev/null || true
    sleep 2
done
echo "dockerd.sh: no Docker engine after ${timeout_s}s with overlay2 or vfs; see $log" >&2
exit 1
