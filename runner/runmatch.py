"""A run filter (runner.runfilter) checked against one run record in memory.

Stores that cannot check a comparison themselves (the MLflow server's leftovers, plugin stores)
use `matches`; `run_params` and `run_tags` say what a record's parameters and tags are, for every
store alike: proj's own values first, then what the project logged with MLflow.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from runner.tracking.base import RunRecord

if TYPE_CHECKING:  # the filter's parser: not for `run_tags`, which every run's recording uses
    from runner.runfilter import Kind, RunFilter


def matches(run_filter: RunFilter | None, record: RunRecord) -> bool:
    """Whether the record passes every comparison of the filter (no filter: every record does)."""
    from runner.runfilter import compare

    return run_filter is None or all(compare(c, lookup(record, c.kind, c.key)) for c in run_filter.comparisons)


def lookup(record: RunRecord, kind: Kind, key: str) -> float | str | None:
    """What a comparison reads from a record: None when the run has no such value."""
    if kind == "metric":
        summary = record.metrics.get(key)
        last = summary.get("last") if summary else None
        return None if last is None else float(last)
    if kind == "param":
        return run_params(record).get(key)
    if kind == "tag":
        return run_tags(record).get(key)
    return _ATTRIBUTES[key](record)


def run_params(record: RunRecord) -> dict[str, str]:
    """The run's parameters: proj's own values, then those the project logged with MLflow."""
    logged = record.mlflow.params if record.mlflow else {}
    return {**logged, **{name: str(value) for name, value in record.parameter_values().items()}}


def run_tags(record: RunRecord) -> dict[str, str]:
    """The run's tags: the user's (proj run --tag, proj runs tag), then those the project set with MLflow."""
    logged = record.mlflow.tags if record.mlflow else {}
    return {**logged, **record.tags}


def _millis(seconds: float | None) -> float | None:
    return None if seconds is None else seconds * 1000


_ATTRIBUTES: dict[str, Callable[[RunRecord], float | str | None]] = {
    "run_id": lambda r: r.run_id,
    "run_name": lambda r: r.run_name,
    "user_id": lambda r: r.user,
    "status": lambda r: r.status.value,
    "entry_point": lambda r: r.entry_point,
    "sweep_id": lambda r: r.sweep_id,
    "experiment": lambda r: r.experiment,
    "source": lambda r: r.source.uri,
    "commit": lambda r: r.source.commit,
    "backend": lambda r: r.backend,
    "start_time": lambda r: _millis(r.start_time),
    "end_time": lambda r: _millis(r.end_time),
    "exit_code": lambda r: None if r.exit_code is None else float(r.exit_code),
    "duration": lambda r: r.duration,
}
