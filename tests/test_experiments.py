"""Choosing the experiment: options, MLflow's variables, ids; on the local store."""

from __future__ import annotations

import pytest

from conftest import run_id_of, run_proj, show_run
from helpers.exitcodes import USAGE
from runner.errors import UsageError
from runner.experiments import ExperimentChoice, choose_experiment

SPEC = "entry_points: {main: {command: 'echo ran'}}\n"


@pytest.mark.parametrize("name, experiment_id, environ, expected", [
    (None, None, {}, ExperimentChoice()),
    ("a", None, {"MLFLOW_EXPERIMENT_ID": "3"}, ExperimentChoice(name="a", origin="--experiment-name")),
    (None, "3", {"MLFLOW_EXPERIMENT_NAME": "a"}, ExperimentChoice(id="3", origin="--experiment-id")),
    (None, None, {"MLFLOW_EXPERIMENT_NAME": "a"}, ExperimentChoice(name="a", origin="MLFLOW_EXPERIMENT_NAME")),
    (None, None, {"MLFLOW_EXPERIMENT_ID": "3"}, ExperimentChoice(id="3", origin="MLFLOW_EXPERIMENT_ID")),
    (None, None, {"PROJ_EXPERIMENT_NAME": "p", "MLFLOW_EXPERIMENT_NAME": "a"},
     ExperimentChoice(name="p", origin="PROJ_EXPERIMENT_NAME")),
    (None, None, {"MLFLOW_EXPERIMENT_NAME": "a", "MLFLOW_EXPERIMENT_ID": "3"},
     ExperimentChoice(name="a", id="3", origin="MLFLOW_EXPERIMENT_NAME and MLFLOW_EXPERIMENT_ID")),
    (None, None, {"MLFLOW_EXPERIMENT_NAME": ""}, ExperimentChoice()),
])
def test_options_beat_variables(name, experiment_id, environ, expected):
    assert choose_experiment(name, experiment_id, environ) == expected


def test_name_and_id_options_are_exclusive():
    with pytest.raises(UsageError, match="Give only one of --experiment-name and --experiment-id"):
        choose_experiment("a", "1", {})


@pytest.fixture
def project(tmp_path):
    (tmp_path / "MLproject").write_text(SPEC)
    return tmp_path


def _experiment_of(done, project) -> tuple[str, str]:
    record = show_run(run_id_of(done), project)
    return record["experiment"], record["experiment_id"]


def test_default_is_experiment_zero_and_ids_name_experiments(project):
    assert _experiment_of(run_proj("run", ".", cwd=project, check_exit=0), project) == ("Default", "0")
    assert _experiment_of(run_proj("run", ".", "--experiment-id", "0", cwd=project, check_exit=0),
                          project) == ("Default", "0")
    named = _experiment_of(run_proj("run", ".", "--experiment-name", "tuning", cwd=project, check_exit=0), project)
    assert named[0] == "tuning" and named[1] != "0"
    by_id = run_proj("run", ".", "--experiment-id", named[1], cwd=project, check_exit=0)
    assert _experiment_of(by_id, project) == named


def test_mlflow_variables_choose_the_experiment(project):
    done = run_proj("run", ".", cwd=project, env={"MLFLOW_EXPERIMENT_NAME": "from-env"}, check_exit=0)
    experiment = _experiment_of(done, project)
    assert experiment[0] == "from-env"
    by_id = run_proj("run", ".", cwd=project, env={"MLFLOW_EXPERIMENT_ID": experiment[1]}, check_exit=0)
    assert _experiment_of(by_id, project) == experiment
    # an option beats the variables (MLflow's own command line refuses this combination)
    option = run_proj("run", ".", "--experiment-id", "0", cwd=project, env={"MLFLOW_EXPERIMENT_NAME": "from-env"},
                      check_exit=0)
    assert _experiment_of(option, project) == ("Default", "0")


def test_experiment_mistakes_exit_125_before_anything_runs(project):
    both = run_proj("run", ".", "--experiment-name", "a", "--experiment-id", "0", cwd=project, check_exit=USAGE)
    assert "Give only one of --experiment-name and --experiment-id" in both.stderr
    unknown = run_proj("run", ".", "--experiment-id", "7", cwd=project, check_exit=USAGE)
    assert "No experiment with id 7 in" in unknown.stderr and "0 (Default)" in unknown.stderr
    not_a_number = run_proj("run", ".", "--experiment-id", "abc", cwd=project, check_exit=USAGE)
    assert "Experiment ids in" in not_a_number.stderr and "whole numbers" in not_a_number.stderr
    disagree = run_proj("run", ".", cwd=project, env={"MLFLOW_EXPERIMENT_NAME": "x", "MLFLOW_EXPERIMENT_ID": "0"},
                        check_exit=USAGE)
    assert "The experiment name 'x' and id 0 disagree: experiment 0 is 'Default'" in disagree.stderr
    for result in (both, unknown, not_a_number, disagree):
        assert result.stdout == ""  # nothing ran
    assert run_proj("runs", "list", cwd=project, check_exit=0).stdout.strip() == "no runs"


def test_dry_run_checks_the_experiment_and_creates_no_store(project):
    done = run_proj("run", ".", "--experiment-id", "4", "--dry-run", cwd=project, check_exit=USAGE)
    assert "No experiment with id 4" in done.stderr
    assert run_proj("run", ".", "--experiment-id", "0", "--dry-run", cwd=project, check_exit=0).stdout
    assert not (project / ".proj").exists()
