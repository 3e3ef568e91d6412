"""A captured MLflow run in proj's terms: the run's MLflow data, and nested runs as child records.

Runs the project started itself (`mlflow.start_run(nested=True)`, or a second top-level
`start_run` once the first has ended) become child runs of the proj run: they share its source,
command and environment, carry what they logged, and point at their parent.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

from runner.capture.filestore import CapturedRun, FileStore
from runner.capture.settled import CapturedChild, Settled, direct_children  # re-exported: plugin stores use them
from runner.capture.view import CaptureView
from runner.outputs import MetricPoint, MetricsReading, summarise
from runner.tracking.base import MlflowData, RunRecord, RunStatus

__all__ = ["CapturedChild", "Settled", "child_record", "direct_children", "live_data", "open_capture", "settle",
           "with_points"]

_STATUSES = {"FINISHED": RunStatus.FINISHED, "FAILED": RunStatus.FAILED, "KILLED": RunStatus.KILLED}


def with_points(reading: MetricsReading, points: list[MetricPoint], problems: Iterable[str]) -> MetricsReading:
    """`reading` (metrics.jsonl) with the points the project logged with MLflow after its own:
    both kinds of metric side by side, in one reading."""
    if not points:
        return MetricsReading(reading.by_key, (*reading.problems, *problems), reading.points)

    def every_point() -> Iterator[MetricPoint]:
        yield from reading.points()
        yield from points

    captured = summarise(points)
    if captured.keys() & reading.by_key.keys():  # the same key both ways: summarise them together
        by_key = summarise(every_point())
    else:
        by_key = dict(sorted({**reading.by_key, **captured}.items()))
    return MetricsReading(by_key, (*reading.problems, *problems), every_point)


def open_capture(trusted: Path, parts: tuple[str, ...], run_id: str) -> CaptureView | None:
    """The run `run_id` of the capture folder `trusted/parts`; None when there is no such folder."""
    if not trusted.joinpath(*parts).is_dir():
        return None
    return CaptureView(FileStore(trusted, parts, main_run_id=parts[0] if parts else ""), run_id)


def live_data(view: CaptureView, record: RunRecord) -> RunRecord:
    """The record with what the project has logged so far (a read: nothing is written)."""
    data = view.data(record.parameters)
    if data is None:
        return record
    return dataclasses.replace(record, mlflow=data, child_runs=[run.run_id for run in view.children()])


def settle(view: CaptureView, record: RunRecord) -> Settled | None:
    """The record's MLflow data and its child runs, as the capture holds them at the run's end."""
    data = view.data(record.parameters)
    if data is None:
        return None
    children = []
    for run, parent in view.others():
        nested = CaptureView(view.store, run.run_id)
        children.append(CapturedChild(child_record(record, run, parent, nested), summarise(nested.metrics())))
        if run.status not in _STATUSES:
            view.store.problems.add(f"nested run {run.run_id} was still {run.status} when the run ended; "
                                    "it is recorded as FAILED")
    by_id = {child.record.run_id: child.record for child in children}
    for child in children:  # each nested run lists its own nested runs
        parent_record = by_id.get(child.record.parent_run_id or "")
        if parent_record is not None:
            parent_record.child_runs.append(child.record.run_id)
    data.problems = list(view.store.problems.items)  # those of the nested runs too
    return Settled(data, children)


def child_record(parent: RunRecord, run: CapturedRun, parent_id: str, view: CaptureView) -> RunRecord:
    """A nested MLflow run as a proj run: the parent's inputs, the nested run's own data."""
    data = view.data(()) or MlflowData()
    return dataclasses.replace(
        parent, run_id=run.run_id, run_name=run.name or run.run_id[:8],
        parameters=[],  # proj gave it none: what it logged is in `mlflow.params`
        status=_STATUSES.get(run.status, RunStatus.FAILED), start_time=run.start_time or parent.start_time,
        end_time=run.end_time or time.time(), exit_code=None, log=None, attachments=[], tags={}, metrics={},
        reproduction=None, sweep_id=None, job=None, mlflow=data, parent_run_id=parent_id, child_runs=[])
