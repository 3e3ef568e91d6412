"""What a project logs with a real MLflow client lands in the proj run on the local store.

Each client (mlflow-skinny 3.17.2 and 2.22.5, installed into the run's own environment from the
CI wheelhouse) runs the classic project once per module; the tests read the run back as a user
does, through `proj runs show/list/artifacts`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from conftest import diff_of, run_id_of, run_proj, show_run
from helpers.mlflow_clients import VERSIONS, client_project, offline_env, snapshot
from helpers.processes import wait_for

pytestmark = [pytest.mark.uv, pytest.mark.slow]


@dataclass(frozen=True)
class ClassicRun:
    client: str
    project: Path
    store: Path
    run_id: str
    stdout: str
    stderr: str
    before: dict[str, str]
    after: dict[str, str]
    env: dict[str, str]

    def show(self, run_id: str | None = None) -> dict:
        return show_run(run_id or self.run_id, self.store, "--tracking-uri", str(self.store), env=self.env)


@pytest.fixture(scope="module", params=sorted(VERSIONS))
def classic(request, capture_home, tmp_path_factory) -> ClassicRun:
    """The classic project's main entry point, run once with each client, -P alpha=5."""
    client = request.param
    work = tmp_path_factory.mktemp(f"classic-{client}")
    project = client_project(work / "project", client)
    store = work / "store"
    env = offline_env(capture_home)
    before = snapshot(project)
    done = run_proj("run", str(project), "-P", "alpha=5", "--tracking-uri", str(store), cwd=project, env=env,
                    timeout=900, check_exit=0)
    return ClassicRun(client, project, store, run_id_of(done), done.stdout, done.stderr, before, snapshot(project),
                      env)


def test_the_project_continues_the_proj_run_and_leaves_its_folder_untouched(classic):
    assert f"logged run {classic.run_id} with mlflow {VERSIONS[classic.client]}" in classic.stdout
    assert classic.after == classic.before  # no mlflow.db, no mlruns/, nothing changed
    assert "warning" not in classic.stderr  # 5 and 5.0 mean the same: nothing to report


def test_parameters_tags_and_metrics_with_steps_are_in_the_record(classic):
    shown = classic.show()
    assert shown["status"] == "FINISHED"
    assert shown["mlflow"]["params"] == {"alpha": "5.0"}
    assert shown["mlflow"]["conflicts"] == []
    assert shown["mlflow"]["tags"]["team"] == "capture"
    assert shown["metrics"]["loss"] == {"last": 0.2, "min": 0.2, "max": 0.9, "count": 3, "last_step": 2}
    assert shown["metrics"]["jsonl_score"]["last"] == 0.75  # proj's own metrics.jsonl, side by side
    assert [p["value"] for p in shown["parameters"] if p["name"] == "alpha"] == [5.0]  # proj's typed value


def test_artifacts_and_the_model_are_shown_and_copied(classic, tmp_path):
    shown = classic.show()
    paths = {a["path"] for a in shown["artifacts"]}
    assert {"docs/notes.txt", "model/MLmodel"} <= paths
    [model] = shown["mlflow"]["models"]
    assert model["name"] == "model" and model["path"] == "model"
    assert {"python_function", "sklearn"} <= set(model["flavors"])
    assert model["signature"]["inputs"][0]["type"] == "tensor"
    assert "MLmodel" in model["files"] and model["mlflow_version"] == VERSIONS[classic.client]
    assert (model["model_id"] is None) == (classic.client == "skinny-2")  # MLflow 3: a logged model

    uri = ["--tracking-uri", str(classic.store)]
    run_proj("runs", "artifacts", classic.run_id, "docs/notes.txt", "-o", str(tmp_path / "out"), *uri,
             env=classic.env, check_exit=0)
    assert (tmp_path / "out" / "notes.txt").read_text() == "logged with mlflow.log_artifact\n"
    run_proj("runs", "artifacts", classic.run_id, "model", "-o", str(tmp_path / "model"), *uri, env=classic.env,
             check_exit=0)
    assert "sklearn" in (tmp_path / "model" / "MLmodel").read_text()


def test_the_nested_run_is_a_child_run_linked_to_its_parent(classic):
    parent = classic.show()
    [child_id] = parent["child_runs"]
    child = classic.show(child_id)
    assert child["parent_run_id"] == classic.run_id and child["run_name"] == "fold-1"
    assert child["status"] == "FINISHED"
    assert child["mlflow"]["params"] == {"fold": "1"}
    assert child["metrics"]["fold_loss"]["last"] == 0.3
    assert child["parameters"] == [] and child["source"] == parent["source"]


def cell(table: str, row: str, header: str) -> str:
    """The value in `row` of `table`'s column `header` (columns are aligned under their headers)."""
    start = table.splitlines()[0].index(header)
    return row[start:].split()[0]


def test_runs_list_sorts_by_a_metric_the_project_logged_with_mlflow(classic):
    listed = run_proj("runs", "list", "--metric", "loss", "--tracking-uri", str(classic.store), env=classic.env,
                      check_exit=0).stdout
    [row] = [line for line in listed.splitlines() if line.startswith(classic.run_id[:12])]
    assert cell(listed, row, "LOSS") == "0.2"
    child = json.loads(run_proj("runs", "list", "--format", "json", "-P", "fold=1", "--nested", "--tracking-uri",
                                str(classic.store), env=classic.env, check_exit=0).stdout)
    assert [r["parent_run_id"] for r in child] == [classic.run_id]  # parameters the project logged filter too


