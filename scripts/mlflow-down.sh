#!/usr/bin/env bash
# Stop the MLflow server started by scripts/mlflow-up.sh (same MLFLOW_DATA_DIR), by its pid file.
# The server runs in its own session, so its whole process group (the `mlflow server` parent and
# its uvicorn worker) gets SIGTERM, then SIGKILL after 15 s. Idempotent. Data is kept;
# pass --purge to delete the data dir (sqlite db + artifacts) as well.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

DATA=${MLFLOW_DATA_DIR:-/tmp/proj-mlflow}
PIDFILE=$DATA/server.pid

note="not running"
if proj_pid_alive "$PIDFILE" mlflow; then
    pid=$(cat "$PIDFILE")
    kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
    for (( i = 0; i < 150; i++ )); do
        # done when no process of the group is left
        proj_group_alive "$pid" || break
        sleep 0.1
    done
    if proj_group_alive "$pid"; then
        kill -KILL -- "-$pid" 2>/dev/null || true
        note="stopped pid $pid (needed SIGKILL)"
    else
        note="stopped pid $pid"
    fi
fi
rm -f "$PIDFILE"
if [ "${1:-}" = --purge ]; then
    rm -rf "$DATA"
    note="$note; removed $DATA"
fi
proj_ok "mlflow server: $note"
