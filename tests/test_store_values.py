"""Values a store cannot hold are refused where they come in, and NaN stays NaN everywhere.

A metric step of 2^63, NaN and infinity from runner.log_metric, bytes that are not UTF-8 in any
argument, setting or path, integers of thousands of digits: each through `proj` as a user types
it, with the exit code, the message, a complete record (or none at all), and no traceback.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from conftest import run_id_of, run_proj
from helpers.exitcodes import USAGE
from helpers.processes import processes_of_run

SPEC = """\
name: values
entry_points:
  main:
    parameters:
      count: {type: int, default: 1}
      name: {type: string, default: x}
    command: "echo count={count} name={name}"
  big_step:
    command: |
      echo '{{"key": "a", "value": 1, "step": 9223372036854775808}}' >> "$PROJ_OUTPUT_DIR/metrics.jsonl"
      echo '{{"key": "a", "value": 2, "step": 9223372036854775807}}' >> "$PROJ_OUTPUT_DIR/metrics.jsonl"
      echo '{{"key": "b", "value": 1e400, "timestamp": 1e300}}' >> "$PROJ_OUTPUT_DIR/metrics.jsonl"
      echo '{{"key": "c", "value": 1{zeros}}}' >> "$PROJ_OUTPUT_DIR/metrics.jsonl"
  nan:
    parameters:
      last: {type: string, default: nan}
    command: "{python} log.py {last}"
