#!/usr/bin/env bash
# Download mlflow-skinny==3.17.2 and all its dependencies as wheels into a local folder, so tests
# can build a project environment that can `import mlflow` without touching an index:
#   uv pip install --no-index --find-links "$PROJ_TEST_MLFLOW_WHEELHOUSE" mlflow-skinny==3.17.2
#
#   MLFLOW_WHEELHOUSE  target folder (default /opt/proj-ci/wheelhouse/mlflow-skinny)
#   PYTHON             interpreter whose tags the wheels must match (default python3)
# Idempotent: a folder completed earlier (marker file) is kept.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

VERSION=3.17.2
DEST=${MLFLOW_WHEELHOUSE:-/opt/proj-ci/wheelhouse/mlflow-skinny}
PYTHON=${PYTHON:-python3}
LOG=/var/log/proj-mlflow-wheelhouse.log
MARKER=$DEST/.complete-mlflow-skinny-$VERSION

count_wheels() { local w=("$DEST"/*.whl); echo "${#w[@]}"; }

if [ -f "$MARKER" ] && compgen -G "$DEST/mlflow_skinny-${VERSION}-*.whl" >/dev/null; then
    proj_ok "wheelhouse ${DEST} already complete ($(count_wheels) wheels)"
    exit 0
fi

# Download into a temporary sibling folder and move it into place only when complete.
mkdir -p "$(dirname "$DEST")"
TMP=$(mktemp -d "${DEST}.tmp.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
# --only-binary: a project env must install offline without compiling anything.
"$PYTHON" -m pip download --only-binary=:all: -d "$TMP" "mlflow-skinny==${VERSION}" >"$LOG" 2>&1 \
    || proj_fail "pip download mlflow-skinny==${VERSION}" "$LOG"
touch "$TMP/.complete-mlflow-skinny-$VERSION"
rm -rf "$DEST"
mv "$TMP" "$DEST"
trap - EXIT
chmod 755 "$DEST"
proj_ok "wheelhouse ${DEST}: $(count_wheels) wheels, $(du -sh "$DEST" | cut -f1)"
