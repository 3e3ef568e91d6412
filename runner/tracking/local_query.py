"""The local store's SQL for a RunQuery: which runs (filters, the run filter), in which order.

Tables (runner.tracking.local): runs r (status, times, exit_code, deleted_time, sweep_id and the
JSON record), params (proj's values, then those the project logged), tags (the user's, then
those the project set with MLflow), metric_summaries (last, min, max of each metric of an ended
run). A run filter (runner.runfilter) becomes one condition per comparison, with MLflow's rules:
nothing matches a value the run does not have, except IS NULL.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from runner.errors import UsageError
from runner.runfilter import NUMERIC_ATTRIBUTES, Comparison, RunFilter
from runner.tracking.base import PARENT_TAG, RunQuery

# What RunQuery.sort_by orders by; fields that only the JSON record holds are read from it.
SORT_EXPRESSIONS = {
    "start_time": "r.start_time",
    "duration": "r.end_time - r.start_time",
    "status": "r.status",
    "experiment": "e.name",
    "run_name": "json_extract(r.record, '$.run_name')",
    "entry_point": "json_extract(r.record, '$.entry_point')",
    "source": "json_extract(r.record, '$.source.uri')",
    "commit": "json_extract(r.record, '$.source.commit')",
    "exit_code": "r.exit_code",
}
# Attributes a filter compares (runner.runfilter): MLflow's times are milliseconds.
_ATTRIBUTES = {
    **{name: SORT_EXPRESSIONS[name] for name in ("run_name", "entry_point", "status", "source", "commit",
                                                 "exit_code", "duration")},
    "run_id": "r.run_id",
    "user_id": "json_extract(r.record, '$.user')",
    "sweep_id": "r.sweep_id",
    "experiment": "e.name",
    "backend": "json_extract(r.record, '$.backend')",
    "start_time": "r.start_time * 1000",
    "end_time": "r.end_time * 1000",
}
# Parameter values are stored as text; those that read as numbers sort (and compare) as numbers.
_NUMBER = "({v} GLOB '*[0-9]*' AND {v} NOT GLOB '*[^0-9.eE+-]*')"
_SQL_OPS = {"=": "=", "!=": "!=", "<": "<", "<=": "<=", ">": ">", ">=": ">="}


# Whether a `SELECT 1 FROM ...` matches few rows (the store asks its indexes; runner.tracking.local).
Few = Callable[[str, list[Any]], bool]

_NOT_DELETED = "r.deleted_time IS NULL"
_UNTAGGED = "r.run_id NOT IN (SELECT run_id FROM tags WHERE key = ?)"  # a tag IS NULL


@dataclass(frozen=True)
class _Member:
    table: str  # params, tags or metric_summaries: at most one row per run passes `test` (its key is named)
    test: str
    args: tuple[Any, ...]
    negated: bool


class _Sql:
    def __init__(self, *, correlated: bool = False, few: Few | None = None) -> None:
        self.joins: list[str] = []
        self.where: list[str] = []
        self.args: list[Any] = []
        self.join_args: list[Any] = []
        # How a run is tested against another table: `run_id IN (...)` builds the set of matching
        # ids first (cheap for a few, and the planner may start from them); EXISTS looks the run up
        # in that table's primary key, so a page read in an index's order stops once it is full.
        # With `correlated`, a test that matches few rows (`few`) keeps IN, and `narrow` says so.
        self.correlated, self.few, self.narrow = correlated, few, False
        self.members: list[_Member] = []  # the conditions `member` added, as they were given

    def member(self, table: str, test: str, *args: Any, negated: bool = False) -> None:
        """The run has (or, negated, has not) a row of `table` (params, tags, metric_summaries) passing `test`."""
        self.members.append(_Member(table, test, args, negated))
        if self.correlated and not (negated or self.few is None or not self.few(
                f"SELECT 1 FROM {table} WHERE {test}", list(args))):
            self.narrow = True
        elif self.correlated:
            _condition(self, f"{'NOT ' if negated else ''}EXISTS (SELECT 1 FROM {table} c WHERE c.run_id = r.run_id "
                             f"AND {test})", *args)
            return
        _condition(self, f"r.run_id {'NOT ' if negated else ''}IN (SELECT run_id FROM {table} WHERE {test})", *args)


def select_ids(query: RunQuery, few: Few | None = None) -> tuple[str, list[Any]]:
    """SELECT the ids of the page of runs `query` asks for, in its order. `few` lets a page sorted
    by a metric start from the runs a narrow filter matches rather than from the metric's order."""
    if query.sort_metric is not None:
        sql = _matching(query, sorting=True, correlated=True, few=few)
        if not (sql.narrow or _narrow_selection(query, few)):
            return _by_metric(query, sql)
    else:
        sql = _matching(query, sorting=True)
    text = " ".join(["SELECT r.run_id FROM runs r", *sql.joins, _where(sql), _order_by(query), "LIMIT ? OFFSET ?"])
    return text, [*sql.join_args, *sql.args, query.limit, query.offset]


