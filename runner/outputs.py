"""What a run leaves in its output folder (`$PROJ_OUTPUT_DIR`): metrics and artifacts.

Metrics are lines of JSON appended to `metrics.jsonl`, so any language can write them:

    {"key": "rmse", "value": 0.71, "step": 3, "timestamp": 1764288000.5}

`step` (a whole number ≥ 0) and `timestamp` (seconds since the epoch) are optional. A malformed
line is reported with its number and skipped. Everything else in the folder is an artifact.
Symlinks are never followed: an artifact is a regular file inside the folder.
"""

from __future__ import annotations

import json
import math
import os
import stat
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

METRICS_FILE = "metrics.jsonl"
MAX_METRIC_LINE = 64 * 1024


@dataclass(frozen=True)
class MetricPoint:
    key: str
    value: float
    step: int | None = None
    timestamp: float | None = None


@dataclass(frozen=True)
class MetricSummary:
    key: str
    last: float
    min: float
    max: float
    count: int
    last_step: int | None

    def as_dict(self) -> dict[str, Any]:
        return {"last": self.last, "min": self.min, "max": self.max, "count": self.count,
                "last_step": self.last_step}


@dataclass(frozen=True)
class MetricsReading:
    points: tuple[MetricPoint, ...]
    problems: tuple[str, ...]  # "metrics.jsonl line 3: ...", one per skipped line

    def summaries(self) -> dict[str, MetricSummary]:
        return summarise(self.points)


@dataclass(frozen=True)
class Artifact:
    path: str  # relative, with forward slashes
    size: int


def read_metrics(path: Path, *, complete: bool = True) -> MetricsReading:
    """Every valid metric line of `path`, in order.

    With `complete=False` (the run is still writing) an unterminated last line is left for
    later instead of being reported as malformed.
    """
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return MetricsReading((), ())
    lines = data.split(b"\n")
    if not complete and not data.endswith(b"\n"):
        lines = lines[:-1]
    points, problems = [], []
    for number, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        point, problem = _parse_line(raw)
        if point is not None:
            points.append(point)
        else:
            problems.append(f"{METRICS_FILE} line {number}: {problem}; skipped")
    return MetricsReading(tuple(points), tuple(problems))


def summarise(points: tuple[MetricPoint, ...] | list[MetricPoint]) -> dict[str, MetricSummary]:
    grouped: dict[str, list[MetricPoint]] = {}
    for point in points:
        grouped.setdefault(point.key, []).append(point)
    summaries = {}
    for key, series in sorted(grouped.items()):
        values = [p.value for p in series]
        finite = [v for v in values if not math.isnan(v)] or values
        last = series[-1]
        summaries[key] = MetricSummary(key, last.value, min(finite), max(finite), len(series), last.step)
    return summaries


def _parse_line(raw: bytes) -> tuple[MetricPoint | None, str]:
    if len(raw) > MAX_METRIC_LINE:
        return None, f"line longer than {MAX_METRIC_LINE} bytes"
    try:
        item = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return None, "not valid JSON"
    if not isinstance(item, dict):
        return None, "not a JSON object"
    key, value, step, timestamp = item.get("key"), item.get("value"), item.get("step"), item.get("timestamp")
    if not isinstance(key, str) or not key.strip():
        return None, "'key' must be a non-empty string"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None, f"'value' of {key!r} must be a number"
    if step is not None and (isinstance(step, bool) or not isinstance(step, int) or step < 0):
        return None, f"'step' of {key!r} must be a whole number >= 0"
    if timestamp is not None and (isinstance(timestamp, bool) or not isinstance(timestamp, (int, float))):
        return None, f"'timestamp' of {key!r} must be a number of seconds"
    return MetricPoint(key, float(value), step, None if timestamp is None else float(timestamp)), ""


def list_artifacts(root: Path) -> list[Artifact]:
    """Regular files under `root`, recursively; symlinks and special files are left out."""
    found = []
    for folder, dirs, files in os.walk(root, followlinks=False):
        dirs[:] = sorted(d for d in dirs if not os.path.islink(os.path.join(folder, d)))
        for name in sorted(files):
            full = os.path.join(folder, name)
            info = os.lstat(full)
            if stat.S_ISREG(info.st_mode):
                found.append(Artifact(PurePosixPath(os.path.relpath(full, root)).as_posix(), info.st_size))
    return found


def artifact_path(root: Path, relative: str) -> Path:
    """`root/relative` for a path a user or a program gave; ValueError if it would leave `root`.

    Refuses absolute paths, `..`, and any symlink on the way, so neither reading nor writing
    through an artifact name can reach outside the run's folder.
    """
    parts = PurePosixPath(relative.replace("\\", "/")).parts
    if relative.startswith(("/", "\\")) or any(part == ".." for part in parts):
        raise ValueError(f"artifact path {relative!r} must stay inside the run's output folder")
    target = root
    for part in (p for p in parts if p not in ("", ".")):
        target = target / part
        if target.is_symlink():
            raise ValueError(f"artifact path {relative!r} goes through a symlink")
    return target
