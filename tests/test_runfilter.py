"""The run filter (runner.runfilter): MLflow's search syntax, its errors with their position, and
how a filter matches a record, as every store and the UI use it."""

from __future__ import annotations

import math

import pytest

from helpers.records import new_record
from runner.errors import UsageError
from runner.runfilter import Comparison, FilterError, OrderKey, parse_filter, parse_order_by
from runner.runmatch import matches
from runner.tracking.base import MlflowData, RunStatus


@pytest.mark.parametrize(("text", "expected"), [
    ("metrics.rmse < 0.8", [("metric", "rmse", "<", 0.8)]),
    ("metrics.rmse < 0.8 and params.alpha = '0.5' and tags.team = 'x'",
     [("metric", "rmse", "<", 0.8), ("param", "alpha", "=", "0.5"), ("tag", "team", "=", "x")]),
    ("metric.loss >= -1e-3 AND param.lr != \"0.1\"", [("metric", "loss", ">=", -0.001), ("param", "lr", "!=", "0.1")]),
    ("parameters.a = 'x' aNd parameter.b = 'y'", [("param", "a", "=", "x"), ("param", "b", "=", "y")]),
    ("metrics.`error rate` <= .5", [("metric", "error rate", "<=", 0.5)]),
    ('metrics."model-loss" > 2', [("metric", "model-loss", ">", 2.0)]),
    ("tags.mlflow.runName = 'x'", [("tag", "mlflow.runName", "=", "x")]),
    ("tags.team LIKE 'ml-%'", [("tag", "team", "LIKE", "ml-%")]),
    ("params.optimizer ilike 'ADAM%'", [("param", "optimizer", "ILIKE", "ADAM%")]),
    ("tags.team IS NULL", [("tag", "team", "IS NULL", None)]),
    ("params.seed is  not\tnull", [("param", "seed", "IS NOT NULL", None)]),
    ("status = 'FAILED'", [("attribute", "status", "=", "FAILED")]),
    ("attributes.status = 'lost'", [("attribute", "status", "=", "LOST")]),  # statuses in any case
    ("attr.status IN ('FAILED', \"KILLED\")", [("attribute", "status", "IN", ("FAILED", "KILLED"))]),
    ("run.run_id not in ('abc')", [("attribute", "run_id", "NOT IN", ("abc",))]),
    ("created > 1700000000000", [("attribute", "start_time", ">", 1.7e12)]),
    ('attributes."run name" LIKE \'%sweep%\'', [("attribute", "run_name", "LIKE", "%sweep%")]),
    ("`Run Name` = 'a'", [("attribute", "run_name", "=", "a")]),
    ("params.msg = 'it''s'", [("param", "msg", "=", "it's")]),  # a doubled quote stands for itself
    ("params.msg = \"say \"\"hi\"\"\"", [("param", "msg", "=", 'say "hi"')]),
    ("params.alpha > 0.1", [("param", "alpha", ">", 0.1)]),  # proj: parameters that read as numbers
    ("params.alpha = 0.5", [("param", "alpha", "=", 0.5)]),
    ("exit_code != 0 and duration > 60", [("attribute", "exit_code", "!=", 0.0), ("attribute", "duration", ">", 60.0)]),
    ("entry_point = 'train' and sweep_id LIKE 'ab%'",
     [("attribute", "entry_point", "=", "train"), ("attribute", "sweep_id", "LIKE", "ab%")]),
    ("   ", []),
    ("", []),
])
def test_parses_mlflow_search_syntax(text: str, expected: list[tuple]) -> None:
    parsed = parse_filter(text)
    assert [(c.kind, c.key, c.op, c.value) for c in parsed.comparisons] == expected
    assert parsed.text == text


def test_comparisons_know_where_they_start() -> None:
    parsed = parse_filter("metrics.a < 1 and  tags.b = 'x'")
    assert [c.position for c in parsed.comparisons] == [0, 19]