def _narrow_selection(query: RunQuery, few: Few | None) -> bool:
    """Whether the experiment or the sweep asked for holds few runs (read from its index)."""
    if few is None:
        return False
    return bool((query.experiment is not None and few(
        "SELECT 1 FROM runs r JOIN experiments e ON e.id = r.experiment_id WHERE e.name = ?", [query.experiment]))
        or (query.sweep is not None and few("SELECT 1 FROM runs WHERE sweep_id = ?", [query.sweep])))


def count(query: RunQuery) -> tuple[str, list[Any]]:
    """SELECT how many runs match `query`, whatever its page."""
    sql = _matching(query, sorting=False)
    # Every run, or every run but the nested ones: counted from indexes, not by reading each run.
    every = "SELECT (SELECT count(*) FROM runs) - (SELECT count(*) FROM runs WHERE deleted_time IS NOT NULL)"
    if not sql.joins and sql.where == [_NOT_DELETED]:
        return every, []
    if not sql.joins and sql.where == [_NOT_DELETED, _UNTAGGED] and sql.args == [PARENT_TAG]:
        return (f"{every} - (SELECT count(*) FROM tags t JOIN runs r ON r.run_id = t.run_id "
                "WHERE t.key = ? AND r.deleted_time IS NULL)"), [PARENT_TAG]
    by_members = _count_members(sql)
    if by_members is not None:
        return by_members
    return " ".join(["SELECT count(*) FROM runs r", *sql.joins, _where(sql)]), [*sql.join_args, *sql.args]


def _count_members(sql: _Sql) -> tuple[str, list[Any]] | None:
    """When every condition but `not deleted` is a membership (-P, and filters on metrics,
    parameters and tags), count the rows of one of them, looking the others up by run: no run's
    row is read (the deleted runs come from their own index). An equality on a value drives, as
    the likeliest to be few; else the first condition a run must pass. None when this does not apply."""
    if sql.joins or sql.where[:1] != [_NOT_DELETED] or len(sql.where) != 1 + len(sql.members):
        return None
    wanted = [m for m in sql.members if not m.negated]
    if not wanted:
        return None
    driver = next((m for m in wanted if m.test.endswith("value = ?")), wanted[0])
    others = [m for m in sql.members if m is not driver]
    text = [f"SELECT count(*) FROM {driver.table} d WHERE {driver.test}",
            "d.run_id NOT IN (SELECT run_id FROM runs WHERE deleted_time IS NOT NULL)",
            *(f"{'NOT ' if m.negated else ''}EXISTS (SELECT 1 FROM {m.table} c WHERE c.run_id = d.run_id AND {m.test})"
              for m in others)]
    return " AND ".join(text), [*driver.args, *(arg for m in others for arg in m.args)]


def _where(sql: _Sql) -> str:
    return "WHERE " + " AND ".join(sql.where) if sql.where else ""


