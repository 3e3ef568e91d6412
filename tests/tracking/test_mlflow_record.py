"""The mapping between proj's run record and an MLflow run's tags and parameters."""

from __future__ import annotations

import math

from runner.outputs import MetricPoint
from runner.tracking import mlflow_record as mapping
from runner.tracking.base import (
    EnvironmentRecord,
    ParameterRecord,
    Reproduction,
    RunRecord,
    RunStatus,
    SourceRecord,
)


def _record(**changes) -> RunRecord:
    values = dict(
        experiment="exp", run_name="tracked:main", entry_point="main", command="python train.py 0.5",
        source=SourceRecord(uri="https://git.example.com/t/p.git", kind="git", path="/tmp/checkout",
                            version="v1", commit="c" * 40, dirty=False, repo_url="https://git.example.com/t/p.git"),
        parameters=[ParameterRecord("alpha", "float", "0.5", 0.5, "0.5", True),
                    ParameterRecord("data", "path", None, "/abs/data", "/abs/data", True)],
        environment=EnvironmentRecord(kind="docker", key="k" * 64, python="3.11.2", lock="image.lock",
                                      details={"image_uri": "tracked:ccccccc", "image_id": "sha256:abc"}),
        user="ann", host="box", platform="Linux", python_version="3.11.7", proj_version="0.1.0",
        launcher="12:34", start_time=1700000000.5, backend="local", run_id="f" * 32,
    )
    values.update(changes)
    return RunRecord(**values)


def _as_mlflow_run(record: RunRecord, status: str = "FINISHED", extra_tags: dict | None = None) -> dict:
    tags = {**mapping.mlflow_tags(record), **mapping.proj_tags(record), **(extra_tags or {})}
    return {"info": {"run_id": record.run_id, "run_name": record.run_name, "status": status,
                     "start_time": int(record.start_time * 1000), "end_time": 1700000009000,
                     "artifact_uri": f"mlflow-artifacts:/3/{record.run_id}/artifacts"},
            "data": {"tags": [{"key": k, "value": v} for k, v in tags.items()],
                     "params": [{"key": k, "value": v} for k, v in mapping.mlflow_params(record.parameters).items()]}}


def test_mlflows_own_project_tags_are_set():
    tags = mapping.mlflow_tags(_record())
    assert tags == {
        "mlflow.user": "ann", "mlflow.source.name": "https://git.example.com/t/p.git",
        "mlflow.source.type": "PROJECT", "mlflow.project.entryPoint": "main", "mlflow.project.env": "docker",
        "mlflow.project.backend": "local", "mlflow.runName": "tracked:main",
        "mlflow.source.git.commit": "c" * 40, "mlflow.source.git.repoURL": "https://git.example.com/t/p.git",
        "mlflow.docker.image.uri": "tracked:ccccccc", "mlflow.docker.image.id": "sha256:abc"}


def test_a_record_survives_the_trip_through_mlflow():
    original = _record(tags={"team": "vision"}, reproduction=Reproduction(of="e" * 32, drift=["lock"]),
                       sweep_id="sweep-1")
    back = mapping.record_from_run(_as_mlflow_run(original, extra_tags={"proj.exit_code": "0"}), "exp")
    assert back.parameters == original.parameters
    assert back.source == original.source and back.environment == original.environment
    assert (back.command, back.launcher, back.host, back.proj_version) == \
        ("python train.py 0.5", "12:34", "box", "0.1.0")
    assert (back.status, back.exit_code, back.end_time) == (RunStatus.FINISHED, 0, 1700000009.0)
    assert back.start_time == 1700000000.5 and back.tags == {"team": "vision"}
    assert back.reproduction == original.reproduction and back.sweep_id == "sweep-1"
    assert back.log == f"mlflow-artifacts:/3/{'f' * 32}/artifacts/proj/output.log"


def test_settings_that_shaped_the_run_survive_the_trip_and_older_runs_have_none():
    environment = EnvironmentRecord(kind="docker", options={"build_image": False, "docker_args": ["env=TOKEN"]})
    original = _record(environment=environment, backend="slurm", backend_config={"partition": "gpu"})
    back = mapping.record_from_run(_as_mlflow_run(original), "exp")
    assert back.environment.options == {"build_image": False, "docker_args": ["env=TOKEN"]}
    assert (back.backend, back.backend_config) == ("slurm", {"partition": "gpu"})
    older = mapping.record_from_run(_as_mlflow_run(_record()), "exp")  # recorded before proj kept them
    assert (older.environment.options, older.backend_config) == (None, None)
    nothing = mapping.record_from_run(_as_mlflow_run(_record(backend_config={})), "exp")
    assert nothing.backend_config == {}


def test_values_beyond_mlflows_limits_are_cut_and_parameters_fall_back_to_mlflows():
    huge = "x" * 9000
    record = _record(command=huge, parameters=[ParameterRecord("text", "string", huge, huge, huge, True)])
    assert len(mapping.mlflow_params(record.parameters)["text"]) == mapping.MAX_PARAM_VALUE
    assert len(mapping.proj_tags(record)["proj.command"]) == mapping.MAX_TAG_VALUE
    back = mapping.record_from_run(_as_mlflow_run(record), "exp")  # proj.parameters was cut: not JSON
    assert [(p.name, p.type, p.value) for p in back.parameters] == [("text", "string", "x" * 6000)]


def test_batches_stay_within_100_parameters_and_100_tags():
    params = {f"p{i}": str(i) for i in range(250)}
    tags = {f"t{i}": str(i) for i in range(120)}
    batches = list(mapping.batches(params, tags))
    assert [(len(b["params"]), len(b["tags"])) for b in batches] == [(100, 100), (100, 20), (50, 0)]


def test_metrics_go_in_batches_of_1000_and_names_mlflow_refuses_are_left_out():
    points = [MetricPoint("loss", 0.5, step=i, timestamp=1700000000.25) for i in range(1500)]
    points += [MetricPoint("../escape", 1.0), MetricPoint("bad!name", 1.0), MetricPoint("nan", math.nan),
               MetricPoint("up", math.inf)]
    batches, refused = mapping.metric_batches("r" * 32, points, default_time=1700000001.0)
    assert [len(b["metrics"]) for b in batches] == [1000, 502]
    assert refused == ["../escape", "bad!name"]
    assert batches[0]["metrics"][3] == {"key": "loss", "value": 0.5, "step": 3, "timestamp": 1700000000250}
    # MLflow's JSON reader takes non-finite values only spelled as strings.
    assert batches[1]["metrics"][-2:] == [{"key": "nan", "value": "NaN", "step": 0, "timestamp": 1700000001000},
                                          {"key": "up", "value": "Infinity", "step": 0, "timestamp": 1700000001000}]
