"""Choosing the best run (runner.ui.choosing) and the charts that show it (runner.ui.plots):
columns, the judged metric and its direction, the best run, and the SVG that marks it."""

from __future__ import annotations

import math
import re

import pytest

from runner.errors import UsageError
from runner.tracking.base import EnvironmentRecord, ParameterRecord, RunRecord, RunStatus, SourceRecord
from runner.ui.choosing import guess_goal, select
from runner.ui.plots import parallel_coordinates, scatter


def record(run_id: str, status: RunStatus = RunStatus.FINISHED, metrics: dict[str, float] | None = None,
           **params: str) -> RunRecord:
    """A run as a store returns it: its metrics' last values are kept once it has ended."""
    return RunRecord(
        experiment="e", run_name=f"point {run_id}", entry_point="main", command="true",
        source=SourceRecord(uri="/p", kind="local", path="/p"),
        parameters=[ParameterRecord(name, "string", value, value, value, True) for name, value in params.items()],
        environment=EnvironmentRecord(kind="local"), user="u", host="h", platform="Linux", python_version="3.11",
        proj_version="t", launcher="1:1", start_time=0.0, run_id=run_id * 8, status=status,
        metrics={key: {"last": value} for key, value in (metrics or {}).items()})


def last_values(records: list[RunRecord]) -> dict[str, dict[str, float]]:
    return {r.run_id: {key: m["last"] for key, m in r.metrics.items()} for r in records}


@pytest.fixture
def sweep():
    records = [record("a", metrics={"rmse": 0.9, "accuracy": 0.7}, lr="0.1", opt="adam"),
               record("b", metrics={"rmse": 0.4, "accuracy": 0.9}, lr="0.01", opt="sgd"),
               record("c", metrics={"rmse": math.nan, "accuracy": 0.95}, lr="0.001", opt="adam"),
               record("d", RunStatus.RUNNING, lr="0.5", opt="sgd")]
    return records, last_values(records)


def test_the_best_run_is_the_lowest_loss_or_the_highest_score(sweep):
    records, values = sweep
    by_rmse = select(records, values, "rmse")
    assert (by_rmse.goal, by_rmse.best.run_id) == ("min", "b" * 8)  # NaN and missing values never win
    by_accuracy = select(records, values, "accuracy")
    assert (by_accuracy.goal, by_accuracy.best.run_id) == ("max", "c" * 8)
    assert select(records, values, "accuracy", "min").best.run_id == "a" * 8
    assert [guess_goal(name) for name in ("val_loss", "rmse", "f1_score", "AUC", "r2", "error_rate")] == \
        ["min", "min", "max", "max", "max", "min"]


def test_columns_numbers_and_categories(sweep):
    records, values = sweep
    selection = select(records, values)
    assert selection.metric.name == "accuracy"  # the metric most runs have a finite value of
    lr, opt = selection.column("param:lr"), selection.column("param:opt")
    assert lr.numeric and not opt.numeric and opt.categories == ("adam", "sgd")
    assert selection.varying == {"param:lr", "param:opt"}
    assert [c.key for c in selection.default_axes()] == ["param:lr", "param:opt", "metric:accuracy"]
    with pytest.raises(UsageError, match="no column 'param:nope'"):
        selection.column("param:nope")
    with pytest.raises(UsageError, match="no metric 'loss'"):
        select(records, values, "loss")
    with pytest.raises(UsageError, match="goal must be min or max"):
        select(records, values, "rmse", "lowest")


def polylines(svg: str) -> dict[str, list[tuple[float, float]]]:
    found = re.findall(r'<polyline class="([^"]*)" data-run-id="([^"]*)" stroke="[^"]*" points="([^"]*)"', svg)
    return {run_id: [tuple(map(float, p.split(","))) for p in points.split()] for _, run_id, points in found}


def test_parallel_coordinates_draw_every_run_and_the_best_last_and_marked(sweep):
    records, values = sweep
    selection = select(records, values, "rmse")
    svg = str(parallel_coordinates(selection, selection.default_axes()))
    lines = polylines(svg)
    assert set(lines) == {r.run_id for r in records} and all(len(points) == 3 for points in lines.values())
    best = re.findall(r'class="run best" data-run-id="([^"]*)"', svg)
    assert best == ["b" * 8] and svg.rindex('data-run-id="bbbbbbbb"') > svg.rindex('data-run-id="aaaaaaaa"')
    # lower rmse is drawn lower on its axis; a NaN or missing value goes to the "none" band below it
    rmse_y = {run_id: points[2][1] for run_id, points in lines.items()}
    assert rmse_y["b" * 8] > rmse_y["a" * 8] and rmse_y["c" * 8] == rmse_y["d" * 8] > rmse_y["b" * 8]
    # the lr axis is a grid sweep's: its four values are evenly spaced and each is labelled
    lr_y = sorted(points[0][1] for points in lines.values())
    assert math.isclose(lr_y[1] - lr_y[0], lr_y[3] - lr_y[2])
    assert all(f">{text}</text>" in svg for text in ("0.001", "0.01", "0.1", "0.5", "adam", "sgd"))
    assert 'href="/runs/aaaaaaaa"' in svg


def test_scatter_rings_the_best_point_and_counts_the_runs_it_cannot_place(sweep):
    records, values = sweep
    selection = select(records, values, "rmse")
    svg = str(scatter(selection, selection.column("param:lr"), selection.column("metric:rmse")))
    points = re.findall(r'<circle class="point( best)?" data-run-id="([^"]*)" cx="([^"]*)" cy="([^"]*)"', svg)
    assert sorted(run_id for _, run_id, _, _ in points) == ["a" * 8, "b" * 8]
    assert [run_id for best, run_id, _, _ in points if best] == ["b" * 8] and 'class="best-ring"' in svg
    xs = {run_id: float(x) for _, run_id, x, _ in points}
    assert xs["a" * 8] > xs["b" * 8]  # lr 0.1 right of lr 0.01: a numeric axis, not an even one
    assert "2 runs without both values not shown" in svg


def test_text_in_plots_is_escaped():
    records = [record("a", metrics={"m<": 1.0}, note="<script>x</script>"),
               record("b", metrics={"m<": 2.0}, note="<b>")]
    selection = select(records, last_values(records))
    for svg in (str(parallel_coordinates(selection, selection.default_axes())),
                str(scatter(selection, selection.column("param:note"), selection.column("metric:m<")))):
        assert "<script>" not in svg and "<b>" not in svg and "&lt;script&gt;" in svg
