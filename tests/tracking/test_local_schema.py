"""A store made by the previous schema (version 1, tests/data/store-v1): read as it is, never
changed by reading, upgraded in place by the first write, by one proj even when several write."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from test_reading_never_writes import store_files

from conftest import DATA, run_proj
from runner.tracking.local_schema import SCHEMA_VERSION

RUNS = {"vision": "e8ad8b07df9540bba8a18d52898572cc", "sweep-1": "0a4f1de1684e4f90950cc65426d80368",
        "sweep-2": "4001298381f54e0ba8ad4ea370d11069", "failed": "281410ae83b4460ea64b0b29a2987b01"}
SWEEP = "5eed0000aaaa1111bbbb2222cccc3333"


@pytest.fixture
def old_store(tmp_path: Path) -> Path:
    """The version 1 store, as that proj left it: a WAL database and a folder per run."""
    store = tmp_path / ".proj"
    (store / "runs").mkdir(parents=True)
    connection = sqlite3.connect(store / "proj.db")
    connection.executescript((DATA / "store-v1" / "proj.db.sql").read_text())
    connection.execute("PRAGMA journal_mode = WAL")
    connection.close()
    for run_id in RUNS.values():
        (store / "runs" / run_id / "outputs").mkdir(parents=True)
        (store / "runs" / run_id / "output.log").write_text(f"output of {run_id}\n")
    return store


def _version(store: Path) -> int:
    with sqlite3.connect(store / "proj.db") as connection:
        return int(connection.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0])


def _listed(store: Path, *args: str) -> list[str]:
    done = run_proj("runs", "list", "--format", "json", "--tracking-uri", str(store), *args, check_exit=0)
    return [r["run_id"] for r in json.loads(done.stdout)]


def test_an_old_store_is_read_without_being_changed(old_store: Path) -> None:
    before = store_files(old_store)
    assert set(_listed(old_store)) == set(RUNS.values())
    assert _listed(old_store, "--filter", "tags.team = 'vision'") == [RUNS["vision"]]
    assert _listed(old_store, "--filter", "tags.framework = 'sk'") == [RUNS["sweep-2"]]  # set with MLflow
    assert _listed(old_store, "--filter", "metrics.rmse < 0.8 and params.alpha > 0.1") == [RUNS["sweep-2"],
                                                                                          RUNS["sweep-1"]]
    assert _listed(old_store, "--sweep", "5eed") == [RUNS["sweep-2"], RUNS["sweep-1"]]
    assert _listed(old_store, "--deleted") == []
    assert _listed(old_store, "--sort", "tags.team") == [RUNS["failed"], RUNS["vision"], RUNS["sweep-2"],
                                                         RUNS["sweep-1"]]
    shown = run_proj("runs", "show", RUNS["failed"][:6], "--tracking-uri", str(old_store), check_exit=0).stdout
    assert "tags         team=nlp stage=try" in shown and "rmse = nan" in shown
    assert store_files(old_store) == before
    assert _version(old_store) == 1


def test_the_first_write_upgrades_the_store_in_place(old_store: Path) -> None:
    run_proj("runs", "tag", RUNS["sweep-1"], "team=audio", "--tracking-uri", str(old_store), check_exit=0)
    assert _version(old_store) == SCHEMA_VERSION == 3
    with sqlite3.connect(old_store / "proj.db") as connection:
        indexes = {row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
        assert {"runs_by_sweep", "runs_deleted", "runs_running"} <= indexes
        assert sorted(connection.execute("SELECT run_id, sweep_id, deleted_time FROM runs").fetchall()) == sorted(
            [(RUNS["vision"], None, None), (RUNS["sweep-1"], SWEEP, None), (RUNS["sweep-2"], SWEEP, None),
             (RUNS["failed"], None, None)])
        assert sorted(connection.execute("SELECT run_id, key, value FROM tags").fetchall()) == sorted([
            (RUNS["vision"], "team", "vision"), (RUNS["sweep-1"], "team", "audio"),
            (RUNS["sweep-2"], "mlflow.source.type", "LOCAL"), (RUNS["sweep-2"], "framework", "sk"),
            (RUNS["failed"], "team", "nlp"), (RUNS["failed"], "stage", "try")])
    records = {r["run_id"]: r for r in json.loads(run_proj("runs", "list", "--format", "json", "--tracking-uri",
                                                           str(old_store), check_exit=0).stdout)}
    assert {r["status"] for r in records.values()} == {"FINISHED", "FAILED"}
    assert records[RUNS["failed"]]["exit_code"] == 1 and records[RUNS["vision"]]["metrics"]["rmse"]["last"] == 0.9
    assert _listed(old_store, "--filter", "tags.team = 'audio'") == [RUNS["sweep-1"]]
    run_proj("runs", "delete", RUNS["vision"], "--tracking-uri", str(old_store), check_exit=0)
    assert _listed(old_store, "--deleted") == [RUNS["vision"]]


def test_writers_racing_on_an_old_store_upgrade_it_once(old_store: Path) -> None:
    writers = [subprocess.Popen([sys.executable, "-m", "runner", "runs", "tag", run_id, f"writer={name}",
                                 "--tracking-uri", str(old_store)], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
               for name, run_id in RUNS.items()]
    results = [(w.wait(timeout=120), w.stderr.read().decode()) for w in writers]
    assert results == [(0, "")] * len(RUNS)
    assert _version(old_store) == SCHEMA_VERSION
    for name, run_id in RUNS.items():
        assert _listed(old_store, "--filter", f"tags.writer = '{name}'") == [run_id]
