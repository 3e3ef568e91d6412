"""Rows of the local store's database written and read as runner.tracking.base's records: a run's
record, the parameters a project logged, metric values SQLite cannot hold as they are (NaN)."""

from __future__ import annotations

import json
import math
import sqlite3
import time
from typing import Any

from runner.errors import RunNotFoundError
from runner.tracking.base import RunRecord


def experiment_number(db: sqlite3.Connection, name: str) -> int:
    db.execute("INSERT OR IGNORE INTO experiments (name, created) VALUES (?, ?)", (name, time.time()))
    return int(db.execute("SELECT id FROM experiments WHERE name = ?", (name,)).fetchone()[0])


def save_logged_params(db: sqlite3.Connection, run_id: str, params: dict[str, str]) -> None:
    """Parameters the project logged, for `-P` filters; proj's own (given) values come first."""
    db.executemany("INSERT OR IGNORE INTO params (run_id, name, value) VALUES (?, ?, ?)",
                   [(run_id, name, value) for name, value in params.items()])


def load_record(db: sqlite3.Connection, run_id: str) -> RunRecord:
    row = db.execute("SELECT record, status, end_time, exit_code, experiment_id, deleted_time FROM runs "
                     "WHERE run_id = ?", (run_id,)).fetchone()
    if row is None:
        raise RunNotFoundError(f"No run {run_id!r}")
    data = json.loads(row[0])
    data.update(status=row[1], end_time=row[2], exit_code=row[3], experiment_id=str(row[4]),
                deleted=row[5] is not None, deleted_time=row[5])
    data["metrics"] = {
        key: {"last": number(last), "min": number(low), "max": number(high), "count": count, "last_step": step}
        for key, last, low, high, count, step in db.execute(
            "SELECT key, last, min, max, count, last_step FROM metric_summaries WHERE run_id = ? ORDER BY key",
            (run_id,))
    }
    return RunRecord.from_dict(data)


# SQLite turns a NaN it is given into NULL ("no value"); a metric that was NaN is kept as this text.
_NAN = "NaN"


def stored(value: float) -> float | str:
    return _NAN if math.isnan(value) else value


def number(value: Any) -> Any:
    return math.nan if value == _NAN else value
