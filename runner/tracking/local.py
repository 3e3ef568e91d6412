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
import math
import os
import re
import shutil
import sqlite3
import time
import uuid
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, Callable, TypeVar

from runner.atomicfile import write_atomically
from runner.capture.store import CAPTURE, CapturingStore
from runner.errors import RunNotFoundError, StoreFullError, TrackingError, UsageError
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
from runner.tracking.local_schema import SCHEMA_VERSION, create_or_upgrade, read_as_current, save_tags, schema_version
from runner.tracking.reserve import FOLDER as RESERVED
from runner.tracking.reserve import SpaceReserve

if TYPE_CHECKING:
    from runner.capture.settled import Settled
    from runner.outputs import MetricsReading, MetricSummary

DATABASE = "proj.db"
OUTPUTS = "outputs"
_RUN_REF = re.compile(r"^[0-9a-f]{1,32}$")
_RUN_ID = re.compile(r"^[0-9a-f]{32}$")
_BUSY_TIMEOUT_MS = 60_000
_SQLITE_FULL = 13  # SQLite's primary result code for a write that found no room
T = TypeVar("T")


class LocalStore(CapturingStore):
    supports_detached_runs = True

    def __init__(self, root: Path) -> None:
        super().__init__()
        self.root = root.absolute()
        self.uri = str(self.root)
        self._connection: sqlite3.Connection | None = None  # reads and writes, once this store has written
        self._reader: sqlite3.Connection | None = None  # read-only, for a store that has only been read
        self._identity: tuple[int, int] | None = None  # (device, inode) of the database the writer opened
        self._vanished: TrackingError | None = None  # why this store can no longer be written, once it cannot
        self._reserve = SpaceReserve(self.root / RESERVED)
        # Metrics of runs this process ended: read once at the end, no longer written to.
        self._final_metrics: dict[str, MetricsReading] = {}

    # --- opening ---------------------------------------------------------------------------

    def check_writable(self) -> None:
        if _is_empty(self.root / DATABASE) and not self._has_run_folders():
            # A new store: checked, and created by the first run recorded, so that a run that
            # fails before then (a --frozen build without a lock) leaves no .proj behind.
            self.preflight()
            return
        with self._write():
            pass
        runs = self.root / "runs"
        if not os.access(runs, os.W_OK):
            raise TrackingError(f"Cannot record runs in {self.root}: {runs} is not writable")

    def preflight(self) -> None:
        if (self.root / DATABASE).exists():
            try:
                self._db(create=False)  # a store of a newer proj is refused here
            except RunNotFoundError:
                pass  # no schema yet: another proj is creating this store at this moment
            for path in (self.root / DATABASE, self.root / "runs"):
                if not os.access(path, os.W_OK):
                    raise TrackingError(f"Cannot record runs in {self.root}: {path} is not writable")
            return
        existing = next(p for p in (self.root, *self.root.parents) if p.exists())
        if not existing.is_dir() or not os.access(existing, os.W_OK | os.X_OK):
            raise TrackingError(f"Cannot create a tracking store in {self.root}: {existing} is not a writable folder")

    def _db(self, *, create: bool) -> sqlite3.Connection:
        """The writing connection (`create`, or once this store has written), else a read-only
        one: a reader cannot change the database, not even by SQLite's own checkpointing."""
        if self._vanished is not None:
            raise self._vanished
        if self._connection is not None:
            return self._connection
        if not create and self._reader is not None:
            return self._reader
        database = self.root / DATABASE
        # Looked at before the schema is: a run folder exists only once a schema was committed.
        has_runs = self._has_run_folders()
        if _is_empty(database):
            if has_runs:
                raise self._orphaned_runs_error()
            if not create:  # never write to a store while reading it (not even a SQLite header)
                raise RunNotFoundError(f"No runs recorded in {self.root} (no store there yet)")
            if not database.exists():
                self._create_files(database)
        try:
            connection = _open_writer(database) if create else _open_reader(database)
        except sqlite3.Error as err:
            raise TrackingError(f"Cannot open the tracking store {database}: {err}") from None
        try:
            self._prepare_schema(connection, create, has_runs)
        except BaseException as err:
            connection.close()
            if isinstance(err, sqlite3.Error):
                raise TrackingError(f"Cannot open the tracking store {database}: {err}") from None
            raise
        if create:
            self._connection, self._identity = connection, _identity(database)
        else:
            self._reader = connection
        return connection

    def close(self) -> None:
        """Close the store's connections (they close with the process too)."""
        for connection in (self._connection, self._reader):
            if connection is not None:
                connection.close()
        self._connection = self._reader = None
        self._identity = None

    def _has_run_folders(self) -> bool:
        try:
            with os.scandir(self.root / "runs") as entries:
                return any(_RUN_ID.match(entry.name) for entry in entries)
        except OSError:
            return False

    def _orphaned_runs_error(self) -> TrackingError:
        return TrackingError(
            f"The tracking store {self.root} holds run folders in {self.root / 'runs'}, but its database "
            f"{DATABASE} is missing or empty: its runs cannot be listed, and a run recorded now would "
            "not be found with them",
            hint=f"restore {self.root / DATABASE} from a backup; or, to start a new store here, move the old "
                 f"runs away first (mv {self.root / 'runs'} {self.root / 'runs.orphaned'})")

    def _create_files(self, database: Path) -> None:
        try:
            (self.root / "runs").mkdir(parents=True, exist_ok=True, mode=0o700)
            os.chmod(self.root, 0o700)
            # The store often sits inside the project (./.proj); keep it out of git's view so
            # recording a run never makes the working tree dirty.
            (self.root / ".gitignore").write_text("# proj's tracking store\n*\n")
            os.close(os.open(database, os.O_CREAT | os.O_WRONLY, 0o600))
        except OSError as err:
            raise TrackingError(f"Cannot create a tracking store in {self.root}: {err.strerror}") from None

    def _prepare_schema(self, connection: sqlite3.Connection, create: bool, has_runs: bool) -> None:
        version = schema_version(connection)
        if version is None and has_runs:
            raise self._orphaned_runs_error()
        if version is None and not create:
            raise RunNotFoundError(f"No runs recorded in {self.root} (no store there yet)")
        if version is not None and version > SCHEMA_VERSION:
            raise TrackingError(
                f"The tracking store {self.root} has schema version {version}, newer than this proj "
                f"understands ({SCHEMA_VERSION})",
                hint="upgrade proj, or use another store with --tracking-uri",
            )
        if version == SCHEMA_VERSION:
            return
        if create:
            create_or_upgrade(connection)  # an older store is upgraded in place by its first write
        elif version is not None:
            read_as_current(connection, version)  # ... and only read as if it were, until then

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One IMMEDIATE transaction: writers queue on the busy timeout instead of failing."""
        try:
            connection = self._db(create=True)
            self._check_same_database()
            connection.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as err:
            raise self._write_error(err) from None
        try:
            yield connection
            connection.execute("COMMIT")
        except BaseException as err:
            # SQLite has already rolled back a transaction whose COMMIT found the disk full.
            if connection.in_transaction:
                connection.execute("ROLLBACK")
            if isinstance(err, sqlite3.Error):
                raise self._write_error(err) from None
            raise

    def _writing(self, operation: Callable[[sqlite3.Connection], T], *, room_for: str | None = None,
                 last: bool = False) -> T:
        """`operation` in one transaction; on a full disk, once more with room from the reserve
        of the run `room_for` (half of it, or all of it for the `last` write of the run)."""
        try:
            with self._write() as db:
                return operation(db)
        except StoreFullError:
            if room_for is None or not self._reserve.give_back(room_for, everything=last):
                raise
        with self._write() as db:
            return operation(db)

    def _write_error(self, err: sqlite3.Error) -> TrackingError:
        if _is_full(err):
            return StoreFullError(f"Cannot write to the tracking store {self.root}: the disk it is on is full",
                                  hint="free some space there")
        return TrackingError(f"Cannot write to the tracking store {self.root}: {err}")

    def _check_same_database(self) -> None:
        """The database this store opened is still the one at its path: writing to a file
        someone removed (or replaced) would report success and keep nothing, and opening the
        path again would make a new, empty store. Once it is gone, this store writes no more."""
        database = self.root / DATABASE
        try:
            current: tuple[int, int] | None = _identity(database)
        except OSError:
            current = None
        if current != self._identity:
            self.close()
            happened = "removed" if current is None else "replaced by another file"
            self._vanished = TrackingError(
                f"The tracking store's database {database} was {happened} while proj was using it",
                hint="a store must not be removed or moved while runs use it")
            raise self._vanished

    # --- writing ---------------------------------------------------------------------------

    def start_run(self, record: RunRecord) -> RunRecord:
        self._db(create=True)  # a new store gets its folders and schema first
        record.run_id = record.run_id or uuid.uuid4().hex
        run_dir = self.root / "runs" / record.run_id
        record.log = str(run_dir / LOG_NAME)
        try:
            run_dir.mkdir(mode=0o700)
            (run_dir / OUTPUTS).mkdir(mode=0o700)
            self.create_capture(record)
            os.close(os.open(run_dir / LOG_NAME, os.O_CREAT | os.O_WRONLY, 0o600))
            self._reserve.set_aside(record.run_id)
            with self._write() as db:
                experiment_id = _experiment_id(db, record.experiment)
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
            with self._write() as db:
                before = _load_record(db, record.run_id)
                record.attachments = before.attachments
                record.log = before.log
                db.execute("UPDATE runs SET status = ?, end_time = NULL, exit_code = NULL, record = ? "
                           "WHERE run_id = ?", (RunStatus.RUNNING.value, json.dumps(record.to_dict()), record.run_id))
                db.executemany("INSERT OR IGNORE INTO params (run_id, name, value) VALUES (?, ?, ?)",
                               [(record.run_id, name, str(value))
                                for name, value in record.parameter_values().items()])
                save_tags(db, record.run_id, run_tags(record))
                continued = _load_record(db, record.run_id)
        except BaseException:
            self._reserve.drop(record.run_id)
            raise
        if not os.path.lexists(self._run_dir(record.run_id) / CAPTURE):  # recorded before proj captured
            self.create_capture(record)
        return continued

    def list_experiments(self) -> list[ExperimentSummary]:
        try:
            db = self._db(create=False)
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
            db = self._db(create=False)
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
            record = _load_record(db, run_id)
            if name not in record.attachments:
                record.attachments.append(name)
                db.execute("UPDATE runs SET record = ? WHERE run_id = ?", (json.dumps(record.to_dict()), run_id))

        try:
            write_atomically(path, data, mode=0o600)
        except OSError as err:
            raise TrackingError(f"Cannot save {name} with run {run_id}: {err.strerror}") from None
        self._writing(listed)

    def save_metrics(self, run_id: str, metrics: MetricsReading) -> None:
        self._final_metrics[run_id] = metrics

        def saved(db: sqlite3.Connection) -> None:
            # The skipped lines are kept with the summaries: a finished run is shown without
            # reading its metrics file again.
            db.execute("UPDATE runs SET record = json_set(record, '$.metric_problems', json(?)) WHERE run_id = ?",
                       (json.dumps(list(metrics.problems)), run_id))
            db.executemany(
                "INSERT OR REPLACE INTO metric_summaries VALUES (?, ?, ?, ?, ?, ?, ?)",
                [(run_id, s.key, _stored(s.last), _stored(s.min), _stored(s.max), s.count, s.last_step)
                 for s in metrics.summaries().values()],
            )

        self._writing(saved, room_for=run_id)

    def end_run(self, run_id: str, status: RunStatus, exit_code: int | None, end_time: float) -> RunRecord:
        def ended(db: sqlite3.Connection) -> RunRecord:
            db.execute("UPDATE runs SET status = ?, exit_code = ?, end_time = ? WHERE run_id = ? AND status = ?",
                       (status.value, exit_code, end_time, run_id, RunStatus.RUNNING.value))
            return _load_record(db, run_id)

        record = self._writing(ended, room_for=run_id, last=True)
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
            return _load_record(self._db(create=False), run_id).parent_run_id
        except RunNotFoundError:
            return None

    def save_settled(self, record: RunRecord, settled: Settled) -> None:
        from runner.capture.settled import direct_children

        def saved(db: sqlite3.Connection) -> None:
            experiment_id = _experiment_id(db, record.experiment)
            for child in settled.children:
                self._save_child(db, experiment_id, child.record, child.metrics)
            stored = _load_record(db, record.run_id)
            stored.mlflow, stored.child_runs = settled.data, direct_children(settled, record.run_id)
            db.execute("UPDATE runs SET record = ? WHERE run_id = ?", (json.dumps(stored.to_dict()), record.run_id))
            _save_logged_params(db, record.run_id, settled.data.params)
            save_tags(db, record.run_id, run_tags(stored))

        self._writing(saved, room_for=record.run_id)

    def _save_child(self, db: sqlite3.Connection, experiment_id: int, record: RunRecord,
                    metrics: dict[str, MetricSummary]) -> None:
        """A nested run, ended, with its metric summaries (runner.capture.runs.child_record)."""
        db.execute("INSERT OR REPLACE INTO runs (run_id, experiment_id, status, start_time, end_time, sweep_id, "
                   "record) VALUES (?, ?, ?, ?, ?, ?, ?)",
                   (record.run_id, experiment_id, record.status.value, record.start_time, record.end_time,
                    record.sweep_id, json.dumps(record.to_dict())))
        _save_logged_params(db, record.run_id, record.mlflow.params if record.mlflow else {})
        save_tags(db, record.run_id, run_tags(record))
        db.executemany("INSERT OR REPLACE INTO metric_summaries VALUES (?, ?, ?, ?, ?, ?, ?)",
                       [(record.run_id, s.key, _stored(s.last), _stored(s.min), _stored(s.max), s.count, s.last_step)
                        for s in metrics.values()])

    # --- reading ---------------------------------------------------------------------------

    def get_run(self, ref: str) -> RunRecord:
        ref = ref.strip().lower()
        if not _RUN_REF.match(ref):
            raise RunNotFoundError(f"{ref!r} is not a run id (run ids are hexadecimal)")
        db = self._db(create=False)
        rows = db.execute("SELECT run_id FROM runs WHERE run_id >= ? AND run_id < ? LIMIT 2",
                          (ref, ref + "g")).fetchall()
        if not rows:
            raise RunNotFoundError(f"No run {ref!r} in {self.root}")
        if len(rows) > 1:
            raise RunNotFoundError(f"Run id prefix {ref!r} is ambiguous in {self.root}; give more characters")
        return self.with_live_capture(_load_record(db, rows[0][0]))

    def list_runs(self, query: RunQuery) -> list[RunRecord]:
        try:
            db = self._db(create=False)
        except RunNotFoundError:
            return []
        from runner.tracking import local_query  # the filter's parser: for listing, not for recording

        text, args = local_query.select_ids(query)
        ids = [row[0] for row in db.execute(text, args)]
        return [_load_record(db, run_id) for run_id in ids]

    def count_runs(self, query: RunQuery) -> int | None:
        try:
            db = self._db(create=False)
        except RunNotFoundError:
            return 0
        from runner.tracking import local_query

        text, args = local_query.count(query)
        return int(db.execute(text, args).fetchone()[0])

    def sweep_ids(self, prefix: str, limit: int = 2) -> list[str]:
        try:
            db = self._db(create=False)
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
        with self._write() as db:
            db.execute("UPDATE runs SET deleted_time = ? WHERE run_id = ?", (time.time() if deleted else None, run_id))
            return _load_record(db, run_id)

    def set_tags(self, run_id: str, tags: Mapping[str, str], removed: Iterable[str]) -> RunRecord:
        with self._write() as db:
            record = _load_record(db, run_id)
            record.tags = {k: v for k, v in {**record.tags, **tags}.items() if k not in set(removed)}
            db.execute("UPDATE runs SET record = json_set(record, '$.tags', json(?)) WHERE run_id = ?",
                       (json.dumps(record.tags), run_id))
            save_tags(db, run_id, run_tags(record))
            return _load_record(db, run_id)

    def describe_run(self, run_id: str, name: str | None, description: str | None) -> RunRecord:
        with self._write() as db:
            if name is not None:
                db.execute("UPDATE runs SET record = json_set(record, '$.run_name', ?) WHERE run_id = ?",
                           (name, run_id))
            if description is not None:
                db.execute("UPDATE runs SET record = json_set(record, '$.description', ?) WHERE run_id = ?",
                           (description, run_id))
            return _load_record(db, run_id)

    def purge_run(self, run_id: str) -> None:
        """The rows first, then the folder: a run half removed is never listed."""
        folder = self._run_dir(run_id)
        with self._write() as db:
            for table in ("params", "tags", "metric_summaries", "runs"):
                db.execute(f"DELETE FROM {table} WHERE run_id = ?", (run_id,))
        shutil.rmtree(folder, ignore_errors=True)

    # --- helpers ---------------------------------------------------------------------------

    def set_job(self, run_id: str, job: JobRecord) -> RunRecord:
        with self._write() as db:
            record = _load_record(db, run_id)
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


def _open_writer(database: Path) -> sqlite3.Connection:
    connection = sqlite3.connect(database, timeout=_BUSY_TIMEOUT_MS / 1000, isolation_level=None)
    try:
        connection.execute(f"PRAGMA busy_timeout = {_BUSY_TIMEOUT_MS}")
        _set_wal(connection)
        connection.execute("PRAGMA synchronous = NORMAL")
    except BaseException:
        connection.close()
        raise
    return connection


def _open_reader(database: Path) -> sqlite3.Connection:
    connection = sqlite3.connect(f"{database.as_uri()}?mode=ro", uri=True, timeout=_BUSY_TIMEOUT_MS / 1000,
                                 isolation_level=None)
    connection.execute(f"PRAGMA busy_timeout = {_BUSY_TIMEOUT_MS}")
    return connection


def _set_wal(connection: sqlite3.Connection) -> None:
    # Switching to WAL needs a moment of exclusive access; with many processes opening a new
    # store at once, one of them may be told "busy" although the busy timeout is set.
    for attempt in range(100):
        try:
            connection.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as err:
            if "locked" not in str(err) and "busy" not in str(err):
                raise
            time.sleep(0.02 * (attempt + 1))
    connection.execute("PRAGMA journal_mode = WAL")


def _experiment_id(db: sqlite3.Connection, name: str) -> int:
    db.execute("INSERT OR IGNORE INTO experiments (name, created) VALUES (?, ?)", (name, time.time()))
    return int(db.execute("SELECT id FROM experiments WHERE name = ?", (name,)).fetchone()[0])


def _save_logged_params(db: sqlite3.Connection, run_id: str, params: dict[str, str]) -> None:
    """Parameters the project logged, for `-P` filters; proj's own (given) values come first."""
    db.executemany("INSERT OR IGNORE INTO params (run_id, name, value) VALUES (?, ?, ?)",
                   [(run_id, name, value) for name, value in params.items()])


