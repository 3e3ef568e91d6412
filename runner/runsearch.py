"""Finding recorded runs, for `proj runs list`, `proj ui` and the Python API (`runner.search_runs`).

- `find_runs`: one page of a RunQuery and how many runs match in all (a sweep named by a
  unique prefix is looked up first);
- `search_records`: up to N runs matching a filter in MLflow's syntax, in the orders MLflow's
  `order_by` says. The filter and the orderings are parsed by runner.runfilter, the one parser;
  a store that searches itself (`supports_search`) checks the filter, for other stores it is
  checked here (runner.runmatch). Orderings the store cannot apply are applied here with the
  stores' rules: missing values last whichever the direction; parameters that read as numbers
  before those that do not.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from runner.errors import RunNotFoundError, UsageError
from runner.runfilter import Comparison, OrderKey, RunFilter, as_number, parse_filter, parse_order_by
from runner.runmatch import lookup, matches
from runner.tracking.base import PARENT_TAG, RUN_SORT_COLUMNS, RunQuery, RunRecord, TrackingStore


@dataclass(frozen=True)
class RunPage:
    records: list[RunRecord]
    offset: int
    total: int | None  # every run the query matches, whatever the page; None when the store cannot count

    @property
    def remaining(self) -> int | None:
        """How many matching runs come after this page."""
        return None if self.total is None else max(self.total - self.offset - len(self.records), 0)


def find_runs(store: TrackingStore, query: RunQuery) -> RunPage:
    """The page of runs `query` asks for, counted unless it is the last."""
    query = prepared_query(store, query)
    records = store.list_runs(query)
    if len(records) < query.limit and (records or query.offset == 0):
        return RunPage(records, query.offset, query.offset + len(records))  # the last page: nothing to count
    return RunPage(records, query.offset, store.count_runs(query))


def prepared_query(store: TrackingStore, query: RunQuery) -> RunQuery:
    """`query` as the store answers it: refused if the store cannot, a sweep given by a prefix
    looked up, nested runs left out unless asked for. Every listing (`proj runs list`,
    `runner.search_runs`, `proj ui`) asks through this."""
    check_supported(store, query)
    if query.sweep is not None:
        query = query._replace(sweep=resolve_sweep(store, query.sweep))
    return _without_nested(store, query)


def check_supported(store: TrackingStore, query: RunQuery) -> None:
    """Refuse what a store cannot answer rather than let it answer something else."""
    asked = [what for what, given in (("filter runs (--filter)", query.filter is not None),
                                      ("sort runs by a tag", query.sort_tag is not None),
                                      ("list deleted runs", query.deleted is not False)) if given]
    if asked and not store.supports_search:
        raise UsageError(f"The tracking store {store.uri} cannot {' or '.join(asked)}",
                         hint="its plugin does not implement searches (docs/plugins.md)")


def _without_nested(store: TrackingStore, query: RunQuery) -> RunQuery:
    """`nested=False` as a filter comparison every searching store applies: no parent tag. A
    filter that names that tag itself asks for nested runs, so it is left as it is; a store that
    cannot search lists every run."""
    if query.nested or not store.supports_search:
        return query
    comparisons = query.filter.comparisons if query.filter else ()
    if any(c.kind == "tag" and c.key == PARENT_TAG for c in comparisons):
        return query
    top_level = Comparison("tag", PARENT_TAG, "IS NULL", None)
    run_filter = RunFilter(query.filter.text if query.filter else "", (*comparisons, top_level))
    return query._replace(filter=run_filter)


def resolve_sweep(store: TrackingStore, prefix: str) -> str:
    """The sweep id that `prefix` starts (a whole id is taken as it is)."""
    prefix = prefix.strip()
    found = store.sweep_ids(prefix, 2)
    if found is None or prefix in found:
        return prefix  # a store that cannot search sweeps takes whole ids only
    if not found:
        raise RunNotFoundError(f"No sweep {prefix!r} in {store.uri}",
                               hint="`proj runs list` shows each run's sweep with --format json (sweep_id)")
    if len(found) > 1:
        raise UsageError(f"Sweep id prefix {prefix!r} is ambiguous in {store.uri} ({', '.join(found)}, ...)",
                         hint="give more characters")
    return found[0]


def order_fields(key: OrderKey) -> dict[str, Any]:
    """RunQuery's fields for an order_by key (`metrics.rmse DESC`); the direction when it says one."""
    fields: dict[str, Any] = {} if key.descending is None else {"descending": key.descending}
    if key.kind == "metric":
        return {**fields, "sort_metric": key.key}
    if key.kind == "param":
        return {**fields, "sort_parameter": key.key}
    if key.kind == "tag":
        return {**fields, "sort_tag": key.key}
    if key.key not in RUN_SORT_COLUMNS:
        raise UsageError(f"Runs cannot be sorted by the attribute {key.key!r}",
                         hint=f"sort by metrics.NAME, params.NAME, tags.NAME or one of {', '.join(RUN_SORT_COLUMNS)}")
    return {**fields, "sort_by": key.key}


