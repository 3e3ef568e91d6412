"""The HTML pages about one run or a table of them (runner.ui.selections has the pages about
several runs at once), and what every page is rendered with.

Templates are rendered with autoescaping on, so every recorded value (parameters, log lines,
artifact names, experiment names) reaches the page as text.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any
from urllib.parse import quote, urlencode

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse

from runner.runfiles import NotAFileError, RunFileError
from runner.runfilter import FilterError
from runner.runmatch import run_tags
from runner.tracking.base import RUN_SORT_COLUMNS, RunStatus, TrackingStore
from runner.ui.previews import preview
from runner.ui.queries import DEFAULT_SORT, chart_options, table_request
from runner.ui.views import run_details, runs_table, signature_columns

# The runs table's fixed columns: (title, sort key). The chosen metric, parameter and tag columns
# come between the leading and the trailing ones, so a page as wide as a laptop's shows them.
LEADING_COLUMNS = [("Run", "run_name"), ("Experiment", "experiment"), ("Status", "status")]
TRAILING_COLUMNS = [("Started", "start_time"), ("Duration", "duration"), ("Entry point", "entry_point"),
                    ("Source", "source"), ("Commit", "commit")]
assert all(key in RUN_SORT_COLUMNS for _, key in LEADING_COLUMNS + TRAILING_COLUMNS)


def store_of(request: Request) -> TrackingStore:
    store: TrackingStore = request.app.state.stores.get()  # app.state is untyped: StoreProvider
    return store


def render(request: Request, template: str, *, status_code: int = 200, headers: Mapping[str, str] | None = None,
           **context: Any) -> HTMLResponse:
    page = request.app.state.templates.get_template(template)
    html = page.render(store_uri=request.app.state.stores.uri, statuses=[s.value for s in RunStatus],
                       quote=quote, signature_columns=signature_columns, csrf_token=request.app.state.token.value,
                       actions=request.app.state.actions, path=request.url.path, **context)
    return HTMLResponse(html, status_code=status_code, headers=headers)


def runs_page(request: Request) -> HTMLResponse:
    arguments = dict(request.query_params)
    filters = request.query_params.getlist("param")
    store = store_of(request)
    link = _linker(request)
    context: dict[str, Any] = dict(arguments=arguments, filters=filters, link=link,
                                   leading=LEADING_COLUMNS, trailing=TRAILING_COLUMNS,
                                   filter_link=_filter_linker(link, filters), default_sort=DEFAULT_SORT,
                                   query=request.query_params.multi_items(), run_tags=run_tags,
                                   with_filter=lambda kind, key, value: added_filter(arguments.get("filter", ""),
                                                                                    kind, key, value),
                                   experiments=store.list_experiments())
    try:
        wanted = table_request(request.query_params)
    except FilterError as err:  # shown above an empty table, the search text kept to be fixed
        return render(request, "runs.html", status_code=400, table=None, wanted=None, search_error=str(err),
                      **context)
    return render(request, "runs.html", table=runs_table(store, wanted), wanted=wanted, search_error=None, **context)


def added_filter(current: str, kind: str, key: str, value: str) -> str:
    """The search text with one more comparison: `tags.team = 'vision'` (quotes doubled inside)."""
    name = key if re.fullmatch(r"[\w.]+", key) else '"' + key.replace('"', '""') + '"'
    comparison = f"{kind}s.{name} = '" + value.replace("'", "''") + "'"
    return f"{current.strip()} and {comparison}" if current.strip() else comparison


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
    options = chart_options(request.query_params)
    return render(request, "run.html", run=record, details=run_details(store, record, options), options=options)


def preview_page(request: Request) -> HTMLResponse:
    """One artifact shown in the page: text, JSON, YAML, a CSV table, an image, or an MLflow model."""
    store = store_of(request)
    record = store.get_run(request.path_params["run_id"])
    relative = request.path_params["path"]
    with artifact_errors(record.run_id, relative):
        shown = preview(store, record.run_id, relative)
    return render(request, "preview.html", run=record, preview=shown)


@contextmanager
def artifact_errors(run_id: str, relative: str) -> Iterator[None]:
    """An artifact that cannot be opened as an HTTP error: 404 when there is no such file, 400
    for a path that would leave the run's folder (runner.runfiles)."""
    try:
        yield
    except FileNotFoundError:
        raise HTTPException(404, f"Run {run_id} has no artifact {relative!r}") from None
    except NotAFileError as err:
        raise HTTPException(404, f"Run {run_id} has no artifact {relative!r}: {err}") from None
    except RunFileError as err:
        raise HTTPException(400, f"Artifact path {err}") from None
