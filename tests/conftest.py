"""Shared fixtures: an isolated PROJ_HOME for every test, and the rules for real services.

Integration tests need real tools (git, uv, a Docker daemon, an MLflow server, Slurm). When one
is missing the test is skipped, unless PROJ_REQUIRE names it (`PROJ_REQUIRE=docker,mlflow`):
then its absence is a failure, so CI can never pass by skipping.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"
REQUIRED = {name.strip() for name in os.environ.get("PROJ_REQUIRE", "").split(",") if name.strip()}


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
    for name in ("PROJ_TRACKING_URI", "MLFLOW_TRACKING_URI", "PROJ_EXPERIMENT_NAME", "PROJ_DEBUG"):
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


@pytest.fixture
def git_available() -> None:
    require("git", shutil.which("git") is not None, "the git executable is not on PATH")
