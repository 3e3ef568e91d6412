"""`proj runs list` on an MLflow server: the filter it is sent, and the orders applied after."""

from __future__ import annotations

import pytest

from runner.errors import UsageError
from runner.tracking.base import (
    EnvironmentRecord,
    ParameterRecord,
    RunQuery,
    RunRecord,
    RunStatus,
    SourceRecord,
)
from runner.tracking.mlflow_query import is_filtered_here, matches, search_filters, sort_records


def _run(name: str, start: float, lr: str | None = None, loss: float | None = None, exit_code=None) -> RunRecord:
    return RunRecord(
        experiment="e", run_name=name, entry_point="main", command="true",
        source=SourceRecord(uri=".", kind="local", path="/p"),
        parameters=[] if lr is None else [ParameterRecord("lr", "string", lr, lr, lr, True)],
        environment=EnvironmentRecord(kind="local"), user="u", host="h", platform="p", python_version="3",
        proj_version="0", launcher="1:1", start_time=start, exit_code=exit_code,
        metrics={} if loss is None else {"loss": {"last": loss}})


RUNS = [_run("a", 1, lr="0.1", loss=0.5), _run("b", 2, lr="abc", loss=0.2), _run("c", 3),
        _run("d", 4, lr="10", loss=0.2, exit_code=1), _run("e", 5, lr="2e-3")]


def _names(records: list[RunRecord]) -> str:
    return "".join(r.run_name for r in records)


def test_search_filters_quote_values_and_leave_what_mlflow_cannot_express():
    query = RunQuery(status=RunStatus.LOST, parameters=(("lr", "0.1"), ("msg", "it's"), ("both", "'\"")),
                     sweep="s1")
    filters, leftover = search_filters(query)
    # LOST is recorded (MLflow holds such a run as FAILED, tagged): the server can filter it
    assert filters == ["tags.`proj.status` = 'LOST'", "tags.`proj.sweep_id` = 's1'", "params.`lr` = '0.1'",
                       'params.`msg` = "it\'s"']
    assert leftover == [("both", "'\"")]


def test_failed_runs_are_filtered_here_too_since_mlflow_holds_lost_runs_as_failed():
    lost, failed = _run("l", 2, exit_code=None), _run("f", 1, exit_code=1)
    lost.status, failed.status = RunStatus.LOST, RunStatus.FAILED
    query = RunQuery(status=RunStatus.FAILED, limit=1)
    assert search_filters(query)[0] == ["attributes.status = 'FAILED'"]
    assert is_filtered_here(query, []) and not is_filtered_here(RunQuery(status=RunStatus.KILLED), [])
    assert [r.run_name for r in (lost, failed) if matches(r, query, [])] == ["f"]


@pytest.mark.parametrize("query, expected", [
    (RunQuery(), "edcba"),
    (RunQuery(sort_metric="loss"), "dbaec"),  # ties newest first, runs without it last
    (RunQuery(sort_metric="loss", descending=True), "adbec"),
    (RunQuery(sort_parameter="lr"), "eadbc"),  # numbers (numerically) before text
    (RunQuery(sort_parameter="lr", descending=True), "daebc"),
    (RunQuery(sort_by="exit_code"), "decba"),
])
def test_orders_match_the_local_store(query, expected):
    assert _names(sort_records(RUNS, query)) == expected


def test_an_unknown_column_is_refused_with_the_choices():
    with pytest.raises(UsageError, match="Cannot sort runs by 'colour'") as caught:
        sort_records(RUNS, RunQuery(sort_by="colour"))
    assert "start_time" in str(caught.value)


@pytest.mark.parametrize(("text", "terms", "left"), [
    ("metrics.rmse < 0.8 and params.alpha = '0.5' and tags.team = 'x'",
     ["metrics.`rmse` < 0.8", "params.`alpha` = '0.5'", "tags.`team` = 'x'"], []),
    ("params.msg = \"it's\"", ["params.`msg` = \"it's\""], []),
    ("params.msg = 'say \"it''s\"'", [], ["params.msg"]),  # no quote can hold both: checked here
    ("tags.`a``b` = 'x'", [], ["tags.a`b"]),
    ("tags.team IS NULL and params.seed LIKE '1%'", ["tags.`team` IS NULL", "params.`seed` LIKE '1%'"], []),
    ("params.alpha > 0.1", [], ["params.alpha"]),  # proj's numeric comparison of parameters
    ("status = 'FINISHED'", ["attributes.status = 'FINISHED'"], []),
    ("status = 'LOST'", ["tags.`proj.status` = 'LOST'"], []),
    ("status = 'FAILED'", [], ["attributes.status"]),  # the server's FAILED includes LOST
    ("status != 'FAILED'", [], ["attributes.status"]),
    ("run_id IN ('ab', 'cd')", ["attributes.run_id IN ('ab', 'cd')"], []),
    ("run_name IN ('a')", [], ["attributes.run_name"]),  # MLflow takes lists for run ids only
    ("start_time > 1700000000000", ["attributes.start_time > 1700000000000"], []),
    ("entry_point = 'train' and sweep_id LIKE 'ab%'",
     ["tags.`mlflow.project.entryPoint` = 'train'", "tags.`proj.sweep_id` LIKE 'ab%'"], []),
    ("exit_code != 0 and duration > 5 and experiment = 'e'", [], ["attributes.exit_code", "attributes.duration",
                                                                  "attributes.experiment"]),
])
def test_filter_terms_go_to_the_server_where_it_checks_them_exactly(text, terms, left):
    from runner.runfilter import parse_filter
    from runner.tracking.mlflow_query import filter_terms

    sent, kept = filter_terms(parse_filter(text))
    assert sent == terms
    assert [f"{'attributes' if c.kind == 'attribute' else c.kind + 's'}.{c.key}"
            for c in (kept.comparisons if kept else ())] == left
