"""A project's own MLflow logging on a real MLflow server (3.17.2): it continues the proj run,
and nothing proj records makes it fail, whichever way the script logs its parameters."""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from pathlib import Path

import pytest

from conftest import require, run_id_of, run_proj, show_run
from helpers.mlflow_clients import client_project, offline_env, snapshot
from helpers.mlflow_server import MlflowServer, mlflow_installed, mlflow_python

pytestmark = [pytest.mark.mlflow, pytest.mark.uv, pytest.mark.slow]


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> MlflowServer:
    return MlflowServer.provisioned(tmp_path_factory.mktemp("server-reads"))


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    return client_project(tmp_path_factory.mktemp("server-classic") / "project", "skinny-3")


def _run(server: MlflowServer, project: Path, home: Path, *args: str) -> tuple[str, subprocess.CompletedProcess]:
    experiment = f"capture-{uuid.uuid4().hex[:10]}"
    done = run_proj("run", str(project), "--tracking-uri", server.url, "--experiment-name", experiment, *args,
                    env=offline_env(home), timeout=900, check_exit=0)
    return run_id_of(done), done


def test_everything_the_script_logs_is_on_the_server_and_in_runs_show(server, project, capture_home, tmp_path):
    before = snapshot(project)
    run_id, done = _run(server, project, capture_home, "-P", "alpha=5")
    run = server.run(run_id)

    assert run["info"]["status"] == "FINISHED" and f"logged run {run_id}" in done.stdout
    assert run["params"] == {"alpha": "5.0"}  # the script's value; proj's '5' means the same
    assert run["tags"]["team"] == "capture" and "proj.param.alpha" not in run["tags"]
    assert server.history(run_id, "loss") == [(0, 0.9), (1, 0.5), (2, 0.2)]
    assert server.history(run_id, "jsonl_score") == [(1, 0.75)]  # proj's metrics.jsonl, beside them
    assert server.artifact(run_id, "docs/notes.txt") == b"logged with mlflow.log_artifact\n"
    [model] = server.call("logged-models/search", {"experiment_ids": [run["info"]["experiment_id"]],
                                                  "filter": f"source_run_id = '{run_id}'"})["models"]
    [child] = [r for r in server.runs_in(_experiment(server, run))
               if r["info"]["run_id"] != run_id]
    assert {t["key"]: t["value"] for t in child["data"]["tags"]}["mlflow.parentRunId"] == run_id
    assert snapshot(project) == before

    uri = ["--tracking-uri", server.url]
    shown = show_run(run_id, tmp_path, *uri)
    assert shown["mlflow"]["params"] == {"alpha": "5.0"} and shown["mlflow"]["tags"]["team"] == "capture"
    assert shown["metrics"]["loss"]["count"] == 3 and shown["metrics"]["loss"]["last_step"] == 2
    assert shown["child_runs"] == [child["info"]["run_id"]]
    [shown_model] = shown["mlflow"]["models"]
    assert shown_model["model_id"] == model["info"]["model_id"] and "sklearn" in shown_model["flavors"]
    assert {"docs/notes.txt", "model/MLmodel"} <= {a["path"] for a in shown["artifacts"]}
    run_proj("runs", "artifacts", run_id, "model", "-o", str(tmp_path / "model"), *uri, check_exit=0)
    assert "sklearn" in (tmp_path / "model" / "MLmodel").read_text()
    assert show_run(child["info"]["run_id"], tmp_path, *uri)["parent_run_id"] == run_id
    in_experiment = ("runs", "list", "--experiment", shown["experiment"], "--format", "json", *uri)
    assert [r["run_id"] for r in json.loads(run_proj(*in_experiment, check_exit=0).stdout)] == [run_id]
    both = json.loads(run_proj(*in_experiment, "--nested", check_exit=0).stdout)
    assert sorted(r["run_id"] for r in both) == sorted([run_id, child["info"]["run_id"]])


def test_a_script_logging_the_raw_argument_finishes_too(server, project, capture_home):
    run_id, _ = _run(server, project, capture_home, "-e", "raw", "-P", "alpha=5")
    run = server.run(run_id)
    assert run["info"]["status"] == "FINISHED" and run["params"] == {"alpha": "5"}


def test_a_value_with_another_meaning_keeps_proj_s_in_a_tag_and_says_so(server, project, capture_home):
    run_id, done = _run(server, project, capture_home, "-e", "rescaled", "-P", "alpha=5")
    run = server.run(run_id)
    assert run["info"]["status"] == "FINISHED"
    assert run["params"] == {"alpha": "0.5"} and run["tags"]["proj.param.alpha"] == "5"
    assert "the project logged alpha='0.5' while proj was given '5'" in done.stderr
    assert "proj.param.alpha" in done.stderr


def test_autolog_on_the_server(server, project, capture_home):
    run_id, _ = _run(server, project, capture_home, "-e", "autolog")
    run = server.run(run_id)
    assert run["info"]["status"] == "FINISHED"
    assert run["params"]["alpha"] == "0.3" and "training_score" in run["metrics"]


def test_mlflow_run_fails_on_the_same_project_which_is_what_proj_does_not_copy(server, project, tmp_path):
    python = mlflow_python()
    ok, version = mlflow_installed(python)
    require("mlflow", ok and version == "3.17.2", f"{python} has no mlflow 3.17.2 ({version})")
    venv_bin = str(Path(python).parent)
    env = {**os.environ, "MLFLOW_TRACKING_URI": server.url, "PATH": f"{venv_bin}:{os.environ['PATH']}"}
    failed = subprocess.run([python, "-m", "mlflow", "run", str(project), "--env-manager", "local", "-P", "alpha=5",
                             "--experiment-name", f"mlflow-run-{uuid.uuid4().hex[:10]}"],
                            env=env, cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert failed.returncode != 0
    assert "Changing param values is not allowed" in failed.stdout + failed.stderr


def _experiment(server: MlflowServer, run: dict) -> str:
    return server.call("experiments/get", experiment_id=run["info"]["experiment_id"])["experiment"]["name"]