@pytest.mark.parametrize(("text", "position", "problem"), [
    ("metrics.rmse 0.8", 13, "expected a comparison operator after metrics.rmse"),
    ("metrics.rmse < '0.8'", 15, "metrics.rmse is a number: write it without quotes"),
    ("metrics.rmse LIKE 'x'", 13, "metrics.rmse is a number: compare it with ="),
    ("metrics.rmse < ", 15, "expected a number after metrics.rmse <"),
    ("params.alpha = 0.5.1", 15, "expected a quoted value after params.alpha ="),
    ("params.alpha LIKE 5", 18, "LIKE compares text: quote the value ('5')"),
    ("params.alpha > '0.5'", 15, "> compares numbers: write the value without quotes"),
    ("tags.team > 5", 10, "tags.team is text: compare it with =, !=, LIKE, ILIKE, IS NULL, IS NOT NULL"),
    ("tags.team = x", 12, "expected a quoted value after tags.team ="),
    ("tags.team = 5", 12, "tags.team is text: quote the value ('5')"),
    ("metrics.loss IS NULL", 13, "IS NULL applies to parameters and tags only"),
    ("params.a IN ('x')", 9, "IN applies to the text attributes only"),
    ("start_time IN ('1')", 11, "IN applies to the text attributes only"),
    ("run_id IN 'a'", 10, "expected a list in parentheses"),
    ("run_id IN ('a' 'b')", 15, "expected , or ) in the list"),
    ("run_id IN ('a', b)", 16, "expected a quoted value in the list"),
    ("foo.x = 'a'", 0, "unknown kind 'foo'"),
    ("colour = 'red'", 0, "unknown attribute 'colour'"),
    ("attributes.artifact_uri = 'x'", 11, "unknown attribute 'artifact_uri'"),
    ("params. = '1'", 7, "expected a name after params."),
    ("status = 'DONE'", 9, "unknown status 'DONE'"),
    ("params.a = 'open", 11, "the quoted value is not closed"),
    ("metrics.`a = 1", 8, "a quoted name is not closed"),
    ("metrics.a < 1 or metrics.b < 2", 14, "OR is not supported"),
    ("metrics.a < 1 metrics.b < 2", 14, "expected AND or the end of the filter"),
    ("metrics.a < 1 and", 17, "expected a comparison after AND"),
    ("and metrics.a < 1", 0, "unknown attribute 'and'"),
    ("(metrics.a < 1)", 0, "expected a name such as metrics.rmse"),
    ("= 1", 0, "expected a name such as metrics.rmse"),
])
def test_errors_say_what_and_where(text: str, position: int, problem: str) -> None:
    with pytest.raises(FilterError) as caught:
        parse_filter(text)
    error = caught.value
    assert isinstance(error, UsageError)  # exit code 2, shown without a traceback
    assert problem in error.problem
    assert error.position == position
    lines = str(error).splitlines()
    assert lines[0].startswith(f"Invalid filter at column {position + 1}: ")
    assert lines[1] == f"  {text}"
    assert lines[2] == " " * (position + 2) + "^"  # the caret under the offending character


@pytest.mark.parametrize(("text", "expected"), [
    ("metrics.rmse DESC", OrderKey("metric", "rmse", True)),
    ("params.alpha asc", OrderKey("param", "alpha", False)),
    ("tags.`the team`", OrderKey("tag", "the team", None)),
    ("start_time", OrderKey("attribute", "start_time", None)),
    ("attributes.created desc", OrderKey("attribute", "start_time", True)),
])
def test_parses_order_by(text: str, expected: OrderKey) -> None:
    assert parse_order_by(text) == expected


@pytest.mark.parametrize(("text", "problem"), [
    ("metrics.rmse up", "expected ASC, DESC or the end"),
    ("", "expected what to sort by"),
    ("colour", "unknown attribute 'colour'"),
])
def test_order_by_errors(text: str, problem: str) -> None:
    with pytest.raises(FilterError, match=problem):
        parse_order_by(text)


