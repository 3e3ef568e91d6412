"""The README's first command: the mlflow-elasticnet example, written in MLflow's classic style,
run with full mlflow 3.17.2 from PyPI; what it logged is in `proj runs show`."""

from __future__ import annotations

import json

import pytest

from conftest import REPO_ROOT, run_proj
from helpers.mlflow_clients import EXAMPLE, EXAMPLE_COMMAND, snapshot

pytestmark = [pytest.mark.pypi, pytest.mark.uv, pytest.mark.slow]


def test_the_readme_starts_with_this_command():
    readme = (REPO_ROOT / "README.md").read_text()
    # In the first section, as one line that ends by showing the run it made.
    assert "proj " + " ".join(EXAMPLE_COMMAND) + " && proj runs show\n" in readme.split("## ", 2)[1]


def test_the_examples_mlflow_logging_is_in_runs_show(mlflow_example):
    assert "Elasticnet model (alpha=0.001000, l1_ratio=0.500000)" in mlflow_example.stdout
    assert "warning" not in mlflow_example.stderr
    shown_latest = run_proj("runs", "show", cwd=mlflow_example.work, env=mlflow_example.env, check_exit=0)
    assert f"the latest run: {mlflow_example.run_id}" in shown_latest.stderr  # the README's `proj runs show`
    text = shown_latest.stdout
    for line in ("param alpha = '0.001'", "curve_rmse = ", "rmse = ", "r2 = ", "model  (python_function, sklearn"):
        assert line in text

    shown = json.loads(run_proj("runs", "show", mlflow_example.run_id, "--format", "json", cwd=mlflow_example.work,
                                env=mlflow_example.env, check_exit=0).stdout)
    assert shown["mlflow"]["params"] == {"alpha": "0.001", "l1_ratio": "0.5"}
    assert shown["mlflow"]["tags"]["dataset"] == "sklearn diabetes"
    curve = shown["metrics"]["curve_rmse"]
    assert curve["count"] == 5 and curve["last_step"] == 4 and curve["min"] <= curve["last"] <= curve["max"]
    assert 0.3 < shown["metrics"]["r2"]["last"] < 1
    [model] = shown["mlflow"]["models"]
    assert model["model_id"].startswith("m-") and model["mlflow_version"] == "3.17.2"
    assert [column["name"] for column in model["signature"]["inputs"]][:3] == ["age", "sex", "bmi"]
    assert snapshot(EXAMPLE) == mlflow_example.example_before  # no mlflow.db, no mlruns/ in the example
