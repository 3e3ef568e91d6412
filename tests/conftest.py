"""Shared fixtures: an isolated PROJ_HOME for every test, and the rules for real services.

Integration tests need real tools (git, uv, a Docker daemon, an MLflow server, Slurm). When one
is missing the test is skipped, unless PROJ_REQUIRE names it (`PROJ_REQUIRE=docker,mlflow`):
then its absence is a failure, so CI can never pass by skipping.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import settings

REPO_ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"
REQUIRED = {name.strip() for name in os.environ.get("PROJ_REQUIRE", "").split(",") if name.strip()}

# The property tests (hypothesis) draw new examples on every run, which is how they find what
# nobody thought of. CI (PROJ_HYPOTHESIS_PROFILE=ci, set by .ci/run) draws the same examples every
# time instead, so that whether a change lands never depends on the draw; a failure a developer's
# run finds becomes a test of its own. Loaded here, before any test module builds its settings.
settings.register_profile("ci", derandomize=True, print_blob=True)
settings.load_profile(os.environ.get("PROJ_HYPOTHESIS_PROFILE", "default"))


def require(service: str, available: bool, why: str = "") -> None:
    """Skip the calling test when `service` is unavailable, or fail if PROJ_REQUIRE names it."""
    if available:
        return
    message = f"{service} is not available" + (f": {why}" if why else "")
    if service in REQUIRED or "all" in REQUIRED:
        pytest.fail(message + " (and PROJ_REQUIRE requires it)")
    pytest.skip(message)


@pytest.fixture(autouse=True)
def isolated_home(tmp_path_factory, monkeypatch) -> Path:
    """Every test gets its own PROJ_HOME and no tracking settings from the outside."""
    home = tmp_path_factory.mktemp("proj-home")
    monkeypatch.setenv("PROJ_HOME", str(home))
    # proj looks for a store in every folder above the current one; never above the test's own.
    monkeypatch.setenv("PROJ_CEILING_DIRECTORIES", str(tmp_path_factory.getbasetemp()))
    for name in ("PROJ_TRACKING_URI", "MLFLOW_TRACKING_URI", "PROJ_EXPERIMENT_NAME", "MLFLOW_EXPERIMENT_NAME",
                 "MLFLOW_EXPERIMENT_ID", "PROJ_DEBUG"):
        monkeypatch.delenv(name, raising=False)
    return home


def run_proj(*args: str, cwd: Path | str | None = None, env: dict | None = None,
             timeout: float = 300, check_exit: int | None = None) -> subprocess.CompletedProcess:
    """Run the `proj` command as a user would, capturing its output as text."""
    completed = subprocess.run(
        [sys.executable, "-m", "runner", *args],
        cwd=cwd,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if check_exit is not None and completed.returncode != check_exit:
        raise AssertionError(
            f"proj {' '.join(args)} exited {completed.returncode}, expected {check_exit}\n"
            f"--- stdout\n{completed.stdout}\n--- stderr\n{completed.stderr}"
        )
    return completed


_STARTED = re.compile(r"^proj: run ([0-9a-f]{32}) (?:started|continued)", re.MULTILINE)


def run_id_of(result: subprocess.CompletedProcess | str) -> str:
    """The id of the run a `proj run` (or `proj rerun`) started, read from what it printed."""
    stderr = result if isinstance(result, str) else result.stderr
    match = _STARTED.search(stderr)
    if match is None:
        raise AssertionError(f"no run id in:\n{stderr}")
    return match.group(1)


def show_run(run_id: str, cwd: Path | str, *extra: str, env: dict | None = None) -> dict:
    """`proj runs show RUN --format json`, parsed."""
    shown = run_proj("runs", "show", run_id, "--format", "json", *extra, cwd=cwd, env=env, check_exit=0)
    return json.loads(shown.stdout)


def diff_of(a: str, b: str, cwd: Path | str, *extra: str, env: dict | None = None) -> dict:
    """`proj runs diff A B --format json`, parsed."""
    return json.loads(run_proj("runs", "diff", a, b, "--format", "json", *extra, cwd=cwd, env=env,
                               check_exit=0).stdout)


@pytest.fixture(scope="session")
def plugin_sites(tmp_path_factory) -> dict[str, Path]:
    """The example plugins of tests/data, installed: the fake scheduler (`-b fake`) and the JSON
    folder store (`jsondir://`), each in a folder for PYTHONPATH."""
    from helpers.plugins import install_plugin

    return {name: install_plugin(DATA / name, tmp_path_factory.mktemp(name))
            for name in ("plugin-scheduler", "plugin-store")}


@pytest.fixture
def plugins_env(plugin_sites) -> dict[str, str]:
    """The environment that lets `proj` (and the fake scheduler's workers) find those plugins."""
    return {"PYTHONPATH": os.pathsep.join(str(site) for site in plugin_sites.values())}


@pytest.fixture
def git_available() -> None:
    require("git", shutil.which("git") is not None, "the git executable is not on PATH")


@pytest.fixture
def wheelhouse(tmp_path, monkeypatch) -> Path:
    """A folder of tiny wheels (tinygreet, tinydep), and uv and pip pointed at it and nothing else."""
    from helpers.wheels import OTHER_INDEX_VARIABLES, build_greeting_packages, offline_index_env
    from runner.environments.uvtool import uv_binary

    require("uv", uv_binary() is not None, "the uv package (which ships the binary) is not installed")
    for name in OTHER_INDEX_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    folder = build_greeting_packages(tmp_path / "wheels")
    for name, value in offline_index_env(folder, tmp_path / "uv-config").items():
        monkeypatch.setenv(name, value)
    return folder


@pytest.fixture(scope="session")
def mlflow_example(tmp_path_factory):
    """The README's first command (example-projects/mlflow-elasticnet, mlflow from PyPI), run once
    for the tests that read its run back (tests/capture/test_example.py, the browser test)."""
    from helpers.mlflow_clients import run_example

    return run_example(tmp_path_factory.mktemp("mlflow-example"))
