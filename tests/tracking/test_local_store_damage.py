"""A local store whose database was deleted or emptied while its run folders remain.

Recreating the database silently would orphan every recorded run (their folders would never be
listed again), so proj refuses, says why and what to do; an empty database with no runs yet is
simply a new store, and reading it writes nothing into it.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from conftest import run_proj
from helpers.exitcodes import SETUP, USAGE

SPEC = "name: damage\nentry_points:\n  main:\n    command: 'touch ran-$PROJ_RUN_ID.txt; echo ran'\n"


@pytest.fixture
def project(tmp_path) -> Path:
    folder = tmp_path / "project"
    folder.mkdir()
    (folder / "MLproject").write_text(SPEC)
    run_proj("run", ".", cwd=folder, check_exit=0)
    return folder


def ran(project: Path) -> int:
    return len(list(project.glob("ran-*.txt")))


@pytest.mark.parametrize("damage", ["deleted", "emptied"])
def test_a_store_that_lost_its_database_is_refused_with_its_runs_left_alone(project, damage):
    store = project / ".proj"
    database = store / "proj.db"
    for leftover in store.glob("proj.db-*"):  # the WAL files go with the database
        leftover.unlink()
    database.unlink() if damage == "deleted" else database.write_bytes(b"")
    folders = sorted(p.name for p in (store / "runs").iterdir())
    expected = (f"The tracking store {store} holds run folders in {store / 'runs'}, but its database proj.db "
                "is missing or empty")
    for command in (["run", "."], ["runs", "list"], ["runs", "show", folders[0]]):
        result = run_proj(*command, cwd=project)
        assert result.returncode == SETUP, (command, result.stderr)
        assert expected in result.stderr and f"mv {store / 'runs'} {store / 'runs.orphaned'}" in result.stderr
        assert "Traceback" not in result.stderr
    assert ran(project) == 1  # nothing ran
    assert sorted(p.name for p in (store / "runs").iterdir()) == folders
    assert database.exists() == (damage == "emptied") and (not database.exists() or database.stat().st_size == 0)


def test_moving_the_old_runs_away_starts_a_new_store(project):
    store = project / ".proj"
    (store / "proj.db").unlink()
    for leftover in store.glob("proj.db-*"):
        leftover.unlink()
    shutil.move(store / "runs", store / "runs.orphaned")
    run_proj("run", ".", cwd=project, check_exit=0)
    assert len(json.loads(run_proj("runs", "list", "--format", "json", cwd=project, check_exit=0).stdout)) == 1


def test_an_empty_database_without_runs_is_a_new_store_and_reading_it_writes_nothing(tmp_path):
    store = tmp_path / "store"
    (store / "runs").mkdir(parents=True)
    (store / "proj.db").write_bytes(b"")
    listed = run_proj("runs", "list", "--tracking-uri", str(store), cwd=tmp_path, check_exit=0)
    assert listed.stdout.strip() == "no runs"
    missing = run_proj("runs", "show", "0" * 32, "--tracking-uri", str(store), cwd=tmp_path)
    assert missing.returncode == USAGE and "No runs recorded" in missing.stderr
    assert (store / "proj.db").read_bytes() == b"" and not list(store.glob("proj.db-*"))


def test_a_file_that_is_not_a_database_is_a_tracking_error(project):
    (project / ".proj" / "proj.db").write_bytes(b"this is not sqlite" * 100)
    for leftover in (project / ".proj").glob("proj.db-*"):
        leftover.unlink()
    result = run_proj("runs", "list", cwd=project)
    assert result.returncode == SETUP and "Cannot open the tracking store" in result.stderr
    assert "file is not a database" in result.stderr and "Traceback" not in result.stderr