"""
LOG_PY = """\
import sys
import runner
runner.log_metric("loss", 1.0, step=1)
runner.log_metric("loss", float(sys.argv[1]), step=2)
runner.log_metric("inf", float("inf"))
runner.log_metric("all_nan", float("nan"))
"""


@pytest.fixture
def project(tmp_path) -> Path:
    folder = tmp_path / "project"
    folder.mkdir()
    (folder / "MLproject").write_text(SPEC.replace("{zeros}", "0" * 400).replace("{python}", sys.executable))
    (folder / "log.py").write_text(LOG_PY)
    return folder


def show(project: Path, run_id: str) -> dict:
    return json.loads(run_proj("runs", "show", run_id, "--format", "json", cwd=project, check_exit=0).stdout)


def test_steps_and_values_beyond_64_bits_are_skipped_and_the_run_ends_normally(project):
    result = run_proj("run", ".", "-e", "big_step", cwd=project, check_exit=0)
    assert "metrics.jsonl line 1: 'step' of 'a' must be a whole number from 0 to 9223372036854775807; skipped" \
        in result.stderr
    assert "line 4: 'value' of 'c' is too large for a floating-point number; skipped" in result.stderr
    assert "line 3: 'timestamp' of 'b' must be a number of seconds since 1970; skipped" in result.stderr
    run_id = run_id_of(result)
    view = show(project, run_id)
    assert (view["status"], view["exit_code"]) == ("FINISHED", 0)
    assert view["metrics"] == {"a": {"last": 2.0, "min": 2.0, "max": 2.0, "count": 1,
                                     "last_step": 9223372036854775807}}
    assert len(view["metric_problems"]) == 3 and processes_of_run(run_id) == []


def test_nan_and_infinity_are_shown_listed_sorted_and_compared(project):
    first = run_id_of(run_proj("run", ".", "-e", "nan", cwd=project, check_exit=0))
    second = run_id_of(run_proj("run", ".", "-e", "nan", cwd=project, check_exit=0))
    third = run_id_of(run_proj("run", ".", "-e", "nan", "-P", "last=0.5", cwd=project, check_exit=0))
    text = run_proj("runs", "show", first, cwd=project, check_exit=0).stdout
    assert "loss = nan  (min 1, max 1, 2 values, last step 2)" in text
    assert "inf = inf  (min inf, max inf, 1 value)" in text and "all_nan = nan  (min nan, max nan, 1 value)" in text
    listed = run_proj("runs", "list", "-m", "loss", cwd=project, check_exit=0).stdout.splitlines()
    assert [line.split()[0] for line in listed[1:]] == [third[:12], second[:12], first[:12]]  # NaN after numbers
    column = listed[0].index("LOSS")  # the table is aligned: read the column where its header starts
    assert [line[column:].split()[0] for line in listed[1:]] == ["0.5", "nan", "nan"]
    same = run_proj("runs", "diff", first, second, cwd=project, check_exit=0).stdout
    assert "metrics:" not in same and "loss" not in same
    changed = json.loads(run_proj("runs", "diff", first, third, "--format", "json", cwd=project, check_exit=0).stdout)
    loss = [c for c in changed["changes"] if c["name"] == "loss"]
    assert len(loss) == 1 and str(loss[0]["a"]) == "nan" and loss[0]["b"] == 0.5
    assert "loss: nan -> 0.5" in run_proj("runs", "diff", first, third, cwd=project, check_exit=0).stdout


def test_nan_reaches_the_browser_as_null(project):
    from runner.ui.app import create_app

    run_id = run_id_of(run_proj("run", ".", "-e", "nan", cwd=project, check_exit=0))
    with TestClient(create_app(str(project / ".proj")), base_url="http://127.0.0.1") as client:
        answer = client.get(f"/api/runs/{run_id}")
        page = client.get(f"/runs/{run_id}")
        table = client.get("/?metrics=loss,inf")
    assert answer.status_code == 200 and "NaN" not in answer.text
    assert answer.json()["metrics"]["loss"] == {"last": None, "min": 1.0, "max": 1.0, "count": 2, "last_step": 2}
    assert page.status_code == 200 and table.status_code == 200


NOT_UTF8 = os.fsdecode(b"caf\xe9")  # Latin-1 bytes, as Python receives them from argv


@pytest.mark.parametrize("arguments, where", [
    (["-P", f"name={NOT_UTF8}"], "the value of -P"),
    (["-P", f"{NOT_UTF8}=1"], "the value of -P"),
    (["--sweep", f"name=a,{NOT_UTF8}"], "the value of --sweep"),
    (["--experiment-name", NOT_UTF8], "the value of --experiment-name"),
    ([f"--run-name={NOT_UTF8}"], "the value of --run-name"),
    (["-e", f"{NOT_UTF8}.py"], "the value of -e"),
])
def test_arguments_that_are_not_utf8_are_refused_naming_them(project, arguments, where):
    result = run_proj("run", ".", *arguments, cwd=project)
    assert result.returncode == USAGE, result.stderr
    assert f"proj: error: {where} is not valid UTF-8 text: b'" in result.stderr and "\\xe9" in result.stderr
    assert "Traceback" not in result.stderr and not (project / ".proj").exists()


def test_a_setting_that_is_not_utf8_is_refused(project):
    result = run_proj("run", ".", cwd=project, env={"PROJ_EXPERIMENT_NAME": NOT_UTF8})
    assert result.returncode == USAGE
    assert "the environment variable PROJ_EXPERIMENT_NAME is not valid UTF-8 text: b'caf\\xe9'" in result.stderr
    assert not (project / ".proj").exists()


def test_a_project_folder_whose_name_is_not_utf8_is_refused_before_it_runs(tmp_path):
    folder = Path(os.fsdecode(bytes(tmp_path) + b"/caf\xe9"))
    folder.mkdir()
    (folder / "MLproject").write_text(SPEC.replace("{zeros}", "0").replace("{python}", sys.executable))
    store = tmp_path / "store"
    result = subprocess.run([sys.executable, "-m", "runner", "run", ".", "--tracking-uri", str(store)], cwd=folder,
                            capture_output=True)
    stderr = result.stderr.decode("utf-8", "replace")
    assert result.returncode == USAGE, stderr
    assert "Cannot record the run: source.uri is not valid UTF-8 text" in stderr and "Traceback" not in stderr
    assert b"count=" not in result.stdout  # nothing ran
    assert not store.exists()  # and nothing half-recorded: not even the store a run would have made


def test_integers_of_thousands_of_digits_are_positioned_errors(project):
    (project / "MLproject").write_text(SPEC.replace("{zeros}", "0").replace("{python}", sys.executable)
                                       .replace("default: 1}", "default: " + "7" * 5000 + "}"))
    validated = run_proj("validate", cwd=project)
    assert validated.returncode == 1 and "Traceback" not in validated.stderr
    expected = "MLproject:5:35: error: invalid YAML: integer with 5000 digits is too long (at most 4000)"
    assert expected in validated.stdout
    ran = run_proj("run", ".", cwd=project)
    assert ran.returncode == USAGE and "integer with 5000 digits is too long" in ran.stderr
    assert not (project / ".proj").exists()


@pytest.mark.parametrize("value", ["9" * 5000, "9223372036854775808", "-9223372036854775809"])
def test_int_parameters_must_fit_in_64_bits(project, value):
    result = run_proj("run", ".", "-P", f"count={value}", cwd=project)
    assert result.returncode == USAGE and "Traceback" not in result.stderr
    assert "Parameter 'count' expects an int from -9223372036854775808 to 9223372036854775807" in result.stderr
    assert len(result.stderr) < 600  # the value is cut short in the message
    assert not (project / ".proj").exists()


def test_the_largest_64_bit_int_is_recorded_exactly(project):
    result = run_proj("run", ".", "-P", "count=9223372036854775807", cwd=project, check_exit=0)
    assert "count=9223372036854775807" in result.stdout
    parameter = show(project, run_id_of(result))["parameters"][0]
    assert parameter["value"] == 9223372036854775807


def test_terminal_control_characters_in_records_are_shown_escaped(project):
    name = "red\x1b[31m\x1b]0;title\x07"
    result = run_proj("run", ".", "--run-name", name, "-P", "name=\x1b[2J", cwd=project, check_exit=0)
    run_id = run_id_of(result)
    for command in (["runs", "list"], ["runs", "show", run_id]):
        shown = run_proj(*command, cwd=project, check_exit=0).stdout
        assert "\x1b" not in shown and "\x07" not in shown
        assert "\\x1b[2J" in shown
    assert "red\\x1b[31m\\x1b]0;title\\x07" in run_proj("runs", "show", run_id, cwd=project, check_exit=0).stdout
    assert json.loads(run_proj("runs", "show", run_id, "--format", "json", cwd=project,
                               check_exit=0).stdout)["run_name"] == name  # the record keeps it as given