def _record(**fields):
    record = new_record(parameters={"alpha": "0.5", "optimizer": "Adam", "seed": "7", "note": "n/a"},
                        tags={"team": "ml-vision"}, run_name="sweep-3", entry_point="train", start_time=1000.0,
                        end_time=1090.0, status=RunStatus.FINISHED, exit_code=0, run_id="ab" * 16,
                        sweep_id="5eed" * 8)
    record.metrics = {"rmse": {"last": 0.7}, "nan": {"last": math.nan}, "inf": {"last": math.inf}}
    record.mlflow = MlflowData(params={"alpha": "0.25", "layers": "3"}, tags={"mlflow.source.type": "LOCAL",
                                                                                "team": "logged"})
    for name, value in fields.items():
        setattr(record, name, value)
    return record


@pytest.mark.parametrize(("text", "expected"), [
    ("metrics.rmse < 0.8", True),
    ("metrics.rmse < 0.7", False),
    ("metrics.rmse = 0.7", True),
    ("metrics.missing < 1", False),  # nothing matches a metric the run does not have
    ("metrics.missing != 1", False),
    ("metrics.nan < 1", False),  # NaN compares as Python (and MLflow) compares it
    ("metrics.nan != 1", True),
    ("metrics.inf > 1e308", True),
    ("params.alpha = '0.5'", True),  # proj's value beats the one the project logged
    ("params.layers = '3'", True),  # parameters the project logged with MLflow count too
    ("params.alpha != '0.5'", False),
    ("params.missing != 'x'", False),
    ("params.missing IS NULL", True),
    ("params.seed IS NOT NULL", True),
    ("params.alpha > 0.1 and params.alpha <= 0.5", True),
    ("params.alpha = 0.50", True),  # as numbers
    ("params.optimizer > 1", False),  # text never compares as a number
    ("params.note < 1", False),
    ("params.optimizer LIKE 'Ad%'", True),
    ("params.optimizer LIKE 'ad%'", False),  # LIKE minds the case, as in MLflow
    ("params.optimizer ILIKE 'ad%'", True),
    ("params.optimizer LIKE 'Ad_m'", True),
    ("params.optimizer LIKE 'A_m'", False),
    ("params.note LIKE 'n/%'", True),
    ("tags.team = 'ml-vision'", True),  # the user's tag beats the one the project set
    ("tags.mlflow.source.type = 'LOCAL'", True),
    ("tags.team IS NULL", False),
    ("status = 'FINISHED'", True),
    ("status != 'FINISHED'", False),
    ("status IN ('FAILED', 'FINISHED')", True),
    ("status NOT IN ('FAILED', 'FINISHED')", False),
    ("run_id = '" + "ab" * 16 + "'", True),
    ("run_name LIKE 'sweep-%'", True),
    ("entry_point = 'train'", True),
    ("sweep_id LIKE '5eed%'", True),
    ("user_id = 'tester'", True),
    ("start_time = 1000000", True),  # milliseconds, as in MLflow
    ("end_time > 1000000 and duration = 90", True),
    ("exit_code = 0", True),
    ("experiment = 'Default' and backend = 'local' and source = '/project'", True),
    ("commit = 'abc'", False),  # a run without a commit has none to compare
    ("metrics.rmse < 0.8 and tags.team = 'other'", False),
    ("", True),
])
def test_matches_a_record(text: str, expected: bool) -> None:
    assert matches(parse_filter(text), _record()) is expected


def test_a_running_run_has_no_end_time_to_compare() -> None:
    running = _record(status=RunStatus.RUNNING, end_time=None, exit_code=None)
    assert not matches(parse_filter("end_time > 0"), running)
    assert not matches(parse_filter("duration >= 0"), running)
    assert not matches(parse_filter("exit_code = 0"), running)
    assert matches(parse_filter("status = 'RUNNING'"), running)


def test_filters_are_values() -> None:
    """Frozen and hashable: a RunQuery carrying one stays a value."""
    first, second = parse_filter("metrics.a < 1"), parse_filter("metrics.a < 1")
    assert first == second and hash(first) == hash(second)
    assert first.comparisons[0] == Comparison("metric", "a", "<", 1.0, 0)
