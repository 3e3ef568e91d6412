#!/usr/bin/env bash
# Download the MLflow clients the tests install into project environments, with all their
# dependencies, as wheels into one local folder, so a test can build an environment that can
# `import mlflow` without touching an index:
#   uv pip install --no-index --find-links "$PROJ_TEST_MLFLOW_WHEELHOUSE" mlflow-skinny==3.17.2
#
# The sets (one line each below): mlflow-skinny 3.17.2 (the server's version), mlflow-skinny 2.22
# (the last MLflow 2 line), and what the tests' training code logs with them: scikit-learn, and
# skops (MLflow 3 saves scikit-learn models with it) and pandas (mlflow.sklearn imports it).
#
#   MLFLOW_WHEELHOUSE  target folder (default /opt/proj-ci/wheelhouse/mlflow-skinny)
#   PYTHON             interpreter whose tags the wheels must match (default python3)
# Idempotent: each set completed earlier (its marker file) is kept; a new set only adds wheels,
# so tests reading the folder meanwhile never see it half-replaced.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

SETS=(
    "mlflow-skinny==3.17.2"
    "mlflow-skinny==2.22.5"
    "scikit-learn>=1.3,<2 skops pandas"
)
DEST=${MLFLOW_WHEELHOUSE:-/opt/proj-ci/wheelhouse/mlflow-skinny}
PYTHON=${PYTHON:-python3}
LOG=/var/log/proj-mlflow-wheelhouse.log

count_wheels() { local w=("$DEST"/*.whl); echo "${#w[@]}"; }
marker_of() { echo "$DEST/.complete-$(echo "$1" | tr -c 'A-Za-z0-9.=\n-' '_')"; }

mkdir -p "$DEST"
chmod 755 "$DEST"
added=0
for set in "${SETS[@]}"; do
    [ -f "$(marker_of "$set")" ] && continue
    TMP=$(mktemp -d "${DEST}.tmp.XXXXXX")
    trap 'rm -rf "$TMP"' EXIT
    # --only-binary: a project environment must install offline without compiling anything.
    # shellcheck disable=SC2086  # a set is several requirements
    "$PYTHON" -m pip download --only-binary=:all: -d "$TMP" $set >"$LOG" 2>&1 \
        || proj_fail "pip download $set" "$LOG"
    for wheel in "$TMP"/*.whl; do  # each wheel appears whole: copied beside, then renamed
        name=$(basename "$wheel")
        [ -f "$DEST/$name" ] && continue
        cp "$wheel" "$DEST/.$name.part" && mv "$DEST/.$name.part" "$DEST/$name"
        added=$((added + 1))
    done
    rm -rf "$TMP"
    trap - EXIT
    touch "$(marker_of "$set")"
done
proj_ok "wheelhouse ${DEST}: $(count_wheels) wheels (${added} new), $(du -sh "$DEST" | cut -f1)"
