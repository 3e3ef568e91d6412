"""`proj runs list` queries on an MLflow server: what its search filter can say, the rest here.

Filters go to `runs/search`: a run filter's comparisons the server checks exactly are sent in
MLflow's own syntax, the others (proj's attributes, numeric parameter comparisons, statuses the
server words otherwise, values no quote can hold) are checked here (runner.runmatch).
Orderings other than newest-first are applied here, with the same rules as the local store
(missing values last; parameter values that read as numbers first, in numeric order), so both
stores list runs alike.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from runner.errors import UsageError
from runner.runfilter import Comparison, RunFilter
from runner.runmatch import run_tags
from runner.tracking.base import RUN_SORT_COLUMNS, RunQuery, RunRecord, RunStatus
from runner.tracking.mlflow_record import STATUS_TAG

# proj's attributes that are tags on the server; statuses the server holds as proj does.
_TAG_ATTRIBUTES = {"entry_point": "mlflow.project.entryPoint", "sweep_id": "proj.sweep_id",
                   "backend": "mlflow.project.backend", "commit": "mlflow.source.git.commit"}
_SERVER_ATTRIBUTES = ("run_id", "run_name", "user_id", "start_time", "end_time")
_SERVER_STATUSES = ("FINISHED", "KILLED", "RUNNING")  # FAILED ones include LOST: checked here
_TEXT_OPS = ("=", "!=", "LIKE", "ILIKE")


def search_filters(query: RunQuery) -> tuple[list[str], list[tuple[str, str]]]:
    """MLflow search filters for the query, and the parameter conditions it cannot express."""
    filters, leftover = [], []
    if query.status is RunStatus.LOST:
        filters.append(f"tags.`{STATUS_TAG}` = 'LOST'")
    elif query.status is not None:
        filters.append(f"attributes.status = '{query.status.value}'")  # FAILED ones include LOST (`matches`)
    if query.sweep is not None and "'" not in query.sweep:
        filters.append(f"tags.`proj.sweep_id` = '{query.sweep}'")  # (checked again by `matches`)
    for name, value in query.parameters:
        quote = "'" if "'" not in value else '"' if '"' not in value else None
        if quote is None or "`" in name:
            leftover.append((name, value))
        else:
            filters.append(f"params.`{name}` = {quote}{value}{quote}")
    return filters, leftover


def matches(record: RunRecord, query: RunQuery, conditions: list[tuple[str, str]]) -> bool:
    """The conditions the server could not check: parameters left over, the sweep, the status."""
    values = {k: str(v) for k, v in record.parameter_values().items()}
    return (query.sweep in (None, record.sweep_id) and query.status in (None, record.status)
            and all(values.get(name) == value for name, value in conditions))


def is_filtered_here(query: RunQuery, conditions: list[tuple[str, str]]) -> bool:
    """Whether `matches` may refuse runs the server's search returned."""
    return bool(conditions) or (query.sweep is not None and "'" in query.sweep) or query.status is RunStatus.FAILED


def filter_terms(run_filter: RunFilter | None) -> tuple[list[str], RunFilter | None]:
    """The run filter's comparisons as MLflow filter terms, where the server checks them exactly,
    and a filter of the others (None when there are none) for runner.runmatch."""
    if run_filter is None:
        return [], None
    terms, kept = [], []
    for comparison in run_filter.comparisons:
        term = _term(comparison)
        if term is None:
            kept.append(comparison)
        else:
            terms.append(term)
    return terms, run_filter.only(tuple(kept)) if kept else None


def _term(c: Comparison) -> str | None:
    if c.kind == "attribute":
        return _attribute_term(c)
    if c.numeric and c.kind != "metric":
        return None  # proj's numeric comparison of parameters
    identifier = _identifier({"metric": "metrics", "param": "params", "tag": "tags"}[c.kind], c.key)
    if identifier is None:
        return None
    if c.value is None:
        return f"{identifier} {c.op}"
    value = repr(c.value) if isinstance(c.value, float) else _quoted(str(c.value))
    return None if value is None or value in ("inf", "-inf", "nan") else f"{identifier} {c.op} {value}"


