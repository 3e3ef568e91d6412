#!/usr/bin/env bash
# Install everything the test suite needs and run all of it: the services (Docker daemon and test
# images, an MLflow server, Slurm), proj with its test extras, then pytest.
#
#   bash scripts/test-all.sh [PYTEST ARGS...]
#
# Integration tests skip when their service is missing; set PROJ_REQUIRE=docker,mlflow,... to make
# a missing service a failure instead (.ci/run requires all of them).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

services_env=/tmp/proj-ci-services.env
bash scripts/provision-ci.sh "$services_env"
# shellcheck source=/dev/null
. "$services_env"

python3 -m pip install --quiet --disable-pip-version-check -e '.[test]'
exec python3 -m pytest "$@"