def _matching(query: RunQuery, *, sorting: bool, correlated: bool = False, few: Few | None = None) -> _Sql:
    sql = _Sql(correlated=correlated, few=few)
    if sorting:
        _sort_join(query, sql)
    needs_experiment = query.experiment is not None or (sorting and query.sort_by == "experiment") or any(
        c.kind == "attribute" and c.key == "experiment" for c in (query.filter.comparisons if query.filter else ()))
    if needs_experiment:
        sql.joins.append("JOIN experiments e ON e.id = r.experiment_id")
    if query.experiment is not None:
        _condition(sql, "e.name = ?", query.experiment)
    if query.deleted is not None:
        sql.where.append("r.deleted_time IS NOT NULL" if query.deleted else _NOT_DELETED)
    if query.status is not None:
        _condition(sql, "r.status = ?", query.status.value)
    if query.sweep is not None:
        _condition(sql, "r.sweep_id = ?", query.sweep)
    for name, value in query.parameters:
        sql.member("params", "name = ? AND value = ?", name, value)
    if query.filter is not None:
        _filter(sql, query.filter)
    return sql


def _condition(sql: _Sql, text: str, *args: Any) -> None:
    sql.where.append(text)
    sql.args.extend(args)


def _sort_join(query: RunQuery, sql: _Sql) -> None:
    if query.sort_metric is not None:
        sql.joins.append("LEFT JOIN metric_summaries m ON m.run_id = r.run_id AND m.key = ?")
        sql.join_args.append(query.sort_metric)
    elif query.sort_parameter is not None:
        sql.joins.append("LEFT JOIN params s ON s.run_id = r.run_id AND s.name = ?")
        sql.join_args.append(query.sort_parameter)
    elif query.sort_tag is not None:
        sql.joins.append("LEFT JOIN tags s ON s.run_id = r.run_id AND s.key = ?")
        sql.join_args.append(query.sort_tag)


def _by_metric(query: RunQuery, sql: _Sql) -> tuple[str, list[Any]]:
    """A page in the order of one metric's last value: the runs with a number, in the metric's
    index order, then those whose value is NaN (stored as text), then those without one; newest
    first among equals. Each part reads no further than the page's end, and the filters look each
    run up (EXISTS), so a page of a big store costs about the page, not the store. `sql`: the
    query's conditions, its sort join first (each part here joins the metric its own way)."""
    assert sql.joins[0].startswith("LEFT JOIN metric_summaries m ")
    joins, key, wanted = " ".join(sql.joins[1:]), query.sort_metric, query.limit + query.offset
    also = "".join(f" AND {condition}" for condition in sql.where)
    direction = "DESC" if query.descending else "ASC"
    by_value = "FROM metric_summaries m CROSS JOIN runs r ON r.run_id = m.run_id"  # m first: the index's order
    numbers = (f"SELECT r.run_id, 0 AS part, m.last AS value, r.start_time AS started {by_value} {joins} "
               f"WHERE m.key = ? AND typeof(m.last) IN ('integer', 'real'){also} "
               f"ORDER BY m.last {direction}, r.start_time DESC LIMIT ?")
    nans = (f"SELECT r.run_id, 1, NULL, r.start_time {by_value} {joins} "
            f"WHERE m.key = ? AND typeof(m.last) = 'text'{also} ORDER BY r.start_time DESC LIMIT ?")
    # Whether any run lacks the value is known from two counts of indexes; only then are runs read.
    without = (f"SELECT r.run_id, 2, NULL, r.start_time FROM runs r {joins} "
               "WHERE (SELECT count(*) FROM runs) > (SELECT count(*) FROM metric_summaries WHERE key = ? "
               "AND last IS NOT NULL) AND NOT EXISTS (SELECT 1 FROM metric_summaries c WHERE c.run_id = r.run_id "
               f"AND c.key = ? AND c.last IS NOT NULL){also} ORDER BY r.start_time DESC LIMIT ?")
    parts = " UNION ALL ".join(f"SELECT * FROM ({part})" for part in (numbers, nans, without))
    text = f"SELECT run_id FROM ({parts}) ORDER BY part, value {direction}, started DESC LIMIT ? OFFSET ?"
    filters = sql.args
    return text, [key, *filters, wanted, key, *filters, wanted, key, key, *filters, wanted, query.limit, query.offset]


