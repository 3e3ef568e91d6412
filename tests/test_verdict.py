"""The verdict of `proj rerun --check` and `proj runs diff --exit-code` (runner/verdict.py), pure."""

from __future__ import annotations

import math

import pytest

from runner.errors import UsageError
from runner.rundiff import diff_runs
from runner.verdict import Tolerance, describe_verdict, judge, parse_tolerances


def view(run_id: str, metrics: dict[str, float], *, commit: str = "a" * 40, alpha: float = 0.5,
         packages: str = "numpy==1") -> dict:
    return {"run_id": run_id, "command": "python train.py", "status": "FINISHED", "exit_code": 0,
            "source": {"uri": "/p", "kind": "local", "path": "/p", "commit": commit, "subdirectory": "",
                       "dirty": False, "diff_hash": None},
            "parameters": [{"name": "alpha", "value": alpha}],
            "environment": {"kind": "local", "python": "3.11", "key": None, "options": None},
            "metrics": {name: {"last": value} for name, value in metrics.items()}, "packages": packages}


def verdict(a: dict, b: dict, *tolerances: str, asked_for: dict[str, str] | None = None):
    return judge(diff_runs(a, b), a, b, parse_tolerances(list(tolerances)), asked_for)


@pytest.mark.parametrize("tolerances, reproduced", [
    ((), False), (("rmse=1e-3",), False), (("rmse=0.02",), True), (("rmse=2%",), True), (("rmse=1%",), False),
    (("*=0.02",), True), (("r*=0.02",), True), (("x*=0.02",), False), (("rmse=inf",), True),
    (("rmse=1e-9", "*=1",), False),  # the exact name wins over a pattern
])
def test_tolerances_decide_the_metric_rows(tolerances, reproduced):
    result = verdict(view("a", {"rmse": 1.0, "r2": 0.5}), view("b", {"rmse": 1.015, "r2": 0.5}), *tolerances)
    assert result.reproduced is reproduced
    rows = {row.what: row for row in result.rows}
    assert rows["metric r2"].result == "same"
    assert rows["metric rmse"].result == ("within" if reproduced else "differs")
    assert rows["metric rmse"].metric == "rmse"


def test_a_missing_metric_fails_a_new_one_does_not():
    result = verdict(view("a", {"rmse": 1.0, "gone": 2.0}), view("b", {"rmse": 1.0, "extra": 3.0}))
    rows = {row.what: row.result for row in result.rows}
    assert rows == {"inputs (source, parameters, command, environment)": "same", "metric extra": "new",
                    "metric gone": "missing", "metric rmse": "same"}
    assert [row.what for row in result.failures] == ["metric gone"]


def test_nan_equals_nan_and_only_nan():
    assert verdict(view("a", {"m": math.nan}), view("b", {"m": math.nan})).reproduced
    assert not verdict(view("a", {"m": math.nan}), view("b", {"m": 1.0}), "m=1e9").reproduced
    assert not Tolerance(1.0).allows(math.nan, 0.0)


def test_inputs_that_differ_fail_unless_asked_for():
    a, b = view("a", {"m": 1.0}), view("b", {"m": 1.0}, commit="b" * 40, alpha=0.7)
    failed = verdict(a, b)
    assert not failed.reproduced
    assert {row.what for row in failed.failures} == {"source: commit", "parameters: alpha"}
    asked = verdict(a, b, asked_for={"source": "the checkout", "parameters: alpha": "asked for (-P)"})
    assert asked.reproduced
    assert {row.what: row.result for row in asked.rows if row.what != "metric m"} == {
        "source: commit": "the checkout", "parameters: alpha": "asked for (-P)"}


def test_a_changed_command_is_one_row_named_command():
    a, b = view("a", {"m": 1.0}), {**view("b", {"m": 1.0}), "command": "python train.py --fast"}
    assert [row.what for row in verdict(a, b).failures] == ["command"]
    assert verdict(a, b, asked_for={"command": "the checkout"}).reproduced


def test_the_table_names_what_failed_on_its_last_line():
    text = describe_verdict(verdict(view("a1234567890123", {"rmse": 1.0}), view("b1234567890123", {"rmse": 2.0})))
    lines = text.splitlines()
    assert lines[0].split() == ["CHECK", "ORIGINAL", "NOW", "TOLERANCE", "RESULT"]
    assert "metric rmse" in lines[2] and lines[2].endswith("DIFFERS")
    assert lines[-1] == "NOT reproduced: run b12345678901 differs from run a12345678901 in metric rmse"


@pytest.mark.parametrize("text", ["rmse", "=1", "rmse=-1", "rmse=fast", "rmse=nan", "rmse=%"])
def test_bad_tolerances_are_usage_errors(text):
    with pytest.raises(UsageError, match="--tolerance"):
        parse_tolerances([text])


@pytest.mark.parametrize("a, b, same", [
    ("git@github.com:org/repo.git", "https://github.com/org/repo", True),
    ("https://x-access-token:abc@github.com/org/repo.git/", "ssh://git@github.com/org/repo", True),
    ("https://gitlab-ci-token:t@gitlab.example.com/group/sub/project.git",
     "git@gitlab.example.com:group/sub/project.git", True),
    ("https://github.com/org/repo", "https://github.com/org/other", False),
    ("/srv/git/repo.git", "file:///srv/git/repo.git", True),
])
def test_a_shallow_clone_is_recognised_by_its_remote_however_written(a, b, same):
    from runner.cardsource import _same_remote

    assert _same_remote(a, b) is same
