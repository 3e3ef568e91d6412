"""Projects whose own code logs with a real MLflow client, for the capture tests.

The clients come from the CI wheelhouse (scripts/mlflow-wheelhouse.sh; offline, seconds to
install): mlflow-skinny 3.17.2 and 2.22.5, with scikit-learn. Full `mlflow` comes from PyPI with
the mlflow-elasticnet example (tests marked `pypi`). Environments are built once per session in
one PROJ_HOME that the tests share (`shared_home`), so each client is installed once.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

from conftest import DATA, REPO_ROOT, require, run_id_of, run_proj
from helpers.wheels import OTHER_INDEX_VARIABLES, offline_index_env

CLASSIC = DATA / "mlflow-capture" / "classic"
EXAMPLE = REPO_ROOT / "example-projects" / "mlflow-elasticnet"
# The first command of the README, as a user types it (tests check the README still says it).
EXAMPLE_COMMAND = ("run", "example-projects/mlflow-elasticnet", "--env-manager", "uv", "-P", "alpha=0.001")
CLIENTS = {
    "skinny-3": ("mlflow-skinny==3.17.2", "scikit-learn>=1.3,<2", "skops", "pandas"),
    "skinny-2": ("mlflow-skinny==2.22.5", "scikit-learn>=1.3,<2", "pandas"),
}
VERSIONS = {"skinny-3": "3.17.2", "skinny-2": "2.22.5"}


def client_wheelhouse() -> Path:
    """The CI wheelhouse, when it holds every client set (else the test skips, or fails in CI)."""
    folder = Path(os.environ.get("PROJ_TEST_MLFLOW_WHEELHOUSE", "/opt/proj-ci/wheelhouse/mlflow-skinny"))
    wheels = {p.name.split("-")[0].lower() + "-" + p.name.split("-")[1] for p in folder.glob("*.whl")}
    missing = [w for w in ("mlflow_skinny-3.17.2", "mlflow_skinny-2.22.5") if w not in wheels]
    missing += [name for name in ("scikit_learn", "skops", "pandas") if not any(folder.glob(f"{name}-*.whl"))]
    require("mlflow", not missing, f"the wheelhouse {folder} lacks {', '.join(missing)} "
                                   "(run scripts/mlflow-wheelhouse.sh)")
    return folder


def offline_env(home: Path) -> dict[str, str]:
    """Variables for `run_proj`: the shared PROJ_HOME, and uv installing from the wheelhouse only."""
    return {"PROJ_HOME": str(home), **offline_index_env(client_wheelhouse(), home / "uv-config")}


def client_project(dest: Path, client: str) -> Path:
    """A copy of the classic project whose python_env.yaml installs `client`."""
    shutil.copytree(CLASSIC, dest)
    lines = "".join(f"  - {requirement}\n" for requirement in CLIENTS[client])
    (dest / "python_env.yaml").write_text(f'python: "3.11"\ndependencies:\n{lines}')
    return dest


def snapshot(folder: Path) -> dict[str, str]:
    """Every file and folder under `folder` with its content hash: equal snapshots, unchanged folder."""
    found = {}
    for path in sorted(folder.rglob("*")):
        relative = path.relative_to(folder).as_posix()
        if path.is_symlink():
            found[relative] = "link:" + os.readlink(path)
        elif path.is_dir():
            found[relative] = "dir"
        else:
            found[relative] = hashlib.sha256(path.read_bytes()).hexdigest()
    return found


def pypi_reachable() -> bool:
    try:
        with urllib.request.urlopen("https://pypi.org/simple/pip/", timeout=10) as response:
            return bool(response.status == 200)
    except OSError:
        return False


@dataclass(frozen=True)
class ExampleRun:
    """The README's first command, run once: mlflow-elasticnet with full mlflow from PyPI."""

    work: Path  # the folder it ran in (its default store is work/.proj)
    run_id: str
    stdout: str
    stderr: str
    env: dict[str, str]
    example_before: dict[str, str]


def run_example(base: Path) -> ExampleRun:
    """Run the README's first command from a copy of the repository's layout (the example itself
    is used in place, so the test can show it is left untouched)."""
    require("pypi", pypi_reachable(), "https://pypi.org cannot be reached")
    work = base / "work"
    (work / "example-projects").mkdir(parents=True)
    (work / "example-projects" / "mlflow-elasticnet").symlink_to(EXAMPLE)
    env = {"PROJ_HOME": str(base / "home")}
    before = snapshot(EXAMPLE)
    with pytest.MonkeyPatch.context() as patch:  # PyPI itself, as on a fresh machine
        for name in (*OTHER_INDEX_VARIABLES, "UV_CONFIG_FILE", "UV_FIND_LINKS", "PIP_NO_INDEX"):
            patch.delenv(name, raising=False)
        done = run_proj(*EXAMPLE_COMMAND, cwd=work, env=env, timeout=1500, check_exit=0)
    return ExampleRun(work, run_id_of(done), done.stdout, done.stderr, env, before)
