"""Choosing the best run of a sweep or any selection: the runs as rows of parameter and metric
values, the metric they are judged by, which way is better, and the best run (by
runner.objective, as `proj run --sweep ... --objective` names it).

A parameter is a numeric column when every value it has reads as a number, else a column of
categories. A metric's value is its last one (the latest written, while a run runs; only runs that have
ended compete for best). The goal
(lower or higher is better) is what the user says, else guessed from the metric's name: scores
such as accuracy, AUC, F1 or R² are maximised, everything else (losses, errors) minimised.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

from runner.errors import UsageError
from runner.objective import Objective
from runner.runfilter import as_number
from runner.runmatch import run_params
from runner.tracking.base import RunRecord

GOALS = ("min", "max")
MAX_AXES = 12  # parallel-coordinate axes drawn by default (more can be asked for by name)
_MAXIMISED = re.compile(r"acc|auc|f1|precision|recall|r2|r_2|score|ndcg|map\b|iou|bleu|rouge|reward|return|"
                        r"throughput|success", re.IGNORECASE)


@dataclass(frozen=True)
class Column:
    kind: str  # "param" or "metric"
    name: str
    numeric: bool
    categories: tuple[str, ...] = ()  # a text column's values, in order

    @property
    def key(self) -> str:
        """`param:NAME` or `metric:NAME`, as the runs table names its sort keys."""
        return f"{self.kind}:{self.name}"


@dataclass(frozen=True)
class RunPoint:
    run_id: str
    run_name: str
    status: str
    values: dict[str, float | str | None]  # by column key; None: the run has no such value

    def number(self, column: Column) -> float | None:
        """The value as a number on the column's axis: categories are numbered 0, 1, ..."""
        value = self.values.get(column.key)
        if value is None:
            return None
        if column.numeric:
            return value if isinstance(value, float) else as_number(str(value))
        return float(column.categories.index(str(value)))


@dataclass
class Selection:
    runs: list[RunPoint]
    params: list[Column]  # those whose value differs between runs first, then the others
    metrics: list[Column]
    metric: Column | None  # the metric the runs are judged by
    goal: str  # "min" or "max"
    best: RunPoint | None = None
    varying: set[str] = field(default_factory=set)  # keys of parameters with more than one value
    objective: Objective | None = None  # the metric and goal, as `proj run --sweep --objective` takes them

    def column(self, key: str) -> Column:
        for column in (*self.params, *self.metrics):
            if column.key == key:
                return column
        names = ", ".join(c.key for c in (*self.params, *self.metrics)) or "none"
        raise UsageError(f"These runs have no column {key!r}", hint=f"their columns: {names}")

    def default_axes(self) -> list[Column]:
        """The parameters that vary (all of them when none does), then the judged metric."""
        params = [c for c in self.params if c.key in self.varying] or self.params
        return [*params[:MAX_AXES], *([self.metric] if self.metric else [])]


def select(records: list[RunRecord], last_values: dict[str, dict[str, float]], metric: str | None = None,
           goal: str | None = None) -> Selection:
    """The runs as points; `last_values`: run id -> metric -> last value (read by the caller)."""
    params_by_run = {r.run_id: run_params(r) for r in records}
    names = list(dict.fromkeys(name for values in params_by_run.values() for name in values))
    params = [_column("param", name, [values.get(name) for values in params_by_run.values()]) for name in names]
    varying = {c.key for c in params if len({v.get(c.name) for v in params_by_run.values()}) > 1}
    params.sort(key=lambda c: c.key not in varying)
    metric_names = sorted({key for values in last_values.values() for key in values})
    metrics = [Column("metric", name, True) for name in metric_names]
    runs = [RunPoint(r.run_id, r.run_name, r.status.value,
                     {**{f"param:{k}": v for k, v in params_by_run[r.run_id].items()},
                      **{f"metric:{k}": v for k, v in last_values.get(r.run_id, {}).items()}}) for r in records]
    judged = _judged_metric(metrics, runs, metric)
    chosen_goal = _goal(goal, judged)
    objective = Objective(judged.name, maximize=chosen_goal == "max") if judged else None
    best = objective.best(records) if objective else None
    best_point = next((run for run in runs if best is not None and run.run_id == best.run_id), None)
    return Selection(runs, params, metrics, judged, chosen_goal, best_point, varying, objective)


def guess_goal(metric: str) -> str:
    return "max" if _MAXIMISED.search(metric) else "min"


def _column(kind: str, name: str, values: list[str | None]) -> Column:
    present = [v for v in values if v is not None]
    if present and all(as_number(v) is not None for v in present):
        return Column(kind, name, True)
    return Column(kind, name, False, tuple(sorted(set(present), key=_category_order)))


def _category_order(value: str) -> tuple[int, float, str]:
    number = as_number(value)
    return (0, number, value) if number is not None else (1, 0.0, value)


def _judged_metric(metrics: list[Column], runs: list[RunPoint], wanted: str | None) -> Column | None:
    if wanted:
        for column in metrics:
            if column.name == wanted:
                return column
        raise UsageError(f"These runs have no metric {wanted!r}",
                         hint=f"their metrics: {', '.join(c.name for c in metrics) or 'none'}")
    if not metrics:
        return None
    # The metric most runs have a finite value of; on a tie, the first by name.
    def finite(column: Column) -> int:
        return sum((v := r.number(column)) is not None and math.isfinite(v) for r in runs)

    return max(metrics, key=lambda c: (finite(c), -metrics.index(c)))


def _goal(goal: str | None, metric: Column | None) -> str:
    if goal:
        if goal not in GOALS:
            raise UsageError(f"goal must be min or max, not {goal!r}")
        return goal
    return guess_goal(metric.name) if metric else "min"
