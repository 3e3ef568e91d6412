"""What a run leaves in its output folder (`$PROJ_OUTPUT_DIR`): metrics and artifacts.

Metrics are lines of JSON appended to `metrics.jsonl`, so any language can write them:

    {"key": "rmse", "value": 0.71, "step": 3, "timestamp": 1764288000.5}

`step` (a whole number from 0 to 2^63-1) and `timestamp` (seconds since the epoch) are optional.
A malformed line is reported with its number and skipped. The file is read as a stream, within
the limits of runner.limits: a run's summaries never need its points in memory. Everything else
in the folder is an artifact. Every file is read through runner.runfiles: an artifact is a
regular file inside the folder, and links are never followed.
"""

from __future__ import annotations

import json
import json.scanner
import math
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, NamedTuple

from runner.grammar import INT64_MAX
from runner.limits import ARTIFACTS_LISTED, METRIC_KEYS, METRIC_LINE_BYTES, METRICS_FILE_BYTES
from runner.runfiles import RunFileError, RunFolder, relative_parts

METRICS_FILE = "metrics.jsonl"
MAX_KEY_LENGTH = 250  # MLflow's own limit, so a key proj accepts is one MLflow accepts
MAX_LISTED_PROBLEMS = 20  # skipped lines reported one by one; the rest are counted
MAX_TIMESTAMP = 1e15  # seconds: far beyond any real date, small enough for milliseconds in 64 bits
_BLOCK = 1024 * 1024


class MetricPoint(NamedTuple):
    """One line of metrics.jsonl (a named tuple: a million of them are made on a big run's page)."""

    key: str
    value: float
    step: int | None = None
    timestamp: float | None = None


@dataclass(frozen=True)
class MetricSummary:
    """One metric of a run, summarised: last, min, max, count."""

    key: str
    last: float
    min: float
    max: float
    count: int
    last_step: int | None

    def as_dict(self) -> dict[str, Any]:
        return {"last": self.last, "min": self.min, "max": self.max, "count": self.count,
                "last_step": self.last_step}


class MetricsReading:
    """The summary of each metric, the lines skipped, and a way to go through the points again."""

    def __init__(self, by_key: Mapping[str, MetricSummary], problems: Iterable[str] = (),
                 points: Callable[[], Iterator[MetricPoint]] = lambda: iter(())) -> None:
        self._by_key, self._problems, self._points = by_key, tuple(problems), points

    @property
    def by_key(self) -> Mapping[str, MetricSummary]:
        return self._by_key

    @property
    def problems(self) -> tuple[str, ...]:
        """"metrics.jsonl line 3: ...; skipped", at most MAX_LISTED_PROBLEMS + 1 of them."""
        return self._problems

    def summaries(self) -> dict[str, MetricSummary]:
        return dict(self.by_key)

    def points(self) -> Iterator[MetricPoint]:
        """Every valid point, in the order written (read again from the file each time)."""
        return self._points()

    @classmethod
    def of_points(cls, points: Iterable[MetricPoint]) -> MetricsReading:
        """A reading of points that are already in memory (from a tracking server)."""
        kept = tuple(points)
        return cls(summarise(kept), (), lambda: iter(kept))


class _FileReading(MetricsReading):
    """metrics.jsonl, summarised when the summaries or the skipped lines are first asked for: a
    caller that only needs the points (a chart) or nothing at all reads the file once or never."""

    def __init__(self, folder: RunFolder, complete: bool) -> None:
        super().__init__({}, (), lambda: _scan(folder, complete, _Problems()))
        self._folder, self._complete, self._summarised = folder, complete, False

    @property
    def by_key(self) -> Mapping[str, MetricSummary]:
        self._summarise()
        return self._by_key

    @property
    def problems(self) -> tuple[str, ...]:
        self._summarise()
        return self._problems

    def _summarise(self) -> None:
        if not self._summarised:
            problems = _Problems()
            self._by_key = summarise(_scan(self._folder, self._complete, problems))
            self._problems, self._summarised = problems.result(), True


