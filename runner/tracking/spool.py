"""Writes a tracking server could not take yet, kept on disk until `proj runs sync` sends them.

    $PROJ_HOME/spool/<entry>.json    one batch of operations for one run, in the order to send
    $PROJ_HOME/spool/<entry>.files/  files those operations upload (the run's log, its lock)

An entry's files are in place before its JSON appears, and the JSON appears by an atomic
rename, so a reader never sees half an entry; a `.files` folder without its JSON is debris
from a crash and is ignored. Entry names start with the time they were written, so sorting
them gives the order they must be sent in. The operations are plain JSON chosen by the store
that wrote them; the spool only keeps them.
"""

from __future__ import annotations

import json
import os
import shutil
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from runner.atomicfile import write_atomically
from runner.errors import TrackingError
from runner.locations import proj_home

FORMAT_VERSION = 1


@dataclass(frozen=True)
class SpoolEntry:
    path: Path  # the .json file
    store: str  # which kind of store wrote it (and can send it)
    uri: str  # the tracking URI it is meant for (no credentials)
    run_id: str
    operations: list[dict[str, Any]]
    created: float

    @property
    def files(self) -> Path:
        return self.path.with_suffix(".files")


class Spool:
    def __init__(self, root: Path | None = None) -> None:
        self.root = root or proj_home() / "spool"

    def add(self, *, store: str, uri: str, run_id: str, operations: list[dict[str, Any]],
            files: dict[str, Path | bytes] | None = None) -> SpoolEntry:
        """Keep a batch with its `files` (by relative path: copies of local files, or bytes)."""
        name = f"{time.time_ns():020d}-{run_id}-{uuid.uuid4().hex[:8]}"
        path = self.root / f"{name}.json"
        entry = SpoolEntry(path, store, uri, run_id, operations, time.time())
        try:
            self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
            if files:
                _store_files(entry.files, files)
            payload = {"format": FORMAT_VERSION, "store": store, "uri": uri, "run_id": run_id,
                       "created": entry.created, "operations": operations}
            # durable: once add() returns, this entry is the only copy of the updates
            write_atomically(path, json.dumps(payload, indent=1).encode(), mode=0o600, durable=True)
        except OSError as err:
            raise TrackingError(f"Cannot keep the run's pending updates in {self.root}: {err.strerror}",
                                hint="check that PROJ_HOME is writable") from None
        return entry

    def entries(self, *, uri: str | None = None, run_id: str | None = None) -> list[SpoolEntry]:
        """Complete entries, oldest first, optionally only those for one server or one run."""
        found = []
        for path in sorted(self.root.glob("*.json")) if self.root.is_dir() else []:
            entry = _read(path)
            if entry is None or (uri is not None and entry.uri != uri):
                continue
            if run_id is None or entry.run_id == run_id:
                found.append(entry)
        return found

    def has_run(self, run_id: str) -> bool:
        return self.root.is_dir() and any(self.root.glob(f"*-{run_id}-*.json"))

    def remove(self, entry: SpoolEntry) -> None:
        """Forget a sent entry: the JSON first, so a crash in between leaves only debris."""
        try:
            entry.path.unlink()
        except FileNotFoundError:
            pass  # sent and removed by another `proj runs sync`
        shutil.rmtree(entry.files, ignore_errors=True)

    @contextmanager
    def sending(self) -> Iterator[None]:
        """One sender at a time, so two `proj runs sync` never send the same entry twice."""
        from runner.locking import file_lock

        with file_lock(self.root / ".send.lock"):
            yield


def _store_files(folder: Path, files: dict[str, Path | bytes]) -> None:
    folder.mkdir(mode=0o700)
    for name, content in files.items():
        target = folder / name
        if ".." in Path(name).parts or Path(name).is_absolute():
            raise ValueError(f"spooled file name {name!r} leaves its folder")
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            fd = os.open(target, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
            with os.fdopen(fd, "wb") as handle:
                handle.write(content)
            continue
        try:
            os.link(content, target)  # instant, and no second copy of a large model on disk
        except OSError:
            shutil.copyfile(content, target)  # another file system


def _read(path: Path) -> SpoolEntry | None:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None  # removed by a concurrent sender, or not ours
    if not isinstance(data, dict) or data.get("format") != FORMAT_VERSION:
        return None
    return SpoolEntry(path, data["store"], data["uri"], data["run_id"], data["operations"], data["created"])