def _load_record(db: sqlite3.Connection, run_id: str) -> RunRecord:
    row = db.execute("SELECT record, status, end_time, exit_code, experiment_id, deleted_time FROM runs "
                     "WHERE run_id = ?", (run_id,)).fetchone()
    if row is None:
        raise RunNotFoundError(f"No run {run_id!r}")
    data = json.loads(row[0])
    data.update(status=row[1], end_time=row[2], exit_code=row[3], experiment_id=str(row[4]),
                deleted=row[5] is not None, deleted_time=row[5])
    data["metrics"] = {
        key: {"last": _number(last), "min": _number(low), "max": _number(high), "count": count, "last_step": step}
        for key, last, low, high, count, step in db.execute(
            "SELECT key, last, min, max, count, last_step FROM metric_summaries WHERE run_id = ? ORDER BY key",
            (run_id,))
    }
    return RunRecord.from_dict(data)


# SQLite turns a NaN it is given into NULL ("no value"); a metric that was NaN is kept as this text.
_NAN = "NaN"


def _stored(value: float) -> float | str:
    return _NAN if math.isnan(value) else value


def _number(value: Any) -> Any:
    return math.nan if value == _NAN else value


def _identity(path: Path) -> tuple[int, int]:
    info = path.stat()
    return info.st_dev, info.st_ino


def _is_full(err: sqlite3.Error) -> bool:
    code = getattr(err, "sqlite_errorcode", None)  # Python 3.11 and later
    return code & 0xFF == _SQLITE_FULL if isinstance(code, int) else "database or disk is full" in str(err)


def _is_empty(database: Path) -> bool:
    """No database yet: no file, or the empty file a store starts with."""
    try:
        return database.stat().st_size == 0
    except OSError:  # missing, or a file where a folder of the path should be (creating it says so)
        return True