class Artifact(NamedTuple):
    """A file a run left in its outputs."""

    path: str  # relative, with forward slashes
    size: int


class _Summary:
    """Last, min, max, count of one metric, updated point by point (NaN never becomes min or max)."""

    __slots__ = ("last", "low", "high", "count", "step")

    def __init__(self) -> None:
        self.last, self.low, self.high, self.count = math.nan, math.inf, -math.inf, 0
        self.step: int | None = None

    def add(self, point: MetricPoint) -> None:
        value = point.value
        self.last, self.count, self.step = value, self.count + 1, point.step
        if value < self.low:
            self.low = value
        if value > self.high:
            self.high = value

    def result(self, key: str) -> MetricSummary:
        seen = self.low <= self.high  # False when every value was NaN
        return MetricSummary(key, self.last, self.low if seen else math.nan, self.high if seen else math.nan,
                             self.count, self.step)


def summarise(points: Iterable[MetricPoint]) -> dict[str, MetricSummary]:
    running: dict[str, _Summary] = {}
    for point in points:
        summary = running.get(point.key)
        if summary is None:
            summary = running[point.key] = _Summary()
        summary.add(point)
    return {key: running[key].result(key) for key in sorted(running)}


class _Problems:
    """The first MAX_LISTED_PROBLEMS problems word for word, then only how many more there were."""

    def __init__(self) -> None:
        self.listed: list[str] = []
        self.more = 0

    def add(self, text: str) -> None:
        if len(self.listed) < MAX_LISTED_PROBLEMS:
            self.listed.append(text)
        else:
            self.more += 1

    def result(self) -> tuple[str, ...]:
        extra = [f"{METRICS_FILE}: {self.more} more line{'s' if self.more > 1 else ''} skipped"] if self.more else []
        return (*self.listed, *extra)


def read_metrics(folder: RunFolder, *, complete: bool = True) -> MetricsReading:
    """`folder/metrics.jsonl`, read as a stream when its summaries or points are asked for.

    With `complete=False` (the run is still writing) an unterminated last line is left for
    later instead of being reported as malformed."""
    return _FileReading(folder, complete)


def _scan(folder: RunFolder, complete: bool, problems: _Problems) -> Iterator[MetricPoint]:
    try:
        handle = folder.open(METRICS_FILE)
    except FileNotFoundError:
        return
    except RunFileError as err:
        problems.add(f"{METRICS_FILE} {err.reason}; not read")
        return
    except OSError as err:
        problems.add(f"{METRICS_FILE} could not be opened ({err.strerror}); not read")
        return
    keys: set[str] = set()  # the keys accepted so far
    max_keys = METRIC_KEYS.get()
    with handle:
        for number, raw in _lines(handle, complete, problems):
            point, problem = _parse_line(raw) if raw is not None else (None, "line too long")
            if point is not None and point.key not in keys:
                problem = _key_problem(point.key, len(keys), max_keys)
                point = None if problem else point
            if point is None:
                problems.add(f"{METRICS_FILE} line {number}: {problem}; skipped")
                continue
            keys.add(point.key)
            yield point


def _key_problem(key: str, known: int, max_keys: int) -> str:
    """Why a key seen for the first time is refused ("" when it is not)."""
    if len(key) > MAX_KEY_LENGTH or any(ord(c) < 32 or ord(c) == 127 for c in key):
        return f"'key' must be at most {MAX_KEY_LENGTH} characters, without control characters"
    if known >= max_keys:
        return f"more than {max_keys} metric keys (PROJ_MAX_METRIC_KEYS)"
    return ""


