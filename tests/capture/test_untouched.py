"""A capture the project never logged into settles without being read: the same result as
reading it, and any trace of the client's writing sends the run through the readers."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from helpers.records import new_record
from runner.capture.filestore import FileStore
from runner.capture.location import CaptureRun, create_capture, untouched
from runner.capture.runs import settle
from runner.capture.settled import untouched_settlement
from runner.capture.view import CaptureView
from runner.tracking.base import MlflowData
from runner.tracking.local import LocalStore

RUN = "b" * 32


def _laid_out(tmp_path: Path) -> tuple[Path, dict[str, bytes | None]]:
    root = tmp_path / RUN / "mlflow"
    return root, create_capture(root, CaptureRun(RUN, "churn", "proj:main", "ann", time.time()))


def test_an_untouched_capture_settles_as_reading_it_would(tmp_path):
    root, layout = _laid_out(tmp_path)
    assert untouched(root, layout)
    record = new_record(run_id=RUN, parameters={"alpha": "0.5"})
    read = settle(CaptureView(FileStore(tmp_path, (RUN, "mlflow"), main_run_id=RUN), RUN), record)
    assert read == untouched_settlement()
    assert read is not None and read.warnings(RUN) == []


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


# What an MLflow client leaves behind when it logs anything (mlflow 2 and 3 file stores).
CHANGES = {
    "a parameter": lambda run, root: _write(run / "params" / "alpha", "0.5"),
    "a nested metric key": lambda run, root: _write(run / "metrics" / "val" / "acc", "1 0.5 0\n"),
    "an artifact": lambda run, root: _write(run / "artifacts" / "model.pkl", "x"),
    "the run ended by the client": lambda run, root: (run / "meta.yaml").write_text(
        (run / "meta.yaml").read_text().replace("status: 1", "status: 3")),
    "meta.yaml rewritten to the same size": lambda run, root: (run / "meta.yaml").write_text(
        (run / "meta.yaml").read_text().replace("active", "ACTIVE")),
    "the file store's trash folder": lambda run, root: (root / ".trash").mkdir(),
    "a second run": lambda run, root: (root / "0" / ("c" * 32)).mkdir(),
    "a logged model": lambda run, root: _write(root / "0" / "models" / "m-1" / "meta.yaml", "name: m\n"),
    "a folder replaced by a link": lambda run, root: (
        (run / "tags").rmdir(), (run / "tags").symlink_to(run / "params")),
    "meta.yaml replaced by a link": lambda run, root: (
        os.replace(run / "meta.yaml", run / "meta.copy"), (run / "meta.yaml").symlink_to(run / "meta.copy")),
    "a folder removed": lambda run, root: (run / "metrics").rmdir(),
}


@pytest.mark.parametrize("change", sorted(CHANGES))
def test_anything_the_client_writes_counts(tmp_path, change):
    root, layout = _laid_out(tmp_path)
    CHANGES[change](root / "0" / RUN, root)
    assert not untouched(root, layout)


def test_the_store_settles_alike_with_and_without_knowing_the_layout(tmp_path):
    """The proj that started the run knows what it laid out; another (`proj runs refresh`) reads."""
    first, second = LocalStore(tmp_path / "store"), LocalStore(tmp_path / "store")
    quick = first.start_run(new_record())
    read = first.start_run(new_record())
    first.settle_mlflow(quick)
    second.settle_mlflow(read)
    assert first.get_run(quick.run_id).mlflow == second.get_run(read.run_id).mlflow == MlflowData(status="RUNNING")
    assert first.get_run(quick.run_id).child_runs == [] and first.take_warnings() == []

    logged = first.start_run(new_record())
    _write(tmp_path / "store" / "runs" / logged.run_id / "mlflow" / "0" / logged.run_id / "params" / "lr", "0.1")
    first.settle_mlflow(logged)  # known layout, but written into: read
    assert first.get_run(logged.run_id).mlflow.params == {"lr": "0.1"}
