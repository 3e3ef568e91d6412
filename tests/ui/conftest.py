"""A real store filled by real `proj run`s, and a real `proj ui` serving it, for the ui tests.

Both are made once per session: the runs take a few seconds and nothing in these tests writes.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from conftest import DATA, require, run_proj
from helpers.gitrepo import GitRepo
from helpers.processes import wait_for

XSS_NOTE = "<script>alert(1)</script>"
LOCKED_PROJECT = {
    "MLproject": ("name: locked\npython_env: python_env.yaml\n"
                  "entry_points:\n  main:\n    command: python -c \"print('locked')\"\n"),
    "python_env.yaml": f'python: "{sys.version_info.major}.{sys.version_info.minor}"\ndependencies: []\n',
}


@dataclass
class UiStore:
    root: Path  # the tracking store
    project: Path  # a git checkout of tests/data/ui-runs
    env: dict[str, str]  # PROJ_HOME and PROJ_TRACKING_URI for proj commands on this store
    runs: dict[str, str] = field(default_factory=dict)  # run name -> run id

    def proj(self, *args: str, check_exit: int | None = 0, cwd: Path | None = None):
        return run_proj(*args, cwd=cwd or self.project, env=self.env, check_exit=check_exit)

    def run(self, name: str, *args: str, cwd: Path | None = None) -> str:
        result = self.proj("run", ".", "--run-name", name, *args, cwd=cwd)
        self.runs[name] = started_run_id(result.stderr)
        return self.runs[name]


def started_run_id(stderr: str) -> str:
    return re.search(r"run ([0-9a-f]{32}) started", stderr).group(1)


@pytest.fixture(scope="session")
def ui_store(tmp_path_factory) -> UiStore:
    """Five runs in two experiments: two that differ by a parameter, one whose note parameter is a
    script tag (from a dirty checkout, so it keeps a diff), one with symlinks among its outputs,
    and one in a uv environment, which keeps a lock."""
    require("git", shutil.which("git") is not None, "the git executable is not on PATH")
    base = tmp_path_factory.mktemp("ui-store")
    store = UiStore(base / "store", base / "project",
                    {"PROJ_HOME": str(base / "home"), "PROJ_TRACKING_URI": str(base / "store")})
    files = {p.name: p.read_text() for p in (DATA / "ui-runs").iterdir()}
    repo = GitRepo.create(store.project, files, message="ui demo project")
    store.run("baseline", "-P", "lr=0.1", "--experiment-name", "alpha")
    store.run("faster", "-P", "lr=0.2", "--experiment-name", "alpha")
    store.run("links", "-e", "links", "--experiment-name", "alpha")
    repo.write({"README.md": files["README.md"] + "An uncommitted line.\n"})
    store.run("xss-probe", "-P", "lr=0.3", "-P", f"note={XSS_NOTE}", "--experiment-name", "beta")
    locked = base / "locked"
    locked.mkdir()
    for name, text in LOCKED_PROJECT.items():
        (locked / name).write_text(text)
    store.run("locked", "--experiment-name", "gamma", cwd=locked)
    return store


SWEEP_LRS = ("0.001", "0.003", "0.01", "0.03", "0.1")
SWEEP_OPTIMIZERS = ("adam", "sgd", "rmsprop")


@dataclass
class SweepStore(UiStore):
    sweep_id: str = ""
    points: list[dict] = field(default_factory=list)  # the sweep's runs as `proj runs list --format json` prints them


@pytest.fixture(scope="session")
def sweep_store(tmp_path_factory) -> SweepStore:
    """A store of its own: a real 15-point sweep of tests/data/ui-sweep (5 learning rates x 3
    optimizers, 4 at a time), and one run that writes an artifact of every kind the UI previews."""
    base = tmp_path_factory.mktemp("sweep-store")
    project = base / "project"
    shutil.copytree(DATA / "ui-sweep", project)
    store = SweepStore(base / "store", project,
                       {"PROJ_HOME": str(base / "home"), "PROJ_TRACKING_URI": str(base / "store")})
    store.proj("run", ".", "--experiment-name", "tuning", "--sweep", "lr=" + ",".join(SWEEP_LRS),
               "--sweep", "optimizer=" + ",".join(SWEEP_OPTIMIZERS), "-j", "4")
    store.run("previews", "-e", "previews", "--experiment-name", "files")
    listed = json.loads(store.proj("runs", "list", "--format", "json", "--limit", "100").stdout)
    store.points = [r for r in listed if r["sweep_id"]]
    store.sweep_id = store.points[0]["sweep_id"]
    assert len(store.points) == 15 and {r["sweep_id"] for r in store.points} == {store.sweep_id}
    return store


class UiServer:
    """`proj ui` as a user starts it: a subprocess on a free 127.0.0.1 port (--port 0)."""

    def __init__(self, store: UiStore, log: Path) -> None:
        self.log = log
        self.stderr = log.open("w")
        self.process = subprocess.Popen([sys.executable, "-m", "runner", "ui", "--port", "0"], cwd=store.project,
                                        env={**os.environ, **store.env}, stdout=self.stderr, stderr=self.stderr)
        self.url = wait_for(self._announced_url, timeout=30, what=f"proj ui to print its address in {log}")

    def _announced_url(self) -> str | None:
        if self.process.poll() is not None:
            raise AssertionError(f"proj ui exited {self.process.returncode}:\n{self.log.read_text()}")
        found = re.search(r"http://127\.0\.0\.1:\d+/", self.log.read_text())
        return found.group(0).rstrip("/") if found else None

    def stop(self) -> int:
        """Ctrl-C, as a user stops it; returns the exit code."""
        self.process.send_signal(signal.SIGINT)
        try:
            return self.process.wait(timeout=15)
        finally:
            if self.process.poll() is None:
                self.process.kill()
                self.process.wait()
            self.stderr.close()


@pytest.fixture(scope="session")
def ui_server(ui_store, tmp_path_factory):
    server = UiServer(ui_store, tmp_path_factory.mktemp("ui-server") / "proj-ui.log")
    yield server
    assert server.stop() == 0, server.log.read_text()
