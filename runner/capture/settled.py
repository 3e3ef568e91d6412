"""What the capture adds to a run once it has ended: the run's MLflow data and its nested runs.

Stores persist it (`CapturingStore.save_settled`); `runner.capture.runs` reads it from a capture.
A leaf, so that a run whose capture was never touched settles without loading the readers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

from runner.tracking.base import MlflowData, RunRecord

if TYPE_CHECKING:
    from runner.outputs import MetricSummary


class CapturedChild(NamedTuple):
    """A nested run the project started with MLflow, and its metrics."""

    record: RunRecord
    metrics: dict[str, MetricSummary]


class Settled(NamedTuple):
    """What the capture adds to a run once it has ended."""

    data: MlflowData
    children: list[CapturedChild]

    def warnings(self, run_id: str) -> list[str]:
        from runner.capture.conflicts import conflict_warning

        found = [conflict_warning(run_id, c, "the run's parameters") for c in self.data.conflicts]
        return found + [f"run {run_id}: the project's MLflow data was read in part: {p}" for p in self.data.problems]


def untouched_settlement() -> Settled:
    """What settling a capture the project never logged into gives: proj's own MLflow run, still
    RUNNING in MLflow's terms (nothing ended it), with nothing logged and no nested runs. A test
    checks that reading such a capture (runner.capture.runs.settle) gives exactly this."""
    return Settled(MlflowData(status="RUNNING"), [])


def direct_children(settled: Settled, run_id: str) -> list[str]:
    return [c.record.run_id for c in settled.children if c.record.parent_run_id == run_id]