PAGE = 1000  # records read from the store at a time


def search_records(store: TrackingStore, filter_text: str, order_by: Sequence[str],
                   experiments: Sequence[str] | None, max_results: int) -> list[RunRecord]:
    """Up to `max_results` runs matching `filter_text`, in the order `order_by` says. A store that
    searches (`supports_search`) checks the filter itself; for the others it is checked here."""
    run_filter = parse_filter(filter_text) if filter_text.strip() else None
    keys = [parse_order_by(text) for text in order_by]
    names: list[str | None] = list(dict.fromkeys(experiments)) if experiments else [None]
    stored, here = (run_filter, None) if store.supports_search else (None, run_filter)
    query = _store_order(store, keys, names[0]) if len(names) == 1 else None
    if query is not None:  # the store's own order: read page by page until enough match
        return _first_matches(store, query._replace(filter=stored), here, max_results)
    records = [r for name in names for r in _all(store, RunQuery(experiment=name, filter=stored), here)]
    return sort_runs(records, keys)[:max_results]


def _store_order(store: TrackingStore, keys: list[OrderKey], experiment: str | None) -> RunQuery | None:
    """The query that makes the store list the experiment's runs in this order, if it can."""
    if not keys:
        return RunQuery(experiment=experiment)
    key = keys[0]
    if len(keys) > 1 or key.kind == "attribute" and key.key not in RUN_SORT_COLUMNS:
        return None
    if key.kind == "tag" and not store.supports_search:
        return None
    return RunQuery(experiment=experiment, **{**order_fields(key), "descending": _descending(key)})


def _descending(key: OrderKey) -> bool:
    """Ascending unless DESC is said, as in MLflow (where only the default order is newest first)."""
    return bool(key.descending)


def _pages(store: TrackingStore, query: RunQuery) -> Iterator[RunRecord]:
    offset = 0
    while True:
        page = store.list_runs(query._replace(limit=PAGE, offset=offset))
        yield from page
        if len(page) < PAGE:
            return
        offset += PAGE


def _first_matches(store: TrackingStore, query: RunQuery, run_filter: RunFilter | None,
                   max_results: int) -> list[RunRecord]:
    found: list[RunRecord] = []
    for record in _pages(store, query):
        if matches(run_filter, record):
            found.append(record)
            if len(found) == max_results:
                break
    return found


def _all(store: TrackingStore, query: RunQuery, run_filter: RunFilter | None) -> list[RunRecord]:
    return [r for r in _pages(store, query) if matches(run_filter, r)]


def sort_runs(records: list[RunRecord], keys: Sequence[OrderKey]) -> list[RunRecord]:
    """Newest first, then ordered by each key (the first key decides first)."""
    ordered = sorted(records, key=lambda r: r.start_time, reverse=True)
    for key in reversed(keys):  # stable sorts, last key first: the first key wins
        ordered = _sorted_by(ordered, key)
    return ordered


def _sorted_by(records: list[RunRecord], key: OrderKey) -> list[RunRecord]:
    """Numbers (ascending unless DESC), then NaN, then text, then runs without a value."""
    descending = _descending(key)
    groups: list[list[tuple[float | str, RunRecord]]] = [[], [], [], []]
    for record in records:
        value = lookup(record, key.kind, key.key)
        number = value if isinstance(value, float) else as_number(value) if isinstance(value, str) else None
        if number is not None and not math.isnan(number):
            groups[0].append((number, record))
        elif isinstance(value, float):
            groups[1].append((0.0, record))  # NaN
        elif value is not None:
            groups[2].append((value, record))
        else:
            groups[3].append((0.0, record))
    by_value: Callable[[tuple[float | str, RunRecord]], float | str] = lambda pair: pair[0]  # noqa: E731
    return [record for group in groups for _, record in sorted(group, key=by_value, reverse=descending)]
