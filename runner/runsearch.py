"""Searching a store's runs with a filter and orderings in MLflow's syntax (`runner.search_runs`).

The filter and the orderings are parsed by runner.runfilter, the one parser. The store lists
runs (newest first, or in one order it can sort by itself); the filter is checked on each record
here, and orderings the store cannot apply are applied here with the stores' rules: missing
values last whichever the direction; parameters that read as numbers before those that do not.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace

from runner.runfilter import OrderKey, RunFilter, as_number, lookup, parse_filter, parse_order_by
from runner.tracking.base import RUN_SORT_COLUMNS, RunQuery, RunRecord, TrackingStore

PAGE = 1000  # records read from the store at a time


def search_records(store: TrackingStore, filter_text: str, order_by: Sequence[str],
                   experiments: Sequence[str] | None, max_results: int) -> list[RunRecord]:
    """Up to `max_results` runs matching `filter_text`, in the order `order_by` says."""
    run_filter = parse_filter(filter_text) if filter_text.strip() else None
    keys = [parse_order_by(text) for text in order_by]
    names: list[str | None] = list(dict.fromkeys(experiments)) if experiments else [None]
    query = _store_order(keys, names[0]) if len(names) == 1 else None
    if query is not None:  # the store's own order: read page by page until enough match
        return _first_matches(store, query, run_filter, max_results)
    records = [r for name in names for r in _all(store, RunQuery(experiment=name), run_filter)]
    return sort_runs(records, keys)[:max_results]


def _store_order(keys: list[OrderKey], experiment: str | None) -> RunQuery | None:
    """The query that makes the store list the experiment's runs in this order, if it can."""
    if not keys:
        return RunQuery(experiment=experiment)
    if len(keys) > 1:
        return None
    key = keys[0]
    descending = _descending(key)
    if key.kind == "metric":
        return RunQuery(experiment=experiment, sort_metric=key.key, descending=descending)
    if key.kind == "param":
        return RunQuery(experiment=experiment, sort_parameter=key.key, descending=descending)
    if key.kind == "attribute" and key.key in RUN_SORT_COLUMNS:
        return RunQuery(experiment=experiment, sort_by=key.key, descending=descending)
    return None


def _descending(key: OrderKey) -> bool:
    """Ascending unless DESC is said, as in MLflow (where only the default order is newest first)."""
    return bool(key.descending)


def _pages(store: TrackingStore, query: RunQuery) -> Iterator[RunRecord]:
    offset = 0
    while True:
        page = store.list_runs(replace(query, limit=PAGE, offset=offset))
        yield from page
        if len(page) < PAGE:
            return
        offset += PAGE


def _first_matches(store: TrackingStore, query: RunQuery, run_filter: RunFilter | None,
                   max_results: int) -> list[RunRecord]:
    found: list[RunRecord] = []
    for record in _pages(store, query):
        if run_filter is None or run_filter.matches(record):
            found.append(record)
            if len(found) == max_results:
                break
    return found


def _all(store: TrackingStore, query: RunQuery, run_filter: RunFilter | None) -> list[RunRecord]:
    return [r for r in _pages(store, query) if run_filter is None or run_filter.matches(r)]


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