def _attribute_term(c: Comparison) -> str | None:
    if c.key in _TAG_ATTRIBUTES and c.op in _TEXT_OPS:
        return _term(Comparison("tag", _TAG_ATTRIBUTES[c.key], c.op, c.value))
    if c.key == "status" and c.op == "=" and c.value in _SERVER_STATUSES:
        return f"attributes.status = '{c.value}'"
    if c.key == "status" and c.op == "=" and c.value == RunStatus.LOST.value:
        return f"tags.`{STATUS_TAG}` = 'LOST'"  # a FAILED run with this tag (mlflow_record.mlflow_status)
    if c.key not in _SERVER_ATTRIBUTES:
        return None
    if isinstance(c.value, tuple):
        values = [_quoted(v) for v in c.value]
        if c.key != "run_id" or None in values:  # MLflow takes lists for run ids only
            return None
        return f"attributes.run_id {c.op} ({', '.join(str(v) for v in values)})"
    if isinstance(c.value, float):
        return f"attributes.{c.key} {c.op} {int(c.value)}" if c.value.is_integer() else None
    value = _quoted(str(c.value))
    return None if value is None else f"attributes.{c.key} {c.op} {value}"


def _identifier(prefix: str, key: str) -> str | None:
    return None if "`" in key else f"{prefix}.`{key}`"


def _quoted(value: str) -> str | None:
    """MLflow reads quoted values as they are (no escapes): a quote the value lacks, or None."""
    return f"'{value}'" if "'" not in value else f'"{value}"' if '"' not in value else None


def view_type(query: RunQuery) -> str:
    """MLflow's run_view_type for the query's `deleted`."""
    return {False: "ACTIVE_ONLY", True: "DELETED_ONLY", None: "ALL"}[query.deleted]


def is_sorted_here(query: RunQuery) -> bool:
    return any(x is not None for x in (query.sort_metric, query.sort_parameter, query.sort_by, query.sort_tag))


def sort_records(records: list[RunRecord], query: RunQuery) -> list[RunRecord]:
    """Order by the query's metric, parameter or column; ties and missing values newest first."""
    newest_first = sorted(records, key=lambda r: r.start_time, reverse=True)
    if query.sort_metric is not None:
        metric = query.sort_metric
        return _by(newest_first, lambda r: (r.metrics.get(metric) or {}).get("last"), query.descending)
    if query.sort_parameter is not None:
        return _by_parameter(newest_first, lambda r: r.parameter_values().get(query.sort_parameter or ""),
                             query.descending)
    if query.sort_tag is not None:
        return _by_parameter(newest_first, lambda r: run_tags(r).get(query.sort_tag or ""), query.descending)
    if query.sort_by is not None:
        if query.sort_by not in RUN_SORT_COLUMNS:
            raise UsageError(f"Cannot sort runs by {query.sort_by!r}",
                             hint=f"choose one of {', '.join(RUN_SORT_COLUMNS)}")
        return _by(newest_first, _COLUMNS[query.sort_by], query.descending)
    return newest_first


_COLUMNS: dict[str, Callable[[RunRecord], Any]] = {
    "start_time": lambda r: r.start_time,
    "duration": lambda r: r.duration,
    "status": lambda r: r.status.value,
    "experiment": lambda r: r.experiment,
    "run_name": lambda r: r.run_name or None,
    "entry_point": lambda r: r.entry_point or None,
    "source": lambda r: r.source.uri or None,
    "commit": lambda r: r.source.commit,
    "exit_code": lambda r: r.exit_code,
}


def _by_parameter(newest_first: list[RunRecord], value_of: Callable[[RunRecord], Any],
                  descending: bool) -> list[RunRecord]:
    """Numbers in numeric order, then text in text order, then runs without the value."""
    rows = [(r, value_of(r)) for r in newest_first]
    numbers = [(r, number) for r, value in rows if (number := _number(value)) is not None]
    texts = [(r, str(value)) for r, value in rows if value is not None and _number(value) is None]
    missing = [r for r, value in rows if value is None]
    return ([r for r, _ in sorted(numbers, key=lambda row: row[1], reverse=descending)]
            + [r for r, _ in sorted(texts, key=lambda row: row[1], reverse=descending)] + missing)


def _by(records: list[RunRecord], key: Callable[[RunRecord], Any], descending: bool) -> list[RunRecord]:
    present = [r for r in records if key(r) is not None]
    missing = [r for r in records if key(r) is None]
    return sorted(present, key=key, reverse=descending) + missing


def _number(value: Any) -> float | None:
    # As the local store: a value reads as a number only if it has a digit ("nan" and "inf" are text).
    if isinstance(value, bool) or not any(c.isdigit() for c in str(value)):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None
