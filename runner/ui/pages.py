"""The HTML pages: the runs table, one run, and a comparison of runs.

Templates are rendered with autoescaping on, so every recorded value (parameters, log lines,
artifact names, experiment names) reaches the page as text.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import quote, urlencode

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse

from runner.tracking.base import RUN_SORT_COLUMNS, RunRecord, RunStatus, TrackingStore
from runner.ui.queries import DEFAULT_SORT, table_request
from runner.ui.views import MAX_COMPARED, compare_runs, run_details, runs_table, signature_columns

# The runs table's fixed columns: (title, sort key or None when the column cannot be sorted).
COLUMNS = [("Run", "run_name"), ("Experiment", "experiment"), ("Status", "status"), ("Started", "start_time"),
           ("Duration", "duration"), ("Entry point", "entry_point"), ("Source", "source"), ("Commit", "commit")]
assert all(key in RUN_SORT_COLUMNS for _, key in COLUMNS)


def store_of(request: Request) -> TrackingStore:
    store: TrackingStore = request.app.state.stores.get()  # app.state is untyped: StoreProvider
    return store


def render(request: Request, template: str, *, status_code: int = 200, headers: Mapping[str, str] | None = None,
           **context: Any) -> HTMLResponse:
    page = request.app.state.templates.get_template(template)
    html = page.render(store_uri=request.app.state.stores.uri, statuses=[s.value for s in RunStatus],
                       quote=quote, signature_columns=signature_columns, **context)
    return HTMLResponse(html, status_code=status_code, headers=headers)


def runs_page(request: Request) -> HTMLResponse:
    arguments = dict(request.query_params)
    filters = request.query_params.getlist("param")
    wanted = table_request(arguments, filters)
    table = runs_table(store_of(request), wanted)
    link = _linker(request)
    return render(request, "runs.html", table=table, wanted=wanted, arguments=arguments, filters=filters,
                  columns=COLUMNS, link=link, filter_link=_filter_linker(link, filters), default_sort=DEFAULT_SORT)


def _linker(request: Request) -> Callable[..., str]:
    """Builds links to the runs table that keep the current arguments but those given (None: drop it)."""
    current = request.query_params.multi_items()

    def link(**changes: Any) -> str:
        kept = [(k, v) for k, v in current if k not in changes and v != ""]
        for name, value in changes.items():
            values = value if isinstance(value, list) else [] if value is None or value == "" else [value]
            kept += [(name, str(v)) for v in values]
        return "/?" + urlencode(kept)

    return link


def _filter_linker(link: Callable[..., str], filters: list[str]) -> Callable[[str, Any], str]:
    """Links that add the filter NAME=VALUE to the current ones (replacing one on the same NAME)."""

    def filter_link(name: str, value: Any) -> str:
        others = [f for f in filters if f.strip() and f.partition("=")[0] != name]
        return link(param=[*others, f"{name}={value}"], offset=None)

    return filter_link


def run_page(request: Request) -> HTMLResponse:
    store = store_of(request)
    record = store.get_run(request.path_params["run_id"])
    return render(request, "run.html", run=record, details=run_details(store, record))


def compare_page(request: Request) -> HTMLResponse:
    store = store_of(request)
    records = compared_runs(store, request)
    return render(request, "compare.html", runs=records, comparison=compare_runs(store, records))


def compared_runs(store: TrackingStore, request: Request) -> list[RunRecord]:
    """The runs named by `run=` arguments, in order, each once; at least two of them."""
    references = list(dict.fromkeys(r.strip() for r in request.query_params.getlist("run") if r.strip()))
    records = list({r.run_id: r for r in (store.get_run(ref) for ref in references)}.values())
    if len(records) < 2:
        raise HTTPException(400, "Choose two or more runs to compare (tick them in the runs table).")
    if len(records) > MAX_COMPARED:
        raise HTTPException(400, f"At most {MAX_COMPARED} runs can be compared at once; {len(records)} were chosen.")
    return records
