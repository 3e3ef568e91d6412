#!/usr/bin/env bash
# Make a Docker daemon answer on the default socket (/var/run/docker.sock).
#
# - installs Debian's docker.io (no recommends) when dockerd is missing;
# - starts dockerd in the background with no bridge and no iptables (this machine has no
#   outside network; containers use --network none or host only), logging to
#   $DOCKERD_LOG (default /var/log/proj-dockerd.log);
# - waits (up to $DOCKER_UP_TIMEOUT s, default 60) until `docker version` reports the server.
# Idempotent: if the daemon already answers it only says so.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

LOG=${DOCKERD_LOG:-/var/log/proj-dockerd.log}
TIMEOUT=${DOCKER_UP_TIMEOUT:-60}
PIDFILE=/var/run/docker.pid          # dockerd writes (and removes) this itself

server_version() { docker version --format '{{.Server.Version}}' 2>/dev/null; }

# Fast path: already running and answering.
if command -v docker >/dev/null && v=$(server_version); then
    proj_ok "dockerd ${v} already running"
    exit 0
fi

command -v dockerd >/dev/null || proj_apt_install docker.io
command -v dockerd >/dev/null || proj_fail "docker.io installed but no dockerd on PATH" /var/log/proj-apt.log

# A daemon we (or someone) started may still be coming up: only start one if none is alive.
if ! proj_pid_alive "$PIDFILE" dockerd; then
    # dockerd refuses to start while its pid file names an existing process; after an unclean
    # stop that can be a zombie or an unrelated process that reused the pid.
    rm -f "$PIDFILE"
    # Same for the containerd that dockerd manages: with a stale pid file dockerd waits for a
    # containerd that is gone and fails with "timeout waiting for containerd to start".
    proj_pid_alive /var/run/docker/containerd/containerd.pid containerd \
        || rm -f /var/run/docker/containerd/containerd.pid
    # own session, output to the log, no inherited pipes: it must outlive this script
    proj_spawn "$LOG" dockerd --bridge=none --iptables=false --ip-masq=false
    PROJ_WAIT_PID=$PROJ_SPAWNED_PID
fi

rc=0
proj_wait_for "$TIMEOUT" server_version || rc=$?
case $rc in
    0) ;;
    2) proj_fail "dockerd exited during startup" "$LOG" ;;
    *) proj_fail "dockerd did not answer within ${TIMEOUT}s" "$LOG" ;;
esac
proj_ok "dockerd $(server_version) started (log ${LOG})"
