"""The JSON API behind the pages (documented in docs/ui.md).

A run is the dict `proj runs show --format json` prints; a runs listing holds the dicts
`proj runs list --format json` prints; a comparison holds what `proj runs diff` reports.
"""

from __future__ import annotations

from dataclasses import asdict

from starlette.requests import Request

from runner.errors import UsageError
from runner.runview import run_view
from runner.ui.jsonresponse import JSON
from runner.ui.pages import compared_runs, store_of
from runner.ui.queries import MAX_OFFSET, table_request
from runner.ui.views import compare_runs, read_log


def runs(request: Request) -> JSON:
    wanted = table_request(dict(request.query_params), request.query_params.getlist("param"))
    found = store_of(request).list_runs(wanted.query)
    page = found[: wanted.page_size]
    more = len(found) > wanted.page_size
    return JSON({"runs": [r.to_dict() for r in page], "offset": wanted.offset, "limit": wanted.page_size,
                 "next_offset": wanted.offset + wanted.page_size if more else None})


def run(request: Request) -> JSON:
    store = store_of(request)
    return JSON(run_view(store, store.get_run(request.path_params["run_id"])))


def metrics(request: Request) -> JSON:
    """Every metric point written so far (live while the run runs), and the lines skipped."""
    store = store_of(request)
    record = store.get_run(request.path_params["run_id"])
    reading = store.read_metrics(record.run_id, complete=record.status.is_terminal)
    return JSON({"run_id": record.run_id, "points": [asdict(p) for p in reading.points],
                 "problems": list(reading.problems)})


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
    comparison = compare_runs(store, records, charts=False)
    return JSON({"runs": [r.run_id for r in records], "diffs": [d.as_dict() for d in comparison.diffs]})
