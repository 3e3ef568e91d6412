"""Reading the MLflow file store a run's MLflow client wrote (see runner.capture.location).

The layout, as mlflow and mlflow-skinny 2.x and 3.x write it:

    <exp>/<run>/meta.yaml              run_name, status (1 RUNNING ... 5 KILLED), times in ms
    <exp>/<run>/params/<key>           the value, as text
    <exp>/<run>/tags/<key>             the value, as text (`mlflow.parentRunId` links nested runs)
    <exp>/<run>/metrics/<key>          one line per value: "<ms> <value> <step>[ <more>]"
    <exp>/<run>/artifacts/...          mlflow.log_artifact(s); MLflow 2 models (a folder with MLmodel)
    <exp>/models/<model id>/meta.yaml  MLflow 3 logged models: name, source_run_id
    <exp>/models/<model id>/artifacts/ the model's files (MLmodel, the serialised model, ...)

Keys may contain `/` (MLflow allows it: `a/b` is the file `b` in the folder `a`). Everything is
read through runner.runfiles (never through a link, only regular files), within the limits
below; what cannot be read is left out and described in `problems`.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from runner.capture.location import EXPERIMENT_ID
from runner.errors import SpecError
from runner.outputs import Artifact, MetricPoint
from runner.runfiles import RunFileError, RunFolder

MAX_META_BYTES = 64 * 1024
MAX_VALUE_BYTES = 64 * 1024  # a parameter or tag (MLflow itself keeps at most 6000 / 8000 characters)
MAX_METRIC_FILE_BYTES = 64 * 1024**2
MAX_KEYS = 1000  # parameters, tags or metrics of one run
MAX_RUNS = 1000  # nested runs of one proj run
MAX_MODELS = 1000  # MLflow 3 logged models of one proj run and its nested runs
MAX_FILES = 100_000  # artifacts of one run
MAX_KEY_DEPTH = 4  # `a/b/c/d`: folders inside params/, tags/ or metrics/
STATUSES = {1: "RUNNING", 2: "SCHEDULED", 3: "FINISHED", 4: "FAILED", 5: "KILLED"}
PARENT_TAG = "mlflow.parentRunId"


@dataclass(frozen=True)
class CapturedRun:
    run_id: str
    name: str
    status: str  # RUNNING, SCHEDULED, FINISHED, FAILED or KILLED, as MLflow recorded it
    start_time: float | None
    end_time: float | None
    params: dict[str, str]
    tags: dict[str, str]

    @property
    def parent_run_id(self) -> str | None:
        return self.tags.get(PARENT_TAG)


@dataclass
class Problems:
    """What could not be read, in words for the user; each once."""

    items: list[str] = field(default_factory=list)

    def add(self, message: str) -> None:
        if message not in self.items and len(self.items) < 100:
            self.items.append(message)


class FileStore:
    """The capture folder of one proj run: `trusted/parts...` (see RunFolder)."""

    def __init__(self, trusted: Path, parts: tuple[str, ...], main_run_id: str = "") -> None:
        self.root = RunFolder(trusted, parts)
        self.experiment = self.root.child(EXPERIMENT_ID)
        self.main_run_id = main_run_id  # proj's own run: problems of the others name them
        self.problems = Problems()

    def where(self, run_id: str) -> str:
        """How a problem names the run it was found in: nothing for proj's own."""
        return "" if run_id == self.main_run_id else f"nested run {run_id}: "

    def run_ids(self) -> list[str]:
        """The runs in the store: proj's own and every run the project started (nested or not)."""
        ids = [name for name in self.experiment.entries(folders=True) if _is_run_id(name)]
        if len(ids) > MAX_RUNS:
            self.problems.add(f"the project's MLflow logging holds {len(ids)} runs; only {MAX_RUNS} are read")
        return ids[:MAX_RUNS]

    def run(self, run_id: str) -> CapturedRun | None:
        """The run's name, status, times, parameters and tags; None if it has no readable meta.yaml."""
        folder = self.experiment.child(run_id)
        meta = self.yaml(folder, "meta.yaml", self.where(run_id) or "the run: ")
        if meta is None:
            return None
        status = meta.get("status")
        return CapturedRun(
            run_id=run_id, name=_text(meta.get("run_name")),
            status=STATUSES.get(status, "RUNNING") if isinstance(status, int) else "RUNNING",
            start_time=_seconds(meta.get("start_time")), end_time=_seconds(meta.get("end_time")),
            params=self.values(folder.child("params"), f"{self.where(run_id)}parameter"),
            tags=self.values(folder.child("tags"), f"{self.where(run_id)}tag"))

    def metrics(self, run_id: str) -> list[MetricPoint]:
        """Every value of every metric the run logged, each key's values by step, then time.

        A value logged twice with the same step and time counts once, as on an MLflow server
        (MLflow 3 writes a run's metric again when it links it to a model it logs)."""
        folder = self.experiment.child(run_id, "metrics")
        points: list[MetricPoint] = []
        for key in _keys(folder, MAX_KEY_DEPTH, self.problems, f"{self.where(run_id)}metric"):
            series = set(self._metric_series(folder, key, run_id))
            points += sorted(series, key=lambda p: (p.step or 0, p.timestamp or 0.0, p.value))
        return points

    def artifacts(self, run_id: str) -> list[Artifact]:
        return self.files(self.experiment.child(run_id, "artifacts"))

    def artifact_folder(self, run_id: str) -> RunFolder:
        return self.experiment.child(run_id, "artifacts")

    def model_ids(self) -> list[str]:
        """MLflow 3 logged models of any run in the capture (each names its run: source_run_id)."""
        ids = [name for name in self.experiment.child("models").entries(folders=True) if name.startswith("m-")]
        if len(ids) > MAX_MODELS:
            self.problems.add(f"the project's MLflow logging holds {len(ids)} models; only {MAX_MODELS} are read")
        return ids[:MAX_MODELS]

    def model_folder(self, model_id: str) -> RunFolder:
        return self.experiment.child("models", model_id)

    def files(self, folder: RunFolder) -> list[Artifact]:
        found = list(itertools.islice(folder.files(), MAX_FILES + 1))
        if len(found) > MAX_FILES:
            self.problems.add(f"more than {MAX_FILES} files in {'/'.join(folder.parts[-3:])}; "
                              "the rest are not listed")
        return [Artifact(path, size) for path, size in found[:MAX_FILES]]

    def yaml(self, folder: RunFolder, name: str, what: str, limit: int = MAX_META_BYTES) -> dict[str, Any] | None:
        """A YAML mapping MLflow wrote; None (and a problem) when it is missing, too big or bad."""
        try:
            raw = read_bounded(folder, name, limit)
        except TooLarge:
            self.problems.add(f"{what}{name} is larger than {_kib(limit)}; left out")
            return None
        if raw is None:
            return None
        from runner.yamldoc import parse_yaml  # PyYAML, only once there is a capture to read

        try:
            data = parse_yaml(raw.decode("utf-8", errors="replace"), Path(name)).data
        except SpecError as err:
            self.problems.add(f"{what}{name} is not valid YAML ({err.problems[0].message}); left out")
            return None
        if not isinstance(data, dict):
            self.problems.add(f"{what}{name} is not a YAML mapping; left out")
            return None
        return data

    def values(self, folder: RunFolder, what: str) -> dict[str, str]:
        """Parameter or tag files, by key; `what` names them in problems ("tag", "nested run ...: tag")."""
        values: dict[str, str] = {}
        for key in _keys(folder, MAX_KEY_DEPTH, self.problems, what):
            *path, name = key.split("/")
            try:
                raw = read_bounded(folder.child(*path), name, MAX_VALUE_BYTES)
            except TooLarge:
                self.problems.add(f"{what} {key!r} is larger than {_kib(MAX_VALUE_BYTES)}; left out")
                continue
            if raw is not None:
                values[key] = raw.decode("utf-8", errors="replace")
        return values

    def _metric_series(self, folder: RunFolder, key: str, run_id: str) -> list[MetricPoint]:
        *path, name = key.split("/")
        try:
            raw = read_bounded(folder.child(*path), name, MAX_METRIC_FILE_BYTES)
        except TooLarge:
            self.problems.add(f"{self.where(run_id)}metric {key!r} has more than {_kib(MAX_METRIC_FILE_BYTES)} "
                              "of values; left out")
            return []
        points = []
        for number, line in enumerate((raw or b"").decode("utf-8", errors="replace").splitlines(), start=1):
            point = _metric_point(key, line)
            if point is None:
                if line.strip():
                    self.problems.add(f"{self.where(run_id)}MLflow metric {key!r}, line {number}: not "
                                      "'<timestamp> <value> <step>'; skipped")
                continue
            points.append(point)
        return points


