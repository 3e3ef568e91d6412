"""The local store's SQLite database: opening it (created by the first write, read-only
otherwise), one IMMEDIATE transaction per write, and noticing a database removed or replaced
while proj uses it. What is stored in it is runner.tracking.local's business; its tables are
runner.tracking.local_schema's.
"""

from __future__ import annotations

import os
import re
import sqlite3
import time
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, TypeVar

from runner.errors import RunNotFoundError, StoreFullError, TrackingError
from runner.tracking.local_schema import SCHEMA_VERSION, create_or_upgrade, read_as_current, schema_version
from runner.tracking.reserve import SpaceReserve

DATABASE = "proj.db"
RUN_ID = re.compile(r"^[0-9a-f]{32}$")
_BUSY_TIMEOUT_MS = 60_000
_SQLITE_FULL = 13  # SQLite's primary result code for a write that found no room
T = TypeVar("T")


class StoreDatabase:
    """`root`/proj.db, beside the run folders in `root`/runs (a folder there means a committed run)."""

    def __init__(self, root: Path, reserve: SpaceReserve) -> None:
        self.root = root
        self.runs = root / "runs"
        self._reserve = reserve
        self._connection: sqlite3.Connection | None = None  # reads and writes, once this store has written
        self._reader: sqlite3.Connection | None = None  # read-only, for a store that has only been read
        self._identity: tuple[int, int] | None = None  # (device, inode) of the database the writer opened
        self._vanished: TrackingError | None = None  # why this store can no longer be written, once it cannot

    def is_new(self) -> bool:
        """No database and no runs yet: the first run recorded creates the store."""
        return is_empty(self.root / DATABASE) and not self.has_run_folders()

    def preflight(self) -> None:
        if (self.root / DATABASE).exists():
            try:
                self.connection(create=False)  # a store of a newer proj is refused here
            except RunNotFoundError:
                pass  # no schema yet: another proj is creating this store at this moment
            for path in (self.root / DATABASE, self.runs):
                if not os.access(path, os.W_OK):
                    raise TrackingError(f"Cannot record runs in {self.root}: {path} is not writable")
            return
        existing = next(p for p in (self.root, *self.root.parents) if p.exists())
        if not existing.is_dir() or not os.access(existing, os.W_OK | os.X_OK):
            raise TrackingError(f"Cannot create a tracking store in {self.root}: {existing} is not a writable folder")

    def connection(self, *, create: bool) -> sqlite3.Connection:
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
        has_runs = self.has_run_folders()
        if is_empty(database):
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
            # Closed at exit even by a process that ends without the interpreter's teardown (the
            # CLI's os._exit): closing the last writer checkpoints the WAL into proj.db and removes
            # it, so the database file alone holds every run between commands.
            weakref.finalize(self, connection.close)
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

    def has_run_folders(self) -> bool:
        try:
            with os.scandir(self.runs) as entries:
                return any(RUN_ID.match(entry.name) for entry in entries)
        except OSError:
            return False

    def _orphaned_runs_error(self) -> TrackingError:
        return TrackingError(
            f"The tracking store {self.root} holds run folders in {self.runs}, but its database "
            f"{DATABASE} is missing or empty: its runs cannot be listed, and a run recorded now would "
            "not be found with them",
            hint=f"restore {self.root / DATABASE} from a backup; or, to start a new store here, move the old "
                 f"runs away first (mv {self.runs} {self.root / 'runs.orphaned'})")

    def _create_files(self, database: Path) -> None:
        try:
            (self.runs).mkdir(parents=True, exist_ok=True, mode=0o700)
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
    def write(self) -> Iterator[sqlite3.Connection]:
        """One IMMEDIATE transaction: writers queue on the busy timeout instead of failing."""
        try:
            connection = self.connection(create=True)
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

    def writing(self, operation: Callable[[sqlite3.Connection], T], *, room_for: str | None = None,
                 last: bool = False) -> T:
        """`operation` in one transaction; on a full disk, once more with room from the reserve
        of the run `room_for` (half of it, or all of it for the `last` write of the run)."""
        try:
            with self.write() as db:
                return operation(db)
        except StoreFullError:
            if room_for is None or not self._reserve.give_back(room_for, everything=last):
                raise
        with self.write() as db:
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


def _identity(path: Path) -> tuple[int, int]:
    info = path.stat()
    return info.st_dev, info.st_ino


def _is_full(err: sqlite3.Error) -> bool:
    code = getattr(err, "sqlite_errorcode", None)  # Python 3.11 and later
    return code & 0xFF == _SQLITE_FULL if isinstance(code, int) else "database or disk is full" in str(err)


def is_empty(database: Path) -> bool:
    """No database yet: no file, or the empty file a store starts with."""
    try:
        return database.stat().st_size == 0
    except OSError:  # missing, or a file where a folder of the path should be (creating it says so)
        return True
