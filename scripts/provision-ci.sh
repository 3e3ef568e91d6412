#!/usr/bin/env bash
# Provision every service the integration tests need, then write the file the test suite reads:
#
#   scripts/provision-ci.sh [ENV_FILE]        (default /tmp/proj-ci-services.env)
#   . /tmp/proj-ci-services.env               (exports PROJ_TEST_* for pytest)
#
#   PROJ_PROVISION    comma list of services to provision (default docker,mlflow,slurm)
#   SLURM_ACCOUNTING  1 = Slurm with slurmdbd + MariaDB (sacct works); default 0
#   plus the knobs of the individual scripts (MLFLOW_PORT, MLFLOW_VENV, ...).
#
# Order: one `apt-get update`, one `apt-get install` of every Debian package needed, then the
# MLflow virtualenv + server in the background (the slowest step, mostly network and unpacking)
# while dockerd starts, the test images build and Slurm comes up in the foreground.
# Every step is idempotent, so a second run takes about a second.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$HERE/lib.sh"

ENV_FILE=${1:-/tmp/proj-ci-services.env}
SERVICES=",${PROJ_PROVISION:-docker,mlflow,slurm},"
want() { [[ $SERVICES == *",$1,"* ]]; }

# ---- Debian packages, in one go
pkgs=(curl chromium)  # chromium: the browser tests of `proj ui` (tests/ui/test_browser.py)
want docker && pkgs+=(docker.io)
want slurm && pkgs+=(slurmctld slurmd slurm-client munge)
want slurm && [ "${SLURM_ACCOUNTING:-0}" = 1 ] && pkgs+=(slurmdbd mariadb-server)
missing=()
for p in "${pkgs[@]}"; do proj_have_pkgs "$p" || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
    t=${EPOCHREALTIME}
    apt-get update >>/var/log/proj-apt.log 2>&1 || proj_fail "apt-get update" /var/log/proj-apt.log
    proj_apt_install "${missing[@]}"
    echo "  apt: installed ${missing[*]} in $(proj_since "$t") s"
fi

# ---- MLflow in the background: its own output file, checked at the end
mlflow_out=$(mktemp /tmp/proj-provision-mlflow.XXXXXX)
mlflow_pid=
if want mlflow; then
    ( "$HERE/mlflow-up.sh" && "$HERE/mlflow-wheelhouse.sh" ) >"$mlflow_out" 2>&1 &
    mlflow_pid=$!
fi
trap 'rm -f "$mlflow_out"' EXIT

# ---- docker + images, slurm: in the foreground
if want docker; then
    "$HERE/docker-up.sh" | sed 's/^/  /'
    "$HERE/build-test-images.sh" | sed 's/^/  /'
fi
if want slurm; then
    "$HERE/slurm-up.sh" | sed 's/^/  /'
fi

if [ -n "$mlflow_pid" ]; then
    if ! wait "$mlflow_pid"; then
        cat "$mlflow_out" >&2
        proj_fail "mlflow provisioning failed"
    fi
    sed 's/^/  /' "$mlflow_out"
fi

# ---- the file the test suite reads (written atomically)
tmp_env=$(mktemp "${ENV_FILE}.XXXXXX")
{
    echo "# Written by scripts/provision-ci.sh on $(date -u +%Y-%m-%dT%H:%M:%SZ); source it before pytest."
    if want mlflow; then
        echo "export PROJ_TEST_MLFLOW_URI=http://127.0.0.1:${MLFLOW_PORT:-5055}"
        echo "export PROJ_TEST_MLFLOW_PYTHON=${MLFLOW_VENV:-/opt/proj-ci/mlflow-venv}/bin/python"
        echo "export PROJ_TEST_MLFLOW_WHEELHOUSE=${MLFLOW_WHEELHOUSE:-/opt/proj-ci/wheelhouse/mlflow-skinny}"
    fi
    if want docker; then
        echo "export PROJ_TEST_DOCKER_IMAGE=${PROJ_TEST_DOCKER_IMAGE:-proj-test-python:3.11}"
        echo "export PROJ_TEST_BUSYBOX_IMAGE=${PROJ_TEST_BUSYBOX_IMAGE:-proj-test-busybox:latest}"
    fi
    if want slurm; then
        echo "export PROJ_TEST_SLURM_PARTITION=debug"
        echo "export PROJ_TEST_SLURM_ACCOUNTING=${SLURM_ACCOUNTING:-0}"
    fi
} >"$tmp_env"
chmod 644 "$tmp_env"
mv "$tmp_env" "$ENV_FILE"

services=${SERVICES#,}; services=${services%,}
proj_ok "provisioned ${services} -> ${ENV_FILE}"