class TooLarge(ValueError):
    """A file holds more than the limit it is read with."""


def read_bounded(folder: RunFolder, name: str, limit: int) -> bytes | None:
    """The regular file `name` of `folder`, or None when it is missing, a link or not a file;
    TooLarge when it holds more than `limit` bytes (only limit + 1 are ever read)."""
    try:
        with folder.open(name) as handle:
            data = handle.read(limit + 1)
    except (OSError, RunFileError):
        return None
    if len(data) > limit:
        raise TooLarge(f"{name} is larger than {limit} bytes")
    return data


def _keys(folder: RunFolder, depth: int, problems: Problems, what: str) -> list[str]:
    """Keys stored as files below `folder` (`a/b` for the file b in the folder a), at most MAX_KEYS."""
    keys = list(folder.entries(folders=False))
    if depth > 0:
        for sub in folder.entries(folders=True):
            keys += [f"{sub}/{key}" for key in _keys(folder.child(sub), depth - 1, problems, what)]
    if len(keys) > MAX_KEYS:
        problems.add(f"{len(keys)} {what}s; only the first {MAX_KEYS} are read")
    return sorted(keys)[:MAX_KEYS]


def _kib(size: int) -> str:
    return f"{size // 1024} KiB" if size < 1024**2 else f"{size // 1024**2} MiB"


def _metric_point(key: str, line: str) -> MetricPoint | None:
    fields = line.split()
    if len(fields) < 2:
        return None
    try:
        timestamp, value = int(fields[0]), float(fields[1])
        step = int(fields[2]) if len(fields) > 2 else 0
    except ValueError:
        return None
    if step < 0 or timestamp < 0:
        return None
    return MetricPoint(key, value, step, timestamp / 1000)


def _is_run_id(name: str) -> bool:
    return len(name) == 32 and all(c in "0123456789abcdef" for c in name)


def _seconds(value: Any) -> float | None:
    return value / 1000 if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def _text(value: Any) -> str:
    return value if isinstance(value, str) else "" if value is None else str(value)
