"""The default tracking store: a folder with a SQLite database and a subfolder per run.

    .proj/proj.db                 runs, parameters, experiments (WAL mode)
    .proj/runs/<run id>/output.log  the command's output, written while it runs
    .proj/runs/<run id>/outputs/    $PROJ_OUTPUT_DIR: the run's artifacts and metrics.jsonl
    .proj/runs/<run id>/mlflow/     what the project logs with MLflow (runner.capture)
    .proj/runs/<run id>/<file>      files kept with the run (diff.patch, build.log, locks)
    .proj/reserved/<run id>         room set aside to record the run's end on a full disk (reserve.py)

Many `proj run` processes may share one store: every write is one short IMMEDIATE transaction
and readers never block writers (WAL). Everything is created readable by its owner only. A
database removed or replaced while proj uses it is noticed at the next write, never written to.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from runner.atomicfile import write_atomically
from runner.capture.store import CAPTURE, CapturingStore
from runner.errors import RunNotFoundError, TrackingError, UsageError
from runner.runfiles import RunFileError, RunFolder
from runner.runmatch import run_tags
from runner.tracking.base import (
    DEFAULT_EXPERIMENT,
    LOG_NAME,
    ExperimentSummary,
    JobRecord,
    RunQuery,
    RunRecord,
    RunStatus,
    is_attachment_name,
)
from runner.tracking.local_db import DATABASE, StoreDatabase
from runner.tracking.local_rows import experiment_number, load_record, save_logged_params, stored
from runner.tracking.local_schema import save_tags
from runner.tracking.reserve import FOLDER as RESERVED
from runner.tracking.reserve import SpaceReserve

if TYPE_CHECKING:
    from runner.capture.settled import Settled
    from runner.outputs import MetricsReading, MetricSummary

__all__ = ["DATABASE", "OUTPUTS", "LocalStore"]

OUTPUTS = "outputs"
# A filter matching fewer runs than this is where a page sorted by a metric starts (its ids first);
# a broader one is checked run by run while the metric's index is read in order.
FEW_RUNS = 500
_RUN_REF = re.compile(r"^[0-9a-f]{1,32}$")


class LocalStore(CapturingStore):
    supports_detached_runs = True

    def __init__(self, root: Path) -> None:
        super().__init__()
        self.root = root.absolute()
        self.uri = str(self.root)
        self._reserve = SpaceReserve(self.root / RESERVED)
        self._database = StoreDatabase(self.root, self._reserve)
        # Metrics of runs this process ended: read once at the end, no longer written to.
        self._final_metrics: dict[str, MetricsReading] = {}

    # --- opening ---------------------------------------------------------------------------

    def check_writable(self) -> None:
        if self._database.is_new():
            # A new store: checked, and created by the first run recorded, so that a run that
            # fails before then (a --frozen build without a lock) leaves no .proj behind.
            self.preflight()
            return
        with self._database.write():
            pass
        runs = self.root / "runs"
        if not os.access(runs, os.W_OK):
            raise TrackingError(f"Cannot record runs in {self.root}: {runs} is not writable")

    def preflight(self) -> None:
        self._database.preflight()

    def close(self) -> None:
        """Close the store's connections (they close with the process too)."""
        self._database.close()

    # --- writing ---------------------------------------------------------------------------

    def start_run(self, record: RunRecord) -> RunRecord:
        self._database.connection(create=True)  # a new store gets its folders and schema first
        record.run_id = record.run_id or new_run_id()
        run_dir = self.root / "runs" / record.run_id
        record.log = str(run_dir / LOG_NAME)
        try:
            run_dir.mkdir(mode=0o700)
            (run_dir / OUTPUTS).mkdir(mode=0o700)
            self.create_capture(record)
            os.close(os.open(run_dir / LOG_NAME, os.O_CREAT | os.O_WRONLY, 0o600))
            self._reserve.set_aside(record.run_id)
            with self._database.write() as db:
                experiment_id = experiment_number(db, record.experiment)
                db.execute(
                    "INSERT INTO runs (run_id, experiment_id, status, start_time, sweep_id, record) "
                    "VALUES (?, ?, ?, ?, ?, ?)",
                    (record.run_id, experiment_id, record.status.value, record.start_time, record.sweep_id,
                     json.dumps(record.to_dict())),
                )
                save_tags(db, record.run_id, run_tags(record))
                db.executemany(
                    "INSERT INTO params (run_id, name, value) VALUES (?, ?, ?)",
                    [(record.run_id, name, str(value)) for name, value in record.parameter_values().items()],
                )
        except BaseException as err:
            import shutil  # here: shutil imports its compression modules (start-up budget)

            shutil.rmtree(run_dir, ignore_errors=True)  # never leave half a run behind
            self._reserve.drop(record.run_id)
            if isinstance(err, OSError):
                raise TrackingError(f"Cannot record the run in {self.root}: {err.strerror}") from None
            raise
        return record

    def continue_run(self, record: RunRecord) -> RunRecord:
        try:
            self._reserve.set_aside(record.run_id)
        except OSError as err:
            raise TrackingError(f"Cannot record the run in {self.root}: {err.strerror}") from None
        try:
            with self._database.write() as db:
                before = load_record(db, record.run_id)
                record.attachments = before.attachments
                record.log = before.log
                db.execute("UPDATE runs SET status = ?, end_time = NULL, exit_code = NULL, record = ? "
                           "WHERE run_id = ?", (RunStatus.RUNNING.value, json.dumps(record.to_dict()), record.run_id))
                db.executemany("INSERT OR IGNORE INTO params (run_id, name, value) VALUES (?, ?, ?)",
                               [(record.run_id, name, str(value))
                                for name, value in record.parameter_values().items()])
                save_tags(db, record.run_id, run_tags(record))
                continued = load_record(db, record.run_id)
        except BaseException:
            self._reserve.drop(record.run_id)
            raise
        if not os.path.lexists(self._run_dir(record.run_id) / CAPTURE):  # recorded before proj captured
            self.create_capture(record)
        return continued

    def list_experiments(self) -> list[ExperimentSummary]:
        try:
            db = self._database.connection(create=False)
        except RunNotFoundError:
            return []
        # Each count reads an index (runs_by_experiment, and the partial runs_deleted and
        # runs_running), not the runs themselves: the list costs the same at 10,000 runs as at 100.
        rows = db.execute(
            "SELECT e.id, e.name, "
            "(SELECT count(*) FROM runs r WHERE r.experiment_id = e.id) - "
            "(SELECT count(*) FROM runs r WHERE r.experiment_id = e.id AND r.deleted_time IS NOT NULL), "
            "(SELECT count(*) FROM runs r WHERE r.experiment_id = e.id AND r.status = 'RUNNING' "
            "AND r.deleted_time IS NULL) FROM experiments e ORDER BY e.name")
        return [ExperimentSummary(name, str(number), count, active) for number, name, count, active in rows if count]

    def experiment_name(self, experiment_id: str) -> str:
        if not experiment_id.strip().isdigit():
            raise UsageError(f"Experiment ids in {self.root} are whole numbers, not {experiment_id!r}")
        try:
            db = self._database.connection(create=False)
            row = db.execute("SELECT name FROM experiments WHERE id = ?", (int(experiment_id),)).fetchone()
            known = db.execute("SELECT id, name FROM experiments ORDER BY id LIMIT 20").fetchall()
        except RunNotFoundError:  # no store yet: the one a run creates starts with Default, id 0
            row, known = None, [(0, DEFAULT_EXPERIMENT)]
        if row is not None:
            return str(row[0])
        if int(experiment_id) == 0:  # a store made before Default had id 0 (or with no runs yet)
            return DEFAULT_EXPERIMENT
        listing = ", ".join(f"{number} ({name})" for number, name in known) or "none yet"
        raise UsageError(f"No experiment with id {experiment_id} in {self.root}",
                         hint=f"experiments there: {listing}; or choose one by name (--experiment-name)")

    def log_path(self, run_id: str) -> Path:
        return self._run_dir(run_id) / LOG_NAME

    def attach(self, run_id: str, name: str, data: bytes) -> None:
        path = self._attachment_path(run_id, name)

        def listed(db: sqlite3.Connection) -> None:
            record = load_record(db, run_id)
            if name not in record.attachments:
                record.attachments.append(name)
                db.execute("UPDATE runs SET record = ? WHERE run_id = ?", (json.dumps(record.to_dict()), run_id))

        try:
            write_atomically(path, data, mode=0o600)
        except OSError as err:
            raise TrackingError(f"Cannot save {name} with run {run_id}: {err.strerror}") from None
        self._database.writing(listed)

    def save_metrics(self, run_id: str, metrics: MetricsReading) -> None:
        self._final_metrics[run_id] = metrics

        def saved(db: sqlite3.Connection) -> None:
            # The skipped lines are kept with the summaries: a finished run is shown without
            # reading its metrics file again.
            db.execute("UPDATE runs SET record = json_set(record, '$.metric_problems', json(?)) WHERE run_id = ?",
                       (json.dumps(list(metrics.problems)), run_id))
            db.executemany(
                "INSERT OR REPLACE INTO metric_summaries VALUES (?, ?, ?, ?, ?, ?, ?)",
                [(run_id, s.key, stored(s.last), stored(s.min), stored(s.max), s.count, s.last_step)
                 for s in metrics.summaries().values()],
            )

        self._database.writing(saved, room_for=run_id)

    def end_run(self, run_id: str, status: RunStatus, exit_code: int | None, end_time: float) -> RunRecord:
        def ended(db: sqlite3.Connection) -> RunRecord:
            db.execute("UPDATE runs SET status = ?, exit_code = ?, end_time = ? WHERE run_id = ? AND status = ?",
                       (status.value, exit_code, end_time, run_id, RunStatus.RUNNING.value))
            return load_record(db, run_id)

        record = self._database.writing(ended, room_for=run_id, last=True)
        self._reserve.drop(run_id)
        return record

    def discard_run(self, run_id: str) -> None:
        self._reserve.drop(run_id)  # first: on a full disk, its room is what removing the run needs
        self.purge_run(run_id)

    def output_dir(self, run_id: str) -> Path:
        return self._run_dir(run_id) / OUTPUTS

    # --- what the project logs with MLflow (runner.capture.store) ---------------------------

    def runs_folder(self) -> Path:
        return self.root / "runs"

    def parent_of(self, run_id: str) -> str | None:
        try:
            return load_record(self._database.connection(create=False), run_id).parent_run_id
        except RunNotFoundError:
            return None

    def save_settled(self, record: RunRecord, settled: Settled) -> None:
        from runner.capture.settled import direct_children

        def saved(db: sqlite3.Connection) -> None:
            experiment_id = experiment_number(db, record.experiment)
            for child in settled.children:
                self._save_child(db, experiment_id, child.record, child.metrics)
            stored = load_record(db, record.run_id)
            stored.mlflow, stored.child_runs = settled.data, direct_children(settled, record.run_id)
            db.execute("UPDATE runs SET record = ? WHERE run_id = ?", (json.dumps(stored.to_dict()), record.run_id))
            save_logged_params(db, record.run_id, settled.data.params)
            save_tags(db, record.run_id, run_tags(stored))

        self._database.writing(saved, room_for=record.run_id)

    def _save_child(self, db: sqlite3.Connection, experiment_id: int, record: RunRecord,
                    metrics: dict[str, MetricSummary]) -> None:
        """A nested run, ended, with its metric summaries (runner.capture.runs.child_record)."""
        db.execute("INSERT OR REPLACE INTO runs (run_id, experiment_id, status, start_time, end_time, sweep_id, "
                   "record) VALUES (?, ?, ?, ?, ?, ?, ?)",
                   (record.run_id, experiment_id, record.status.value, record.start_time, record.end_time,
                    record.sweep_id, json.dumps(record.to_dict())))
        save_logged_params(db, record.run_id, record.mlflow.params if record.mlflow else {})
        save_tags(db, record.run_id, run_tags(record))
        db.executemany("INSERT OR REPLACE INTO metric_summaries VALUES (?, ?, ?, ?, ?, ?, ?)",
                       [(record.run_id, s.key, stored(s.last), stored(s.min), stored(s.max), s.count, s.last_step)
                        for s in metrics.values()])

    # --- reading ---------------------------------------------------------------------------

    def get_run(self, ref: str) -> RunRecord:
        ref = ref.strip().lower()
        if not _RUN_REF.match(ref):
            raise RunNotFoundError(f"{ref!r} is not a run id (run ids are hexadecimal)")
        db = self._database.connection(create=False)
        rows = db.execute("SELECT run_id FROM runs WHERE run_id >= ? AND run_id < ? LIMIT 2",
                          (ref, ref + "g")).fetchall()
        if not rows:
            raise RunNotFoundError(f"No run {ref!r} in {self.root}")
        if len(rows) > 1:
            raise RunNotFoundError(f"Run id prefix {ref!r} is ambiguous in {self.root}; give more characters")
        return self.with_live_capture(load_record(db, rows[0][0]))

    def list_runs(self, query: RunQuery) -> list[RunRecord]:
        try:
            db = self._database.connection(create=False)
        except RunNotFoundError:
            return []
        from runner.tracking import local_query  # the filter's parser: for listing, not for recording

        def few(select: str, args: list[Any]) -> bool:  # counted in an index, FEW_RUNS rows at most
            return int(db.execute(f"SELECT count(*) FROM ({select} LIMIT {FEW_RUNS})", args).fetchone()[0]) < FEW_RUNS

        text, args = local_query.select_ids(query, few)
        ids = [row[0] for row in db.execute(text, args)]
        return [load_record(db, run_id) for run_id in ids]

    def count_runs(self, query: RunQuery) -> int | None:
        try:
            db = self._database.connection(create=False)
        except RunNotFoundError:
            return 0
        from runner.tracking import local_query

        text, args = local_query.count(query)
        return int(db.execute(text, args).fetchone()[0])

    def sweep_ids(self, prefix: str, limit: int = 2) -> list[str]:
        try:
            db = self._database.connection(create=False)
        except RunNotFoundError:
            return []
        rows = db.execute("SELECT DISTINCT sweep_id FROM runs WHERE sweep_id >= ? AND sweep_id < ? "
                          "ORDER BY sweep_id LIMIT ?", (prefix, prefix + "\U0010ffff", limit))
        return [row[0] for row in rows]

    def read_attachment(self, run_id: str, name: str) -> bytes:
        with self.open_attachment(run_id, name) as handle:
            return handle.read()

    def open_attachment(self, run_id: str, name: str) -> BinaryIO:
        self._attachment_path(run_id, name)  # refuses names that are not attachment names
        try:
            return self._run_folder(run_id).open(name)
        except FileNotFoundError:
            raise RunNotFoundError(f"Run {run_id} has no file {name!r}") from None
        except RunFileError as err:
            raise TrackingError(f"Cannot read {name} of run {run_id}: it {err.reason}",
                                hint="the run's own code replaced a file proj keeps with it") from None

    def outputs(self, run_id: str) -> RunFolder:
        return RunFolder(self.root / "runs", (self._run_dir(run_id).name, OUTPUTS))

    def read_metrics(self, run_id: str, *, complete: bool = True) -> MetricsReading:
        final = self._final_metrics.get(run_id)
        return final if final is not None else self.read_all_metrics(run_id, complete)

    # --- what users change (runner.runmanage) ------------------------------------------------

    supports_search = True
    purges_runs = True

    def set_deleted(self, run_id: str, deleted: bool) -> RunRecord:
        with self._database.write() as db:
            db.execute("UPDATE runs SET deleted_time = ? WHERE run_id = ?", (time.time() if deleted else None, run_id))
            return load_record(db, run_id)

    def set_tags(self, run_id: str, tags: Mapping[str, str], removed: Iterable[str]) -> RunRecord:
        with self._database.write() as db:
            record = load_record(db, run_id)
            record.tags = {k: v for k, v in {**record.tags, **tags}.items() if k not in set(removed)}
            db.execute("UPDATE runs SET record = json_set(record, '$.tags', json(?)) WHERE run_id = ?",
                       (json.dumps(record.tags), run_id))
            save_tags(db, run_id, run_tags(record))
            return load_record(db, run_id)

    def describe_run(self, run_id: str, name: str | None, description: str | None) -> RunRecord:
        with self._database.write() as db:
            if name is not None:
                db.execute("UPDATE runs SET record = json_set(record, '$.run_name', ?) WHERE run_id = ?",
                           (name, run_id))
            if description is not None:
                db.execute("UPDATE runs SET record = json_set(record, '$.description', ?) WHERE run_id = ?",
                           (description, run_id))
            return load_record(db, run_id)

    def purge_run(self, run_id: str) -> None:
        """The rows first, then the folder: a run half removed is never listed."""
        folder = self._run_dir(run_id)
        with self._database.write() as db:
            for table in ("params", "tags", "metric_summaries", "runs"):
                db.execute(f"DELETE FROM {table} WHERE run_id = ?", (run_id,))
        import shutil  # here: shutil imports its compression modules (start-up budget)

        shutil.rmtree(folder, ignore_errors=True)

    # --- helpers ---------------------------------------------------------------------------

    def set_job(self, run_id: str, job: JobRecord) -> RunRecord:
        with self._database.write() as db:
            record = load_record(db, run_id)
            record.job = job
            db.execute("UPDATE runs SET record = ? WHERE run_id = ?", (json.dumps(record.to_dict()), run_id))
            return record

    def _run_folder(self, run_id: str) -> RunFolder:
        """The run's folder, below `runs/`, which the run cannot replace: see runner.runfiles."""
        return RunFolder(self.root / "runs", (self._run_dir(run_id).name,))

    def _run_dir(self, run_id: str) -> Path:
        if not _RUN_REF.match(run_id):
            raise RunNotFoundError(f"{run_id!r} is not a run id")
        return self.root / "runs" / run_id

    def _attachment_path(self, run_id: str, name: str) -> Path:
        if not is_attachment_name(name):
            raise ValueError(f"invalid attachment name {name!r}")
        return self._run_dir(run_id) / name


def new_run_id() -> str:
    """A random run id: the 32 hex digits of a version 4 UUID, as `uuid.uuid4().hex` gives (and
    MLflow uses), without importing `uuid` (which imports `platform`: ~5 ms of every `proj run`)."""
    digits = bytearray(os.urandom(16))
    digits[6] = (digits[6] & 0x0F) | 0x40  # version 4
    digits[8] = (digits[8] & 0x3F) | 0x80  # the RFC 4122 variant
    return digits.hex()
