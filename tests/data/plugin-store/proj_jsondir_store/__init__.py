"""A tracking store for proj that keeps each run as a JSON file: `jsondir:///path/to/folder`.

    <folder>/<run id>.json        the run record
    <folder>/<run id>/<file>      the run's output log and attached files

It only keeps and reads records: which status a run gets, when a run is LOST, and what a
scheduler's answer means are decided by proj (runner.lifecycle), for this store as for its own.
"""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path
from urllib.parse import unquote, urlsplit

from runner.errors import RunNotFoundError, TrackingError
from runner.tracking.base import JobRecord, RunQuery, RunRecord, RunStatus, TrackingStore

LOG_NAME = "output.log"


class JsonDirStore(TrackingStore):
    supports_detached_runs = True  # any proj can end a run here: `--detach` works

    def __init__(self, uri: str) -> None:
        self.uri = uri
        self.folder = Path(unquote(urlsplit(uri).path))

    def check_writable(self) -> None:
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise TrackingError(f"Cannot record runs in {self.folder}: {err.strerror}") from None
        if not os.access(self.folder, os.W_OK):
            raise TrackingError(f"Cannot record runs in {self.folder}: not writable")

    def start_run(self, record: RunRecord) -> RunRecord:
        record.run_id = uuid.uuid4().hex
        (self.folder / record.run_id).mkdir()
        record.log = str(self.log_path(record.run_id))
        self._save(record)
        return record

    def log_path(self, run_id: str) -> Path:
        return self.folder / run_id / LOG_NAME

    def attach(self, run_id: str, name: str, data: bytes) -> None:
        (self.folder / run_id / name).write_bytes(data)
        record = self._load(run_id)
        record.attachments.append(name)
        self._save(record)

    def end_run(self, run_id: str, status: RunStatus, exit_code: int | None, end_time: float) -> RunRecord:
        record = self._load(run_id)
        if record.status is RunStatus.RUNNING:
            record.status, record.exit_code, record.end_time = status, exit_code, end_time
            self._save(record)
        return record

    def set_job(self, run_id: str, job: JobRecord) -> RunRecord:
        record = self._load(run_id)
        record.job = job
        self._save(record)
        return record

    def get_run(self, ref: str) -> RunRecord:
        matches = [p.stem for p in self.folder.glob("*.json") if p.stem.startswith(ref)]
        if len(matches) != 1:
            raise RunNotFoundError(f"{len(matches)} runs match {ref!r} in {self.folder}")
        return self._load(matches[0])

    def list_runs(self, query: RunQuery) -> list[RunRecord]:
        records = [self._load(p.stem) for p in self.folder.glob("*.json")]
        records = [r for r in records if query.experiment in (None, r.experiment)
                   and query.status in (None, r.status)
                   and all(str(r.parameter_values().get(k)) == v for k, v in query.parameters)]
        records.sort(key=lambda r: r.start_time, reverse=True)
        return records[query.offset:query.offset + query.limit]

    def read_attachment(self, run_id: str, name: str) -> bytes:
        try:
            return (self.folder / run_id / name).read_bytes()
        except FileNotFoundError:
            raise RunNotFoundError(f"Run {run_id} has no file {name!r}") from None

    def _save(self, record: RunRecord) -> None:
        partial = self.folder / f".{record.run_id}.partial"
        partial.write_text(json.dumps(record.to_dict(), indent=1))
        partial.replace(self.folder / f"{record.run_id}.json")  # readers never see half a record

    def _load(self, run_id: str) -> RunRecord:
        try:
            return RunRecord.from_dict(json.loads((self.folder / f"{run_id}.json").read_text()))
        except FileNotFoundError:
            raise RunNotFoundError(f"No run {run_id!r} in {self.folder}") from None
