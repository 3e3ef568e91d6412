"""The local store's database schema, its versions, and upgrades in place.

A new store gets version 1's tables and then every upgrade, so the path an existing store takes
is the one every store takes. An upgrade runs in the first transaction that writes to an older
store; a store that is only read is never changed: its reader sees the newer tables through
temporary views (in SQLite's separate temporary database, not in the store's file).

Version 2 (proj runs delete/tag/rename, run filters): runs.deleted_time and runs.sweep_id
(indexed); a tags table beside params (the user's tags, then those the project set with MLflow).

Version 3 (proj ui's experiment list and run counts): two small partial indexes, of the deleted
runs and of the running ones by experiment, so that counting runs reads indexes, not every run.
"""

from __future__ import annotations

import sqlite3
import time

from runner.tracking.base import DEFAULT_EXPERIMENT

SCHEMA_VERSION = 3

_VERSION_1 = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS experiments (
    id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, created REAL NOT NULL);
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY,
    experiment_id INTEGER NOT NULL REFERENCES experiments(id),
    status TEXT NOT NULL,
    start_time REAL NOT NULL,
    end_time REAL,
    exit_code INTEGER,
    record TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS runs_newest ON runs(start_time DESC);
CREATE INDEX IF NOT EXISTS runs_by_experiment ON runs(experiment_id, start_time DESC);
CREATE TABLE IF NOT EXISTS params (
    run_id TEXT NOT NULL REFERENCES runs(run_id),
    name TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (run_id, name));
CREATE INDEX IF NOT EXISTS params_by_value ON params(name, value);
CREATE TABLE IF NOT EXISTS metric_summaries (
    run_id TEXT NOT NULL REFERENCES runs(run_id),
    key TEXT NOT NULL,
    last REAL, min REAL, max REAL,
    count INTEGER NOT NULL,
    last_step INTEGER,
    PRIMARY KEY (run_id, key));
CREATE INDEX IF NOT EXISTS metrics_by_key ON metric_summaries(key, last);
"""

# The tags a run has, from its JSON record: the user's own, then those the project set with MLflow.
_RECORD_TAGS = """
SELECT r.run_id, j.key, j.value FROM runs r, json_each(r.record, '$.tags') j
UNION
SELECT r.run_id, j.key, j.value FROM runs r, json_each(r.record, '$.mlflow.tags') j
    WHERE json_type(r.record, '$.mlflow.tags') = 'object'
      AND j.key NOT IN (SELECT key FROM json_each(r.record, '$.tags'))
"""

_UPGRADES = {
    2: [
        "ALTER TABLE runs ADD COLUMN deleted_time REAL",
        "ALTER TABLE runs ADD COLUMN sweep_id TEXT",
        "UPDATE runs SET sweep_id = json_extract(record, '$.sweep_id')",
        "CREATE INDEX runs_by_sweep ON runs(sweep_id) WHERE sweep_id IS NOT NULL",
        """CREATE TABLE tags (
            run_id TEXT NOT NULL REFERENCES runs(run_id),
            key TEXT NOT NULL,
            value TEXT NOT NULL,
            PRIMARY KEY (run_id, key))""",
        "CREATE INDEX tags_by_value ON tags(key, value)",
        f"INSERT INTO tags (run_id, key, value) {_RECORD_TAGS}",
    ],
    3: [
        "CREATE INDEX runs_deleted ON runs(experiment_id) WHERE deleted_time IS NOT NULL",
        "CREATE INDEX runs_running ON runs(experiment_id) WHERE status = 'RUNNING'",
    ],
}

# What a reader of an older store sees instead of what the upgrades would add (TEMP: never written).
_VIEWS = {
    2: [
        "CREATE TEMP VIEW runs AS SELECT *, NULL AS deleted_time, json_extract(record, '$.sweep_id') AS sweep_id "
        "FROM main.runs",
        f"CREATE TEMP VIEW tags (run_id, key, value) AS {_RECORD_TAGS.replace('FROM runs', 'FROM main.runs')}",
    ],
    3: [],  # indexes only: an older store answers the same, by reading its runs
}


def schema_version(connection: sqlite3.Connection) -> int | None:
    try:
        row = connection.execute("SELECT value FROM main.meta WHERE key = 'schema_version'").fetchone()
    except sqlite3.OperationalError:
        return None  # a new, empty database
    return int(row[0]) if row else None


def create_or_upgrade(connection: sqlite3.Connection) -> None:
    """Bring the store to SCHEMA_VERSION in one IMMEDIATE transaction (concurrent proj processes
    wait for each other; the second finds the work done)."""
    connection.execute("BEGIN IMMEDIATE")
    try:
        version = schema_version(connection)
        if version is None:
            for statement in _VERSION_1.split(";"):
                if statement.strip():
                    connection.execute(statement)
            # MLflow's Default experiment has id 0, and scripts say `--experiment-id 0`.
            connection.execute("INSERT OR IGNORE INTO experiments (id, name, created) VALUES (0, ?, ?)",
                               (DEFAULT_EXPERIMENT, time.time()))
            version = 1
        for target in range(version + 1, SCHEMA_VERSION + 1):
            for statement in _UPGRADES[target]:
                connection.execute(statement)
        connection.execute("INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
        connection.execute("COMMIT")
    except BaseException:
        connection.execute("ROLLBACK")
        raise


def read_as_current(connection: sqlite3.Connection, version: int) -> None:
    """Let a read-only connection to an older store see the current tables (temporary views)."""
    for target in range(version + 1, SCHEMA_VERSION + 1):
        for statement in _VIEWS[target]:
            connection.execute(statement)


def save_tags(db: sqlite3.Connection, run_id: str, tags: dict[str, str]) -> None:
    """Replace the run's rows in `tags` (runner.runfilter.run_tags gives what they are)."""
    db.execute("DELETE FROM tags WHERE run_id = ?", (run_id,))
    db.executemany("INSERT INTO tags (run_id, key, value) VALUES (?, ?, ?)",
                   [(run_id, key, value) for key, value in tags.items()])
