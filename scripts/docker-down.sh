#!/usr/bin/env bash
# Stop the Docker daemon started by scripts/docker-up.sh, by dockerd's own pid file
# (/var/run/docker.pid). Its managed containerd exits with it. Images and containers are kept
# under /var/lib/docker. Idempotent.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PIDFILE=/var/run/docker.pid
if proj_pid_alive "$PIDFILE" dockerd; then
    pid=$(cat "$PIDFILE")
    # dockerd stops running containers first (10 s grace each), so allow it some time.
    proj_stop_pidfile "$PIDFILE" 30
    proj_ok "dockerd (pid $pid) stopped"
else
    proj_ok "dockerd not running"
fi
