"""Reading query strings: the runs table's (filters, sort order, page, chosen columns), the
metric charts' settings, and how a selection of runs is judged.

The same query string drives the HTML table and `/api/runs`, so a page's data can be fetched as
JSON by changing the path only.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from starlette.datastructures import QueryParams

from runner.errors import UsageError
from runner.params import parse_assignments
from runner.runfilter import parse_filter
from runner.tracking.base import RUN_SORT_COLUMNS, RunQuery, RunStatus
from runner.ui.charts import X_AXES, ChartOptions

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 500
MAX_OFFSET = 10**15  # SQLite integers are 64-bit
DEFAULT_SORT = "start_time"
PARAM_PREFIX, METRIC_PREFIX, TAG_PREFIX = "param:", "metric:", "tag:"
MAX_SMOOTHING = 0.99


@dataclass(frozen=True)
class TableRequest:
    query: RunQuery  # the page asked for: `limit` runs from `offset` on
    sort: str  # a column name, param:NAME, metric:NAME or tag:NAME
    descending: bool
    metrics: tuple[str, ...]  # metric columns the user chose
    page_size: int
    params: tuple[str, ...] | None = None  # parameter columns the user chose (None: every one on the page)
    tags: tuple[str, ...] = ()  # tag columns the user chose
    chosen: bool = False  # the columns were chosen (an empty list then means none)

    @property
    def offset(self) -> int:
        return self.query.offset


def table_request(args: QueryParams) -> TableRequest:
    """What the runs table (and /api/runs) is asked for."""
    experiment = args.get("experiment", "").strip() or None
    sweep = args.get("sweep", "").strip() or None
    status = _status(args.get("status", ""))
    filters = parse_assignments([p for p in args.getlist("param") if p.strip()])
    sort = args.get("sort", "").strip() or DEFAULT_SORT
    descending = args.get("order", "desc" if sort == DEFAULT_SORT else "asc") == "desc"
    page_size = whole_number(args, "limit", DEFAULT_PAGE_SIZE, low=1, high=MAX_PAGE_SIZE)
    offset = whole_number(args, "offset", 0, low=0, high=MAX_OFFSET)
    chosen = args.get("columns", "") == "chosen"
    params = names(args.getlist("params"))
    search = args.get("filter", "").strip()
    query = RunQuery(experiment=experiment, status=status, parameters=tuple(filters.items()), sweep=sweep,
                     limit=page_size, offset=offset, descending=descending, **_sort_fields(sort),
                     filter=parse_filter(search) if search else None, deleted=_deleted(args.get("deleted", "")),
                     nested=_nested(args.get("nested", "")))
    return TableRequest(query, sort, descending, names(args.getlist("metrics")), page_size,
                        params=params if params or chosen else None, tags=names(args.getlist("tags")), chosen=chosen)


def names(values: list[str]) -> tuple[str, ...]:
    """Column names given as repeated arguments, comma-separated lists, or both; each once."""
    return tuple(dict.fromkeys(n.strip() for value in values for n in value.split(",") if n.strip()))


def _sort_fields(sort: str) -> dict[str, Any]:
    if sort.startswith(PARAM_PREFIX) and sort[len(PARAM_PREFIX):]:
        return {"sort_parameter": sort[len(PARAM_PREFIX):]}
    if sort.startswith(METRIC_PREFIX) and sort[len(METRIC_PREFIX):]:
        return {"sort_metric": sort[len(METRIC_PREFIX):]}
    if sort.startswith(TAG_PREFIX) and sort[len(TAG_PREFIX):]:
        return {"sort_tag": sort[len(TAG_PREFIX):]}
    if sort in RUN_SORT_COLUMNS:
        return {"sort_by": sort}
    raise UsageError(f"Cannot sort runs by {sort!r}", hint=f"choose one of {', '.join(RUN_SORT_COLUMNS)}, "
                                                        f"{PARAM_PREFIX}NAME, {METRIC_PREFIX}NAME or {TAG_PREFIX}NAME")


def _deleted(text: str) -> bool | None:
    """`deleted=only` lists deleted runs only, `deleted=all` both; by default deleted runs are hidden."""
    choices: dict[str, bool | None] = {"": False, "only": True, "all": None}
    if text.strip() not in choices:
        raise UsageError(f"deleted must be only or all, not {text!r}")
    return choices[text.strip()]


def _nested(text: str) -> bool:
    """`nested=all` also lists the runs a project started inside its run (MLflow's nested runs),
    which are hidden by default as in `proj runs list` (each run's page links its own)."""
    if text.strip() not in ("", "all"):
        raise UsageError(f"nested must be all, not {text!r}")
    return text.strip() == "all"


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


def chart_options(args: Mapping[str, str]) -> ChartOptions:
    """`xaxis=step|time`, `scale=linear|log`, `smooth=0..0.99` (the weight of the moving average)."""
    x = args.get("xaxis", "").strip() or "step"
    if x not in X_AXES:
        raise UsageError(f"xaxis must be one of {', '.join(X_AXES)}, not {x!r}")
    scale = args.get("scale", "").strip() or "linear"
    if scale not in ("linear", "log"):
        raise UsageError(f"scale must be linear or log, not {scale!r}")
    text = args.get("smooth", "").strip() or "0"
    try:
        smoothing = float(text)
    except ValueError:
        smoothing = -1.0
    if not 0 <= smoothing <= MAX_SMOOTHING:
        raise UsageError(f"smooth must be a number from 0 to {MAX_SMOOTHING}, not {text!r}")
    return ChartOptions(x=x, log=scale == "log", smoothing=smoothing)


@dataclass(frozen=True)
class ChoiceRequest:
    """How a sweep or a selection of runs is judged and drawn (runner.ui.choosing)."""

    metric: str | None  # the metric the runs are judged by (None: the one most runs have)
    goal: str | None  # "min" or "max" (None: guessed from the metric's name)
    x: str | None  # the scatter plot's columns, as param:NAME or metric:NAME
    y: str | None
    axes: tuple[str, ...]  # parallel-coordinate columns (none: the varying parameters, then the metric)


def choice_request(args: Mapping[str, str], axes: list[str]) -> ChoiceRequest:
    """`args`: single-valued query arguments; `axes`: every `axis=` given (checkboxes)."""
    def text(name: str) -> str | None:
        return args.get(name, "").strip() or None

    return ChoiceRequest(text("metric"), text("goal"), text("x"), text("y"),
                         tuple(dict.fromkeys(a.strip() for a in axes if a.strip())))
