"""Reading an MLflow file store the way proj lays it out (location) and clients write it (the
values below are what mlflow 3.17.2 and 2.22.5 wrote in the capture tests)."""

from __future__ import annotations

import time

import yaml

from runner.capture.filestore import FileStore, TooLarge, read_bounded
from runner.capture.location import CaptureRun, capture_variables, create_capture
from runner.capture.view import CaptureView
from runner.runfiles import RunFolder

RUN = "a" * 32


def _capture(tmp_path):
    create_capture(tmp_path / RUN / "mlflow", CaptureRun(RUN, "churn", "proj:main", "ann", time.time()))
    run = tmp_path / RUN / "mlflow" / "0" / RUN
    return run, CaptureView(FileStore(tmp_path, (RUN, "mlflow"), main_run_id=RUN), RUN)


def test_the_run_proj_creates_is_running_in_an_experiment_named_as_the_proj_one(tmp_path):
    _, view = _capture(tmp_path)
    run = view.run()
    assert run is not None and (run.status, run.name, run.params, run.tags) == ("RUNNING", "proj:main", {}, {})
    experiment = yaml.safe_load((tmp_path / RUN / "mlflow" / "0" / "meta.yaml").read_text())
    assert experiment["name"] == "churn" and experiment["experiment_id"] == "0"
    variables = capture_variables(tmp_path / RUN / "mlflow", RUN)
    assert variables["MLFLOW_TRACKING_URI"] == (tmp_path / RUN / "mlflow").as_uri()
    assert (variables["MLFLOW_RUN_ID"], variables["MLFLOW_EXPERIMENT_ID"]) == (RUN, "0")
    assert variables["MLFLOW_ALLOW_FILE_STORE"] == "true"


def test_metrics_by_step_once_each_with_nested_keys_and_bad_lines_reported(tmp_path):
    run, view = _capture(tmp_path)
    (run / "metrics" / "loss").write_text("1795993782346 0.9 0\n1795993782347 0.5 1\n1795993782346 0.9 0\n")
    (run / "metrics" / "val").mkdir()
    (run / "metrics" / "val" / "acc").write_text("1795993782400 0.8 2 m-123\ngarbage\n")
    points = [(p.key, p.value, p.step) for p in view.metrics()]
    assert points == [("loss", 0.9, 0), ("loss", 0.5, 1), ("val/acc", 0.8, 2)]
    assert view.store.problems.items == ["MLflow metric 'val/acc', line 2: not '<timestamp> <value> <step>'; skipped"]


def test_a_second_run_without_a_parent_tag_is_a_child_of_the_proj_run(tmp_path):
    run, view = _capture(tmp_path)
    other = run.parent / ("b" * 32)
    (other / "params").mkdir(parents=True)
    (other / "meta.yaml").write_text("run_name: second\nstatus: 3\nstart_time: 1795993782000\n")
    (other / "params" / "fold").write_text("2")
    [child] = view.children()  # no mlflow.parentRunId tag: started after the first run ended
    assert (child.name, child.status, child.params) == ("second", "FINISHED", {"fold": "2"})
    nested = run.parent / ("c" * 32)
    (nested / "tags").mkdir(parents=True)
    (nested / "meta.yaml").write_text("run_name: inner\nstatus: 1\n")
    (nested / "tags" / "mlflow.parentRunId").write_text("b" * 32)
    assert [r.name for r in view.children()] == ["second"]  # the inner one is the second's
    assert CaptureView(view.store, "b" * 32).children()[0].name == "inner"


def test_reads_are_bounded(tmp_path):
    (tmp_path / "big").write_bytes(b"x" * 100)
    folder = RunFolder(tmp_path, ())
    assert read_bounded(folder, "big", 100) == b"x" * 100
    try:
        read_bounded(folder, "big", 99)
    except TooLarge:
        pass
    else:
        raise AssertionError("a file over the limit was read")
    assert read_bounded(folder, "missing", 10) is None
