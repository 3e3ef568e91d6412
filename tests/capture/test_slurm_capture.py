"""A detached Slurm run's MLflow logging is captured: the job writes into the run's capture folder
(on the shared file system; here the one node is this machine) and whichever proj settles the
run — `proj runs wait` here, long after `proj run --detach` returned — brings it into the record."""

from __future__ import annotations

import pytest

from conftest import require, run_proj, show_run
from helpers.mlflow_clients import client_project, offline_env
from helpers.slurm import cluster_answers

pytestmark = [pytest.mark.slurm, pytest.mark.uv, pytest.mark.slow]


def test_a_detached_jobs_mlflow_logging_is_brought_in_when_the_run_is_settled(capture_home, tmp_path):
    require("slurm", cluster_answers(), "sbatch is missing or the cluster does not answer `sinfo`")
    project = client_project(tmp_path / "project", "skinny-2")
    settings = tmp_path / "slurm.yaml"
    settings.write_text("partition: debug\ntime: 10\ncpus_per_task: 1\n")
    store = ["--tracking-uri", str(tmp_path / "store")]
    env = offline_env(capture_home)

    done = run_proj("run", str(project), "-e", "light", "-P", "alpha=5", "-b", "slurm", "--detach",
                    "--backend-config", str(settings), *store, cwd=tmp_path, env=env, timeout=900, check_exit=0)
    run_id = done.stdout.strip()
    waited = run_proj("runs", "wait", run_id, *store, cwd=tmp_path, env=env, timeout=600, check_exit=0)
    shown = show_run(run_id, tmp_path, *store, env=env)

    assert f"run {run_id} FINISHED" in waited.stderr
    assert shown["job"]["detached"] is True and shown["status"] == "FINISHED"
    assert f"logged run {run_id} with mlflow 2.22.5" in run_proj("runs", "logs", run_id, *store, cwd=tmp_path,
                                                                  env=env, check_exit=0).stdout
    assert shown["mlflow"]["params"] == {"alpha": "5.0"} and shown["mlflow"]["status"] == "FINISHED"
    assert shown["metrics"]["loss"]["count"] == 3 and shown["metrics"]["loss"]["last_step"] == 2
    assert [a["path"] for a in shown["artifacts"]] == ["docs/notes.txt"]
    [child] = shown["child_runs"]
    assert show_run(child, tmp_path, *store, env=env)["metrics"]["fold_loss"]["last"] == 0.3
