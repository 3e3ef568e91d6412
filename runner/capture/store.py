"""A tracking store that captures what its runs log with MLflow into a folder of each run.

The local store is one; a plugin store with a local folder per run can be another. The store
says where a run's folder is and how to persist what the capture adds at the run's end; this
class points the entry point's MLflow client at the capture (`child_environment`) and shows
what it holds beside the run's own outputs: metrics, artifacts (models among them), and, while
the run runs, its MLflow parameters, tags and nested runs.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from runner.capture.location import CaptureRun, Layout, capture_variables, create_capture, untouched
from runner.tracking.base import RunRecord, RunStatus, TrackingStore

if TYPE_CHECKING:  # the readers are imported by the methods that read (a run's start needs none)
    from runner.capture.settled import Settled
    from runner.capture.view import CaptureView
    from runner.outputs import Artifact, MetricsReading

CAPTURE = "mlflow"  # the capture folder, inside the run's folder
MAX_NESTING = 32  # parent links followed to find a nested run's capture


class CapturingStore(TrackingStore):
    def __init__(self) -> None:
        self._warnings: list[str] = []
        self._layouts: dict[str, Layout] = {}  # the captures this process laid out, by run id

    @abstractmethod
    def runs_folder(self) -> Path:
        """The folder holding one folder per run (named by run id), which runs cannot replace."""

    @abstractmethod
    def parent_of(self, run_id: str) -> str | None:
        """The run a nested run belongs to; None for a run proj started (or an unknown one)."""

    @abstractmethod
    def save_settled(self, record: RunRecord, settled: Settled) -> None:
        """Keep what the capture adds to the ended run: its MLflow data and its child runs."""

    # --- during the run --------------------------------------------------------------------

    def create_capture(self, record: RunRecord) -> None:
        """Lay out the capture of a new run (called while its folder is made)."""
        self._layouts[record.run_id] = create_capture(
            self.runs_folder() / record.run_id / CAPTURE,
            CaptureRun(record.run_id, record.experiment, record.run_name, record.user, record.start_time))

    def _untouched(self, run_id: str) -> bool:
        """Whether this process laid out the run's capture and the project logged nothing into it:
        then there is nothing to read (most runs; their end does not load the capture's readers)."""
        layout = self._layouts.get(run_id)
        return layout is not None and untouched(self.runs_folder() / run_id / CAPTURE, layout)

    def child_environment(self, record: RunRecord) -> dict[str, str]:
        env = super().child_environment(record)
        capture = self.runs_folder() / record.run_id / CAPTURE
        if capture.is_dir():
            env.update(capture_variables(capture, record.run_id))
        return env

    # --- reading, live or settled ------------------------------------------------------------

    def list_artifacts(self, run_id: str) -> Iterator[Artifact]:
        """The output folder's files, then what the project logged with MLflow (models included)."""
        view = self.capture(run_id)
        taken = set()
        for artifact in super().list_artifacts(run_id):
            taken.add(artifact.path)
            yield artifact
        if view is not None:
            yield from (a for a in view.artifacts() if a.path not in taken)

    def open_artifact(self, run_id: str, relative: str) -> BinaryIO:
        try:
            return super().open_artifact(run_id, relative)
        except FileNotFoundError:
            view = self.capture(run_id)
            if view is None:
                raise
            return view.open(relative)

    def read_all_metrics(self, run_id: str, complete: bool) -> MetricsReading:
        """metrics.jsonl, then every metric the project logged with MLflow."""
        reading = super().read_metrics(run_id, complete=complete)
        if self._untouched(run_id):
            return reading
        from runner.capture.runs import with_points

        view = self.capture(run_id)
        return reading if view is None else with_points(reading, view.metrics(), view.store.problems.items)

    def with_live_capture(self, record: RunRecord) -> RunRecord:
        """A running run shows what the project has logged with MLflow so far (nothing is written)."""
        from runner.capture.runs import live_data

        view = self.capture(record.run_id) if record.status is RunStatus.RUNNING else None
        return live_data(view, record) if view is not None else record

    def capture(self, run_id: str) -> CaptureView | None:
        """The run's MLflow data: in its own capture, or (a nested run) in that of its proj run."""
        from runner.capture.runs import open_capture

        owner: str | None = run_id
        for _ in range(MAX_NESTING):
            if owner is None:
                return None
            view = open_capture(self.runs_folder(), (owner, CAPTURE), run_id)
            if view is not None:
                return view
            owner = self.parent_of(owner)
        return None

    # --- at the run's end --------------------------------------------------------------------

    def settle_mlflow(self, record: RunRecord) -> None:
        if self._untouched(record.run_id):
            from runner.capture.settled import untouched_settlement

            self.save_settled(record, untouched_settlement())
            return
        from runner.capture.runs import settle

        view = self.capture(record.run_id)
        settled = settle(view, record) if view is not None else None
        if settled is not None:
            self.save_settled(record, settled)
            self._warnings += settled.warnings(record.run_id)

    def take_warnings(self) -> list[str]:
        warnings, self._warnings = self._warnings, []
        return warnings
