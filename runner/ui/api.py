"""The JSON API behind the pages (documented in docs/ui.md).

A run is the dict `proj runs show --format json` prints; a runs listing holds the dicts
`proj runs list --format json` prints; a comparison holds what `proj runs diff` reports.
"""

from __future__ import annotations

from itertools import islice

from starlette.requests import Request

from runner.errors import UsageError
from runner.runview import run_view
from runner.ui.comparison import compare_runs
from runner.ui.jsonresponse import JSON
from runner.ui.pages import store_of
from runner.ui.queries import MAX_OFFSET, table_request, whole_number
from runner.ui.selections import compared_runs
from runner.ui.views import read_log, table_page
from runner.verdict import judge, parse_tolerances

MAX_METRIC_PAGE = 10_000  # metric points sent at once by /api/runs/ID/metrics


def runs(request: Request) -> JSON:
    wanted = table_request(request.query_params)
    page = table_page(store_of(request), wanted.query)
    return JSON({"runs": [r.to_dict() for r in page.records], "offset": wanted.offset, "limit": wanted.page_size,
                 "next_offset": wanted.offset + wanted.page_size if page.has_next else None, "total": page.total})


def run(request: Request) -> JSON:
    store = store_of(request)
    return JSON(run_view(store, store.get_run(request.path_params["run_id"])))


def metrics(request: Request) -> JSON:
    """The metric points written so far (live while the run runs), a page at a time: `limit`
    points (at most MAX_METRIC_PAGE) from the `offset`-th on, of one metric when `key` is given;
    `next_offset` is null on the last page. And the lines skipped."""
    store = store_of(request)
    record = store.get_run(request.path_params["run_id"])
    arguments = dict(request.query_params)
    offset = whole_number(arguments, "offset", 0, low=0, high=MAX_OFFSET)
    limit = whole_number(arguments, "limit", MAX_METRIC_PAGE, low=1, high=MAX_METRIC_PAGE)
    key = arguments.get("key")
    reading = store.read_metrics(record.run_id, complete=record.status.is_terminal)
    points = (p for p in reading.points() if key is None or p.key == key)
    page = [p._asdict() for p in islice(points, offset, offset + limit + 1)]
    more = len(page) > limit
    return JSON({"run_id": record.run_id, "points": page[:limit], "offset": offset, "limit": limit,
                 "next_offset": offset + limit if more else None, "problems": list(reading.problems)})


def log(request: Request) -> JSON:
    """The run's output from byte `offset` on (without it, the tail), and the run's status.

    The status is read before the log, so once it is final the text returned is complete."""
    store = store_of(request)
    record = store.get_run(request.path_params["run_id"])
    offset = request.query_params.get("offset")
    if offset is not None and not (offset.isascii() and offset.isdigit() and int(offset) <= MAX_OFFSET):
        raise UsageError(f"offset must be a whole number of bytes, not {offset!r}")
    chunk = read_log(store, record.run_id, None if offset is None else int(offset))
    return JSON(chunk.as_dict(record.status))


def compare(request: Request) -> JSON:
    store = store_of(request)
    records = compared_runs(store, request)
    comparison = compare_runs(store, records, charts=None)
    first, tolerances = comparison.views[0], parse_tolerances([])
    diffs = [{**diff.as_dict(), "verdict": judge(diff, first, view, tolerances).as_dict()}
             for diff, view in zip(comparison.diffs, comparison.views[1:])]
    return JSON({"runs": [r.run_id for r in records], "diffs": diffs})