def _lines(handle: BinaryIO, complete: bool, problems: _Problems) -> Iterator[tuple[int, bytes | None]]:
    """(number, content) of each non-blank line; None as content for a line over the length limit,
    which is skipped without being held in memory. Reads at most METRICS_FILE_BYTES."""
    max_line, budget = METRIC_LINE_BYTES.get(), METRICS_FILE_BYTES.get()
    number, pending, overlong = 0, bytearray(), False
    while budget > 0:
        block = handle.read(min(_BLOCK, budget))
        if not block:
            break
        budget -= len(block)
        *whole, tail = block.split(b"\n")
        for piece in whole:
            number += 1
            if overlong or len(pending) + len(piece) > max_line:
                yield number, None
            else:
                content = bytes(pending + piece) if pending else piece
                if content.strip():
                    yield number, content
            pending.clear()
            overlong = False
        if not overlong and len(pending) + len(tail) > max_line:
            overlong = True
            pending.clear()
        elif not overlong:
            pending += tail
    if budget <= 0 and handle.read(1):
        limit = METRICS_FILE_BYTES.get()
        problems.add(f"{METRICS_FILE} is larger than {limit} bytes; the rest was not read (PROJ_MAX_METRICS_BYTES)")
        return  # the line cut at the limit is not a line
    if complete and (overlong or pending.strip()):
        yield number + 1, None if overlong else bytes(pending)


# json.loads without its per-call checks: on a million short lines it takes half the time.
_SCAN = json.scanner.make_scanner(json.JSONDecoder())  # type: ignore[arg-type]  # the stub names the wrong type


def _json(raw: bytes) -> object:
    text = raw.decode("utf-8").strip()
    try:
        item, end = _SCAN(text, 0)
    except StopIteration:
        raise ValueError("no JSON value") from None
    if end != len(text):
        raise ValueError("text after the JSON value")
    return item


def _parse_line(raw: bytes) -> tuple[MetricPoint | None, str]:
    """The point a line holds, or why it holds none. `type(x) is int` also refuses booleans."""
    try:
        item = _json(raw)
    except (ValueError, RecursionError):  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        return None, "not valid JSON"
    if type(item) is not dict:
        return None, "not a JSON object"
    key, value, step, timestamp = item.get("key"), item.get("value"), item.get("step"), item.get("timestamp")
    if type(key) is not str or not key.strip():
        return None, "'key' must be a non-empty string"
    if type(value) is not float and type(value) is not int:
        return None, f"'value' of {key!r} must be a number"
    if type(value) is int and abs(value) > 1e308:
        return None, f"'value' of {key!r} is too large for a floating-point number"
    if step is not None and (type(step) is not int or not 0 <= step <= INT64_MAX):
        return None, f"'step' of {key!r} must be a whole number from 0 to {INT64_MAX}"
    if timestamp is not None and ((type(timestamp) is not float and type(timestamp) is not int)
                                  or not 0 <= timestamp <= MAX_TIMESTAMP):
        return None, f"'timestamp' of {key!r} must be a number of seconds since 1970"
    return MetricPoint(key, float(value), step, None if timestamp is None else float(timestamp)), ""


# --- artifacts ---------------------------------------------------------------------------------


def list_artifacts(folder: RunFolder, relative: str = "") -> Iterator[Artifact]:
    """The regular files under `folder/relative`, recursively, in name order; links and special
    files are left out."""
    for path, size in folder.files(relative):
        yield Artifact(path, size)


class ArtifactListing(NamedTuple):
    """The first artifacts of a run (ARTIFACTS_LISTED of them) and how many more there are."""

    shown: list[Artifact]
    more: int


def artifact_listing(artifacts: Iterable[Artifact]) -> ArtifactListing:
    limit = ARTIFACTS_LISTED.get()
    shown: list[Artifact] = []
    more = 0
    for artifact in artifacts:
        if len(shown) < limit:
            shown.append(artifact)
        else:
            more += 1
    return ArtifactListing(shown, more)


def artifact_path(root: Path, relative: str) -> Path:
    """`root/relative` for a path a user or a program gave; ValueError if it would leave `root`.

    Refuses absolute paths, `..`, NUL bytes, and any symlink on the way, so neither reading nor
    writing through an artifact name can reach outside the folder."""
    target = root
    for part in relative_parts(relative):
        target = target / part
        if target.is_symlink():
            raise RunFileError(relative, "goes through a symlink")
    return target
