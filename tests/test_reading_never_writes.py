"""Reading never writes: `proj runs list/show/logs/...` and every `proj ui` request leave the
store byte-identical, even with runs a refresh *would* change (a detached job that has ended and
a run whose proj was killed). `proj runs refresh` is the step that records those changes.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from conftest import require, run_id_of, run_proj
from helpers.processes import alive, wait_for, wait_for_file

SPEC = r"""
name: reads
entry_points:
  main:
    parameters:
      lr: {type: float, default: 0.1}
    command: "echo lr={lr}; echo '{{\"key\": \"loss\", \"value\": {lr}}}' >> $PROJ_OUTPUT_DIR/metrics.jsonl;
              echo model > $PROJ_OUTPUT_DIR/model.txt"
  hang:
    command: "sleep 300 & echo $$ $! > pids.txt; wait"
"""


def store_files(store: Path) -> dict[str, str]:
    """Every file of the store (the database, its write-ahead log, the run folders) by path, with a
    hash of its bytes. Left out: SQLite's shared-memory index (-shm), which every reader rebuilds
    and which never holds data (sqlite.org/walformat.html), and a write-ahead log with nothing in it."""
    return {str(p.relative_to(store)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(store.rglob("*")) if p.is_file() and not p.name.endswith("-shm")
            and not (p.name.endswith("-wal") and p.stat().st_size == 0)}


@pytest.fixture
def busy_store(tmp_path, plugins_env, isolated_home) -> tuple[Path, dict[str, str]]:
    """A project whose store holds finished runs, a detached job that has ended unrefreshed, and a
    RUNNING run whose proj was killed; returns the project and the ids by role."""
    project = tmp_path / "project"
    project.mkdir()
    (project / "MLproject").write_text(SPEC)
    env = plugins_env
    ids = {name: run_id_of(run_proj("run", ".", "-P", f"lr={lr}", cwd=project, env=env, check_exit=0))
           for name, lr in (("first", "0.1"), ("second", "0.2"))}
    run_proj("run", ".", "--sweep", "lr=0.3,0.4", cwd=project, env=env, check_exit=0)  # for the sweep pages
    ids["detached"] = run_proj("run", ".", "-b", "fake", "--detach", cwd=project, env=env,
                               check_exit=0).stdout.strip()
    job_id = json.loads(run_proj("runs", "show", ids["detached"], "--format", "json", cwd=project, env=env,
                                 check_exit=0).stdout)["job"]["id"]
    state = isolated_home / "fake-scheduler" / "jobs" / job_id / "state.json"
    wait_for(lambda: state.exists() and json.loads(state.read_text())["state"] == "COMPLETED", timeout=60,
             what="the detached job to end")
    launcher = subprocess.Popen([sys.executable, "-m", "runner", "run", ".", "-e", "hang"], cwd=project,
                                env={**os.environ, **env}, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    pids = [int(p) for p in wait_for_file(project / "pids.txt").split()]
    launcher.kill()
    ids["orphan"] = run_id_of(launcher.communicate()[1].decode())
    wait_for(lambda: not any(alive(pid) for pid in pids), timeout=10, what="the orphaned command to die")
    return project, ids


def test_cli_reads_and_ui_requests_leave_the_store_byte_identical(busy_store, plugins_env, tmp_path):
    require("browser", _ui_installed(), "the ui extra (starlette, uvicorn, jinja2) is not installed")
    from ui.conftest import UiServer

    project, ids = busy_store
    store = project / ".proj"
    before = store_files(store)
    # The killed proj left its last writes in the write-ahead log: a reader that checkpointed it
    # (any read-write SQLite connection does on closing) would rewrite the database file.
    assert (store / "proj.db-wal").stat().st_size > 0

    reads = [("runs", "list"), ("runs", "list", "--format", "json"), ("runs", "list", "--status", "running"),
             ("runs", "list", "--status", "lost"), ("runs", "list", "--metric", "loss"),
             ("runs", "diff", ids["first"], ids["second"]), ("runs", "export", ids["first"])]
    for run_id in ids.values():
        reads += [("runs", "show", run_id), ("runs", "show", run_id, "--format", "json"),
                  ("runs", "logs", run_id), ("runs", "artifacts", run_id)]
    shown = [run_proj(*args, cwd=project, env=plugins_env, check_exit=0).stdout for args in reads]
    assert "RUNNING (launcher gone: proj runs refresh)" in shown[0]

    sweep = next(r["sweep_id"] for r in json.loads(shown[1]) if r["sweep_id"])
    server = UiServer(_Store(project, plugins_env), tmp_path / "ui.log")
    try:
        pages = ["/", "/?status=RUNNING", "/?sort=metric:loss", "/api/runs", "/api/runs?status=LOST",
                 f"/compare?run={ids['first']}&run={ids['second']}",
                 f"/api/compare?run={ids['first']}&run={ids['orphan']}",
                 f"/runs/{ids['first']}/artifacts/model.txt", f"/runs/{ids['first']}/files/output.log",
                 f"/runs/{ids['first']}/preview/model.txt", f"/runs/{ids['first']}?xaxis=time&scale=log&smooth=0.6",
                 f"/compare?run={ids['first']}&run={ids['second']}&all=1&metric=loss&goal=max",
                 f"/compare?run={ids['first']}&run={ids['orphan']}&x=param:lr&y=metric:loss",
                 f"/sweeps/{sweep}", f"/sweeps/{sweep}?metric=loss&axis=param:lr&axis=metric:loss",
                 f"/compare?sweep={sweep}", f"/api/compare?sweep={sweep}", f"/sweeps/{sweep[:8]}",
                 "/?filter=metrics.loss+%3E+0+and+params.lr+%3E%3D+0.1", "/?deleted=all&columns=chosen&tags=x",
                 "/api/runs?filter=attributes.status+%3D+%27RUNNING%27&deleted=only"]
        for run_id in ids.values():
            pages += [f"/runs/{run_id}", f"/api/runs/{run_id}", f"/api/runs/{run_id}/log",
                      f"/api/runs/{run_id}/metrics"]
        for page in pages:
            with urllib.request.urlopen(server.url + page, timeout=30) as response:
                assert response.status == 200, page
        assert "launcher gone" in urllib.request.urlopen(server.url + "/", timeout=30).read().decode()
    finally:
        assert server.stop() == 0, server.log.read_text()

    assert store_files(store) == before
    statuses = {r["run_id"]: r["status"] for r in json.loads(shown[1])}
    assert statuses[ids["detached"]] == statuses[ids["orphan"]] == "RUNNING"

    # The test can fail: refreshing is a write, and the hashes see it.
    run_proj("runs", "refresh", cwd=project, env=plugins_env, check_exit=0)
    assert store_files(store) != before
    listed = json.loads(run_proj("runs", "list", "--format", "json", cwd=project, env=plugins_env,
                                 check_exit=0).stdout)
    statuses = {r["run_id"]: r["status"] for r in listed}
    assert (statuses[ids["detached"]], statuses[ids["orphan"]]) == ("FINISHED", "LOST")


class _Store:
    """What UiServer needs of a store: where to start `proj ui`, and its environment."""

    def __init__(self, project: Path, env: dict[str, str]) -> None:
        self.project, self.env = project, env


def _ui_installed() -> bool:
    try:
        import jinja2  # noqa: F401
        import starlette  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError:
        return False
    return True
