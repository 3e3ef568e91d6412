"""`proj run --run-id RUN` on the local store: the run continues, as `mlflow run --run-id` does.

The same on an MLflow server, against runs MLflow itself created, is in tests/test_mlflow_parity.py.
"""

from __future__ import annotations

import pytest

from conftest import run_id_of, run_proj, show_run
from helpers.exitcodes import USAGE

SPEC = """\
entry_points:
  main:
    parameters:
      a: {type: int, default: 1}
    command: "python3 probe.py {a}"
"""
PROBE = """\
import os, sys
print(f"a={sys.argv[1]} run={os.environ['PROJ_RUN_ID']}", *sys.argv[2:])
sys.exit(int(os.environ["CODE"]))
"""


@pytest.fixture
def project(tmp_path):
    (tmp_path / "MLproject").write_text(SPEC)
    (tmp_path / "probe.py").write_text(PROBE)
    return tmp_path


def _run(project, *args, code=0, check_exit=None):
    return run_proj("run", ".", *args, cwd=project, env={"CODE": str(code)}, check_exit=check_exit)


def test_a_failed_run_continued_ends_finished_with_its_history(project):
    first = _run(project, "-P", "a=2", "--experiment-name", "exp", code=3, check_exit=3)
    run_id = run_id_of(first)
    before = show_run(run_id, project)

    again = _run(project, "--run-id", run_id, "-P", "a=2", "-P", "extra=5", check_exit=0)

    assert f"proj: run {run_id} continued in experiment 'exp'" in again.stderr
    assert again.stdout == f"a=2 run={run_id} --extra 5\n"  # this execution's command, the run's id
    after = show_run(run_id, project)
    assert (after["status"], after["exit_code"]) == ("FINISHED", 0)
    assert (after["experiment"], after["run_name"], after["start_time"]) == \
        ("exp", before["run_name"], before["start_time"])
    assert after["end_time"] > before["end_time"]
    assert [(p["name"], p["given"]) for p in after["parameters"]] == [("a", "2"), ("extra", "5")]
    assert after["command"] == "python3 probe.py 2 --extra 5"
    logs = run_proj("runs", "logs", run_id, cwd=project, check_exit=0).stdout
    assert logs == f"a=2 run={run_id}\na=2 run={run_id} --extra 5\n"  # both executions, in order
    listed = run_proj("runs", "list", "--format", "json", cwd=project, check_exit=0).stdout
    assert listed.count('"run_id"') == 1  # no second run


def test_the_continued_run_ends_as_this_execution_ends(project):
    run_id = run_id_of(_run(project, check_exit=0))
    failed = _run(project, "--run-id", run_id[:10], code=4, check_exit=4)  # a prefix is enough here
    assert run_id_of(failed) == run_id
    assert (show_run(run_id, project)["status"], show_run(run_id, project)["exit_code"]) == ("FAILED", 4)


def test_a_renamed_continuation(project):
    run_id = run_id_of(_run(project, check_exit=0))
    _run(project, "--run-id", run_id, "--run-name", "second try", check_exit=0)
    assert show_run(run_id, project)["run_name"] == "second try"


@pytest.mark.parametrize("args, message", [
    (["-P", "a=3"], "already has other values for these parameters: a: '2' → '3'"),
    (["--experiment-name", "other"], "is in experiment 'Default', not 'other'"),
    (["--experiment-id", "5"], "No experiment with id 5"),
    (["--sweep", "a=2,3"], "--run-id continues one run, and a sweep starts a run per point"),
])
def test_what_cannot_continue_exits_125_and_leaves_the_run_alone(project, args, message):
    run_id = run_id_of(_run(project, "-P", "a=2", code=3, check_exit=3))
    before = show_run(run_id, project)
    refused = _run(project, "--run-id", run_id, *args, check_exit=USAGE)
    assert message in refused.stderr and refused.stdout == ""
    assert show_run(run_id, project) == before
    dry = _run(project, "--run-id", run_id, *args, "--dry-run", check_exit=USAGE)  # the same checks
    assert message in dry.stderr


def test_an_unknown_run_exits_125(project):
    _run(project, check_exit=0)
    refused = _run(project, "--run-id", "0" * 32, check_exit=USAGE)
    assert f"No run '{'0' * 32}'" in refused.stderr


def test_the_experiment_variables_do_not_move_a_continued_run(project):
    run_id = run_id_of(_run(project, check_exit=0))
    again = run_proj("run", ".", "--run-id", run_id, cwd=project, env={"CODE": "0", "MLFLOW_EXPERIMENT_NAME": "x"},
                     check_exit=0)
    assert "continued in experiment 'Default'" in again.stderr
