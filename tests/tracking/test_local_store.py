"""The local store, directly: persistence only. The status column is what runs are filtered by,
the first ending a run gets is kept, and reading never writes."""

from __future__ import annotations

import hashlib
import sqlite3
import time
from pathlib import Path

import pytest

from helpers.records import dead_launcher, new_record
from runner.errors import RunNotFoundError
from runner.tracking.base import JobRecord, RunQuery, RunStatus
from runner.tracking.local import LocalStore


@pytest.fixture
def store(tmp_path) -> LocalStore:
    return LocalStore(tmp_path / "store")


def ended(store: LocalStore, status: RunStatus, start: float, **fields) -> str:
    record = store.start_run(new_record(start_time=start, **fields))
    store.end_run(record.run_id, status, 0 if status is RunStatus.FINISHED else 1, start + 1)
    return record.run_id


def files_of(root: Path) -> dict[str, str]:
    """What the store holds: every file's hash, but SQLite's shared-memory index (-shm), which
    every reader rebuilds and which never holds data, and an empty write-ahead log."""
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file() and not p.name.endswith("-shm")
            and not (p.name.endswith("-wal") and p.stat().st_size == 0)}


def test_a_status_filter_applies_before_the_limit(store):
    """Two FINISHED runs and a newer RUNNING one: the first page of FINISHED runs holds both."""
    older = ended(store, RunStatus.FINISHED, 100)
    newer = ended(store, RunStatus.FINISHED, 200)
    store.start_run(new_record(start_time=300))

    found = store.list_runs(RunQuery(status=RunStatus.FINISHED, limit=2))

    assert [r.run_id for r in found] == [newer, older]


def test_every_status_is_filtered_as_recorded_and_pages_follow_each_other(store):
    ids = {status: ended(store, status, start) for start, status in enumerate(
        [RunStatus.FINISHED, RunStatus.FAILED, RunStatus.KILLED, RunStatus.LOST], start=1)}
    running = store.start_run(new_record(start_time=10)).run_id
    for status, run_id in ids.items():
        assert [r.run_id for r in store.list_runs(RunQuery(status=status))] == [run_id]
    assert [r.run_id for r in store.list_runs(RunQuery(status=RunStatus.RUNNING))] == [running]
    pages = [store.list_runs(RunQuery(limit=2, offset=offset)) for offset in (0, 2, 4)]
    assert [len(page) for page in pages] == [2, 2, 1]
    assert [r.run_id for page in pages for r in page] == [running, *reversed(list(ids.values()))]


def test_the_first_ending_is_kept(store):
    run_id = store.start_run(new_record()).run_id
    first = store.end_run(run_id, RunStatus.KILLED, 130, 1000.0)
    second = store.end_run(run_id, RunStatus.FINISHED, 0, 2000.0)
    assert (first.status, first.exit_code, first.end_time) == (RunStatus.KILLED, 130, 1000.0)
    assert (second.status, second.exit_code, second.end_time) == (RunStatus.KILLED, 130, 1000.0)


def test_reading_an_orphaned_run_changes_nothing(store):
    """A RUNNING run whose launcher died stays RUNNING for readers: only the lifecycle ends runs."""
    run_id = store.start_run(new_record(launcher=dead_launcher())).run_id
    store.attach(run_id, "diff.patch", b"x")
    store.close()  # what a finished `proj run` leaves: everything in the database file
    before = files_of(store.root)

    reader = LocalStore(store.root)
    assert reader.get_run(run_id[:8]).status is RunStatus.RUNNING
    assert [r.status for r in reader.list_runs(RunQuery())] == [RunStatus.RUNNING]
    assert reader.list_runs(RunQuery(status=RunStatus.LOST)) == []
    assert reader.read_attachment(run_id, "diff.patch") == b"x"
    with pytest.raises(sqlite3.OperationalError, match="readonly"):  # a reader cannot write, by construction
        reader._database.connection(create=False).execute("DELETE FROM runs")
    reader.close()

    assert files_of(store.root) == before


def test_reading_where_no_store_is_creates_none(tmp_path):
    store = LocalStore(tmp_path / "nothing-here")
    assert store.list_runs(RunQuery()) == []
    with pytest.raises(RunNotFoundError, match="No runs recorded in"):
        store.get_run("abc")
    assert not (tmp_path / "nothing-here").exists()


def test_final_metrics_are_kept_as_summaries(store):
    record = store.start_run(new_record())
    outputs = store.output_dir(record.run_id)
    (outputs / "metrics.jsonl").write_text('{"key": "loss", "value": 0.5, "step": 1}\n'
                                           '{"key": "loss", "value": 0.25, "step": 2}\n')
    store.save_metrics(record.run_id, store.read_metrics(record.run_id))
    store.end_run(record.run_id, RunStatus.FINISHED, 0, time.time())

    metrics = store.get_run(record.run_id).metrics
    assert metrics == {"loss": {"last": 0.25, "min": 0.25, "max": 0.5, "count": 2, "last_step": 2}}
    by_loss = store.list_runs(RunQuery(sort_metric="loss"))
    assert [r.run_id for r in by_loss] == [record.run_id]


def test_a_job_is_kept_with_its_run(store):
    run_id = store.start_run(new_record(backend="fake")).run_id
    job = JobRecord("17", "PENDING", "Priority", detached=True, checkout="/co")
    assert store.set_job(run_id, job).job == job
    assert store.get_run(run_id).job == job
    assert store.get_run(run_id).status is RunStatus.RUNNING


def test_runs_are_found_by_a_unique_prefix_only(store):
    first = store.start_run(new_record(run_id="ab" + "0" * 30)).run_id
    store.start_run(new_record(run_id="ab" + "1" * 30))
    assert store.get_run(first[:3]).run_id == first
    with pytest.raises(RunNotFoundError, match="ambiguous"):
        store.get_run("ab")
    with pytest.raises(RunNotFoundError, match="not a run id"):
        store.get_run("xyz")


def test_after_a_command_the_database_file_alone_holds_every_run(tmp_path):
    """proj ends without the interpreter's teardown (runner.cli._end), yet its store's writer is
    closed at exit: the WAL is checkpointed into proj.db and removed, so a copy of proj.db alone
    is a complete store."""
    from conftest import run_proj

    (tmp_path / "MLproject").write_text('name: p\nentry_points:\n  main:\n    command: "true"\n')
    for _ in range(2):
        run_proj("run", ".", cwd=tmp_path, check_exit=0)
    store = tmp_path / ".proj"
    assert not (store / "proj.db-wal").exists()
    database = sqlite3.connect(f"{(store / 'proj.db').as_uri()}?immutable=1", uri=True)  # reads no WAL
    try:
        assert database.execute("SELECT count(*) FROM runs").fetchone() == (2,)
    finally:
        database.close()