def _order_by(query: RunQuery) -> str:
    """The chosen metric, parameter, tag or column (missing values last), then newest first."""
    direction = "DESC" if query.descending else "ASC"
    if query.sort_metric is not None:  # NaN (stored as text) after every number, before no value
        return f"ORDER BY m.last IS NULL, typeof(m.last) = 'text', m.last {direction}, r.start_time DESC"
    if query.sort_parameter is not None or query.sort_tag is not None:
        return (f"ORDER BY s.value IS NULL, NOT {_NUMBER.format(v='s.value')}, CAST(s.value AS REAL) {direction}, "
                f"s.value {direction}, r.start_time DESC")
    if query.sort_by is not None:
        if query.sort_by not in SORT_EXPRESSIONS:
            raise UsageError(f"Cannot sort runs by {query.sort_by!r}",
                             hint=f"choose one of {', '.join(SORT_EXPRESSIONS)}")
        if query.sort_by == "start_time":
            return f"ORDER BY r.start_time {direction}"  # the runs_newest index, read either way
        expression = SORT_EXPRESSIONS[query.sort_by]
        nulls_last = "" if query.sort_by in ("status", "experiment") else f"{expression} IS NULL, "
        return f"ORDER BY {nulls_last}{expression} {direction}, r.start_time DESC"
    return "ORDER BY r.start_time DESC"


# --- the run filter ----------------------------------------------------------------------------


def _filter(sql: _Sql, run_filter: RunFilter) -> None:
    for comparison in run_filter.comparisons:
        if comparison.kind == "metric":
            _metric(sql, comparison)
        elif comparison.kind in ("param", "tag"):
            _keyed(sql, comparison)
        else:
            _attribute(sql, comparison)


def _metric(sql: _Sql, c: Comparison) -> None:
    # NaN is stored as the text 'NaN': it is unequal to every number and compares with nothing else.
    if c.op == "!=":
        test = "(last != ? OR typeof(last) = 'text')"
    else:
        test = f"(last {_SQL_OPS[c.op]} ? AND typeof(last) != 'text')"
    sql.member("metric_summaries", f"key = ? AND {test}", c.key, c.value)


def _keyed(sql: _Sql, c: Comparison) -> None:
    table, name = ("params", "name") if c.kind == "param" else ("tags", "key")
    if c.op in ("IS NULL", "IS NOT NULL"):
        sql.member(table, f"{name} = ?", c.key, negated=c.op == "IS NULL")
        return
    test, args = _compare("value", c)
    sql.member(table, f"{name} = ? AND {test}", c.key, *args)


def _attribute(sql: _Sql, c: Comparison) -> None:
    column = _ATTRIBUTES[c.key]
    if isinstance(c.value, tuple):
        marks = ", ".join("?" * len(c.value))
        _condition(sql, f"{column} IS NOT NULL AND {column} {c.op} ({marks})", *c.value)
        return
    if c.key in NUMERIC_ATTRIBUTES:
        _condition(sql, f"{column} {_SQL_OPS[c.op]} ?", c.value)
        return
    test, args = _compare(column, c)
    _condition(sql, test, *args)


def _compare(column: str, c: Comparison) -> tuple[str, list[Any]]:
    """A text column against the comparison's value: exactly, as a pattern, or as a number."""
    if c.numeric:  # proj's numeric comparison of parameters: values that read as numbers
        return f"{_NUMBER.format(v=column)} AND CAST({column} AS REAL) {_SQL_OPS[c.op]} ?", [c.value]
    assert isinstance(c.value, str)
    if c.op == "LIKE":  # case-sensitive, as in MLflow: SQLite's GLOB, with LIKE's wildcards
        return f"{column} GLOB ?", [_glob(c.value)]
    if c.op == "ILIKE":
        return f"lower({column}) GLOB ?", [_glob(c.value.lower())]
    return f"{column} {_SQL_OPS[c.op]} ?", [c.value]


def _glob(pattern: str) -> str:
    """A LIKE pattern as a GLOB pattern: % is *, _ is ?, GLOB's own special characters escaped."""
    special = {"%": "*", "_": "?", "*": "[*]", "?": "[?]", "[": "[[]"}
    return "".join(special.get(c, c) for c in pattern)
