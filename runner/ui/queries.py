"""Reading the runs table's query string: filters, sort order, page, chosen metric columns.

The same query string drives the HTML table and `/api/runs`, so a page's data can be fetched as
JSON by changing the path only.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from runner.errors import UsageError
from runner.params import parse_assignments
from runner.tracking.base import RUN_SORT_COLUMNS, RunQuery, RunStatus

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 500
MAX_OFFSET = 10**15  # SQLite integers are 64-bit
DEFAULT_SORT = "start_time"
PARAM_PREFIX, METRIC_PREFIX = "param:", "metric:"


@dataclass(frozen=True)
class TableRequest:
    query: RunQuery  # limit is one more than the page size: that extra run says a next page exists
    sort: str  # a column name, param:NAME or metric:NAME
    descending: bool
    metrics: tuple[str, ...]  # metric columns the user chose
    page_size: int

    @property
    def offset(self) -> int:
        return self.query.offset


def table_request(args: Mapping[str, str], parameters: list[str]) -> TableRequest:
    """`args`: single-valued query arguments; `parameters`: every `param=NAME=VALUE` given."""
    experiment = args.get("experiment", "").strip() or None
    sweep = args.get("sweep", "").strip() or None
    status = _status(args.get("status", ""))
    filters = parse_assignments([p for p in parameters if p.strip()])
    sort = args.get("sort", "").strip() or DEFAULT_SORT
    descending = args.get("order", "desc" if sort == DEFAULT_SORT else "asc") == "desc"
    page_size = whole_number(args, "limit", DEFAULT_PAGE_SIZE, low=1, high=MAX_PAGE_SIZE)
    offset = whole_number(args, "offset", 0, low=0, high=MAX_OFFSET)
    metrics = tuple(dict.fromkeys(m.strip() for m in args.get("metrics", "").split(",") if m.strip()))
    query = RunQuery(experiment=experiment, status=status, parameters=tuple(filters.items()), sweep=sweep,
                     limit=page_size + 1, offset=offset, descending=descending, **_sort_fields(sort))
    return TableRequest(query, sort, descending, metrics, page_size)


def _sort_fields(sort: str) -> dict[str, str]:
    if sort.startswith(PARAM_PREFIX) and sort[len(PARAM_PREFIX):]:
        return {"sort_parameter": sort[len(PARAM_PREFIX):]}
    if sort.startswith(METRIC_PREFIX) and sort[len(METRIC_PREFIX):]:
        return {"sort_metric": sort[len(METRIC_PREFIX):]}
    if sort in RUN_SORT_COLUMNS:
        return {"sort_by": sort}
    raise UsageError(f"Cannot sort runs by {sort!r}",
                     hint=f"choose one of {', '.join(RUN_SORT_COLUMNS)}, {PARAM_PREFIX}NAME or {METRIC_PREFIX}NAME")


def _status(text: str) -> RunStatus | None:
    if not text.strip():
        return None
    try:
        return RunStatus(text.strip().upper())
    except ValueError:
        raise UsageError(f"Unknown status {text!r}",
                         hint=f"choose one of {', '.join(s.value for s in RunStatus)}") from None


def whole_number(args: Mapping[str, str], name: str, default: int, *, low: int, high: int) -> int:
    text = args.get(name, "").strip()
    if not text:
        return default
    if not (text.isascii() and text.isdigit()) or not low <= int(text) <= high:
        raise UsageError(f"{name} must be a whole number from {low} to {high}, not {text!r}")
    return int(text)
