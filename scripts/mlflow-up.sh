#!/usr/bin/env bash
# Start a real MLflow tracking server on 127.0.0.1 for the integration tests.
#
#   MLFLOW_VENV      virtualenv holding mlflow            (default /opt/proj-ci/mlflow-venv)
#   MLFLOW_PORT      port                                 (default 5055)
#   MLFLOW_DATA_DIR  sqlite db, artifacts, pid file, log  (default /tmp/proj-mlflow)
#   MLFLOW_UP_TIMEOUT seconds to wait for the server      (default 90)
#
# - creates the virtualenv with mlflow==3.17.2 (exactly: newer releases do not install here)
#   unless it is already complete; installs with uv when it can (seconds), else pip (~1 min);
# - starts `mlflow server` in its own session (so scripts/mlflow-down.sh can stop the server and
#   its uvicorn worker together) with the sqlite backend and proxied artifacts under the data dir;
# - waits for /health and the REST API, then checks artifact proxying with a PUT/GET/DELETE
#   through /api/2.0/mlflow-artifacts/artifacts/...;
# - prints the tracking URI. Idempotent: a server already answering on the port is left alone.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

MLFLOW_VERSION=3.17.2
VENV=${MLFLOW_VENV:-/opt/proj-ci/mlflow-venv}
PORT=${MLFLOW_PORT:-5055}
DATA=${MLFLOW_DATA_DIR:-/tmp/proj-mlflow}
TIMEOUT=${MLFLOW_UP_TIMEOUT:-90}
PYTHON=${PYTHON:-python3}
URL=http://127.0.0.1:${PORT}
PIDFILE=$DATA/server.pid
LOG=$DATA/server.log
INSTALL_LOG=/var/log/proj-mlflow-venv.log
MARKER=$VENV/.proj-mlflow-${MLFLOW_VERSION}-ok     # written only after a verified install

mkdir -p "$DATA"
DATA=$(cd "$DATA" && pwd)                            # the server wants absolute paths
command -v curl >/dev/null || proj_apt_install curl

healthy() { curl -sf --max-time 2 "$URL/health" >/dev/null; }
api_ready() { curl -sf --max-time 5 "$URL/api/2.0/mlflow/experiments/search?max_results=1" >/dev/null; }

# ---- fast path: a server already answers on this port
if healthy && api_ready; then
    if proj_pid_alive "$PIDFILE" mlflow; then
        proj_ok "mlflow server already running at ${URL} (pid $(cat "$PIDFILE"))"
    else
        proj_ok "a server already answers at ${URL} (not started by this script)"
    fi
    exit 0
fi

# ---- the virtualenv
venv_ok() {
    [ -f "$MARKER" ] && [ -x "$VENV/bin/mlflow" ] &&
        [ "$("$VENV/bin/python" -c 'import importlib.metadata as m; print(m.version("mlflow"))' 2>/dev/null)" = "$MLFLOW_VERSION" ]
}
venv_note="venv ready"
if ! venv_ok; then
    t=${EPOCHREALTIME}
    rm -rf "$VENV"                                   # incomplete or other version: start over
    mkdir -p "$(dirname "$VENV")"
    : >"$INSTALL_LOG"
    "$PYTHON" -m venv "$VENV" >>"$INSTALL_LOG" 2>&1 || proj_fail "python -m venv $VENV" "$INSTALL_LOG"
    # uv resolves and installs mlflow's ~90 packages in seconds; pip takes about a minute.
    UV=$(command -v uv || true)
    if [ -z "$UV" ] && "$VENV/bin/pip" install -q uv >>"$INSTALL_LOG" 2>&1; then
        UV=$VENV/bin/uv
    fi
    if [ -n "$UV" ] && "$UV" pip install --compile-bytecode --python "$VENV/bin/python" "mlflow==${MLFLOW_VERSION}" \
            >>"$INSTALL_LOG" 2>&1; then
        how=uv
    else
        echo "--- uv unavailable or failed; falling back to pip" >>"$INSTALL_LOG"
        "$VENV/bin/pip" install "mlflow==${MLFLOW_VERSION}" >>"$INSTALL_LOG" 2>&1 \
            || proj_fail "pip install mlflow==${MLFLOW_VERSION}" "$INSTALL_LOG"
        how=pip
    fi
    "$VENV/bin/python" -c 'import mlflow, mlflow.server' >>"$INSTALL_LOG" 2>&1 \
        || proj_fail "mlflow installed but does not import" "$INSTALL_LOG"
    touch "$MARKER"
    venv_note="venv installed with ${how} in $(proj_since "$t") s"
fi

# ---- the server
if ! proj_pid_alive "$PIDFILE" mlflow; then
    t=${EPOCHREALTIME}
    [ -s "$PIDFILE" ] && rm -f "$PIDFILE"
    # Something else on the port would make our server die at bind time: say so clearly.
    if curl -s --max-time 2 -o /dev/null "$URL/" 2>/dev/null; then
        proj_fail "port ${PORT} is taken by something that is not a healthy mlflow server"
    fi
    mkdir -p "$DATA/artifacts"
    : >"$LOG"
    # Run from the data dir (keeps stray ./mlruns etc. out of the caller's cwd), in its own
    # session. Job execution would start extra worker machinery (huey) the tests do not need.
    cd "$DATA"
    MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false proj_spawn "$LOG" "$VENV/bin/mlflow" server \
        --host 127.0.0.1 --port "$PORT" \
        --backend-store-uri "sqlite:///${DATA}/mlflow.db" \
        --artifacts-destination "${DATA}/artifacts" \
        --workers 1
    cd - >/dev/null
    echo "$PROJ_SPAWNED_PID" >"$PIDFILE"
    PROJ_WAIT_PID=$PROJ_SPAWNED_PID
    rc=0
    proj_wait_for "$TIMEOUT" healthy || rc=$?
    [ $rc = 2 ] && proj_fail "mlflow server exited during startup" "$LOG"
    [ $rc = 0 ] || proj_fail "mlflow server did not answer ${URL}/health within ${TIMEOUT}s" "$LOG"
    proj_wait_for 30 api_ready || proj_fail "mlflow REST API not answering at ${URL}" "$LOG"
    start_note="server started in $(proj_since "$t") s"
else
    # our server is alive but not healthy yet (started a moment ago by another call): wait
    PROJ_WAIT_PID=$(cat "$PIDFILE")
    proj_wait_for "$TIMEOUT" api_ready || proj_fail "mlflow server (pid $PROJ_WAIT_PID) not answering" "$LOG"
    start_note="server was starting"
fi

# ---- artifact proxying: PUT, GET back, DELETE a small file
probe=_proj_probe/probe-$$.txt
body="proj artifact probe $$"
curl -sf --max-time 10 -X PUT --data-binary "$body" "$URL/api/2.0/mlflow-artifacts/artifacts/$probe" \
    >/dev/null || proj_fail "artifact PUT through the proxy failed" "$LOG"
got=$(curl -sf --max-time 10 "$URL/api/2.0/mlflow-artifacts/artifacts/$probe") \
    || proj_fail "artifact GET through the proxy failed" "$LOG"
[ "$got" = "$body" ] || proj_fail "artifact read back differs: '$got'" "$LOG"
curl -sf --max-time 10 -X DELETE "$URL/api/2.0/mlflow-artifacts/artifacts/$probe" >/dev/null || true

proj_ok "mlflow ${MLFLOW_VERSION} at ${URL} (${venv_note}; ${start_note}; artifact proxy ok; data ${DATA})"