def test_runs_list_hides_nested_runs_unless_asked_and_counts_them(classic):
    uri = ("--tracking-uri", str(classic.store))
    [child_id] = classic.show()["child_runs"]
    listed = run_proj("runs", "list", *uri, env=classic.env, check_exit=0)
    assert child_id[:12] not in listed.stdout
    row = next(line for line in listed.stdout.splitlines() if line.startswith(classic.run_id[:12]))
    assert cell(listed.stdout, row, "NESTED") == "1"
    assert "1 nested run not listed (started inside the runs above); --nested lists them" in listed.stderr
    both = run_proj("runs", "list", "--nested", *uri, env=classic.env, check_exit=0).stdout
    rows = {line.split()[0]: line for line in both.splitlines()[1:]}
    assert cell(both, rows[child_id[:12]], "PARENT") == classic.run_id[:12]
    assert cell(both, rows[classic.run_id[:12]], "PARENT") == "-"
    # A filter on the parent tag asks for nested runs: it finds them without --nested.
    found = run_proj("runs", "list", "--format", "json", "--filter", f"tags.mlflow.parentRunId = '{classic.run_id}'",
                     *uri, env=classic.env, check_exit=0).stdout
    assert [r["run_id"] for r in json.loads(found)] == [child_id]


def test_autolog_lands_in_the_run(capture_home, tmp_path):
    project = client_project(tmp_path / "project", "skinny-3")
    store = tmp_path / "store"
    env = offline_env(capture_home)
    done = run_proj("run", str(project), "-e", "autolog", "--tracking-uri", str(store), env=env, timeout=900,
                    check_exit=0)
    shown = show_run(run_id_of(done), tmp_path, "--tracking-uri", str(store), env=env)

    assert shown["mlflow"]["params"]["alpha"] == "0.3"  # the estimator's own parameters
    assert shown["mlflow"]["tags"]["estimator_name"] == "Ridge"
    assert shown["metrics"]["training_score"]["count"] == 1
    [model] = shown["mlflow"]["models"]
    assert "sklearn" in model["flavors"] and model["model_id"].startswith("m-")


def test_a_parameter_logged_with_another_meaning_keeps_both_values_and_says_so(capture_home, tmp_path):
    project = client_project(tmp_path / "project", "skinny-2")
    store = tmp_path / "store"
    env = offline_env(capture_home)
    done = run_proj("run", str(project), "-e", "rescaled", "-P", "alpha=5", "--tracking-uri", str(store), env=env,
                    timeout=900, check_exit=0)
    shown = show_run(run_id_of(done), tmp_path, "--tracking-uri", str(store), env=env)

    assert shown["status"] == "FINISHED"
    assert shown["mlflow"]["conflicts"] == [{"name": "alpha", "proj": "5", "logged": "0.5"}]
    assert shown["mlflow"]["params"] == {"alpha": "0.5"}
    assert [(p["name"], p["value"]) for p in shown["parameters"]] == [("alpha", 5.0)]
    assert "the project logged alpha='0.5' while proj was given '5'" in done.stderr
    text = run_proj("runs", "show", shown["run_id"], "--tracking-uri", str(store), env=env, check_exit=0).stdout
    assert "! alpha: proj was given '5', the project logged '0.5'" in text


def test_a_running_runs_mlflow_logging_is_read_live(capture_home, tmp_path):
    project = client_project(tmp_path / "project", "skinny-2")
    store, release, log = tmp_path / "store", tmp_path / "release", tmp_path / "run.log"
    env = offline_env(capture_home)
    uri = ["--tracking-uri", str(store)]
    with log.open("w") as output:
        running = subprocess.Popen([sys.executable, "-m", "runner", "run", str(project), "-e", "live", "-P",
                                    f"release={release}", *uri], env={**os.environ, **env}, stdout=output,
                                   stderr=output)
    try:
        run_id = wait_for(lambda: " started " in log.read_text() and run_id_of(log.read_text()), timeout=600,
                          what="the run to start")
        wait_for(lambda: "waiting for release" in log.read_text(), timeout=300, what="the script to log")
        live = show_run(run_id, tmp_path, *uri, env=env)
        assert live["status"] == "RUNNING"
        assert live["mlflow"]["params"] == {"phase": "training"}
        assert live["metrics"]["progress"]["count"] == 1
        release.write_text("")
        assert running.wait(timeout=300) == 0
    finally:
        if running.poll() is None:
            running.kill()
            running.wait()
    final = show_run(run_id, tmp_path, *uri, env=env)
    assert final["status"] == "FINISHED" and final["metrics"]["progress"]["count"] == 2


def test_sweep_points_are_compared_by_what_they_logged_with_mlflow(capture_home, tmp_path):
    project = client_project(tmp_path / "project", "skinny-2")
    uri = ["--tracking-uri", str(tmp_path / "store")]
    env = offline_env(capture_home)
    run_proj("run", str(project), "-e", "light", "--sweep", "alpha=1,2", *uri, env=env, timeout=900, check_exit=0)
    [sweep_id] = {r["sweep_id"] for r in json.loads(run_proj("runs", "list", "--format", "json", *uri, env=env,
                                                              check_exit=0).stdout) if r["sweep_id"]}
    points = json.loads(run_proj("runs", "list", "--sweep", sweep_id, "--metric", "score", "--desc", "--format",
                                 "json", *uri, env=env, check_exit=0).stdout)
    assert [p["metrics"]["score"]["last"] for p in points] == [4.0, 2.0]  # MLflow-logged, sorted
    diff = diff_of(points[1]["run_id"], points[0]["run_id"], tmp_path, *uri, env=env)
    changed = {(c["section"], c["name"]): (c["a"], c["b"]) for c in diff["changes"]}
    assert changed[("metrics", "score")] == (2.0, 4.0)
    assert changed[("logged with MLflow", "param alpha")] == ("1.0", "2.0")
