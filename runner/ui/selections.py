"""Pages about several runs at once: a comparison of chosen runs, and a sweep's view.

Both show how to choose the best run: parallel coordinates of the parameters against the
judged metric, a scatter plot of any two columns, and the best run named. The runs come from
`run=` arguments (ticked in the runs table) or from a sweep (every point of it).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from markupsafe import Markup
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse

from runner.errors import RunNotFoundError
from runner.runsearch import resolve_sweep
from runner.tracking.base import RunQuery, RunRecord, TrackingStore
from runner.ui.choosing import Selection, select
from runner.ui.comparison import MAX_COMPARED, compare_runs
from runner.ui.pages import render, store_of
from runner.ui.plots import legend, parallel_coordinates, scatter
from runner.ui.queries import chart_options, choice_request
from runner.ui.views import last_values


def compare_page(request: Request) -> HTMLResponse:
    store = store_of(request)
    records = compared_runs(store, request)
    all_rows = request.query_params.get("all", "") not in ("", "0")
    options = chart_options(request.query_params)
    comparison = compare_runs(store, records, charts=options, all_rows=all_rows)
    choice = choosing(request, records, comparison.last_values)
    return render(request, "compare.html", runs=records, comparison=comparison, all_rows=all_rows, options=options,
                  **choice)


def sweep_page(request: Request) -> HTMLResponse:
    store = store_of(request)
    sweep_id = request.path_params["sweep_id"]
    records = sweep_runs(store, sweep_id)
    values = {r.run_id: last_values(store, r) for r in records}
    choice = choosing(request, records, values)
    selection: Selection = choice["selection"]
    ranked = _ranked(selection, records)
    statuses = Counter(r.status.value for r in records)
    return render(request, "sweep.html", sweep_id=records[0].sweep_id, runs=ranked,
                  points={point.run_id: point for point in selection.runs},
                  status_counts=sorted(statuses.items()), capped=len(records) >= MAX_COMPARED,
                  active=any(not r.status.is_terminal for r in records), **choice)


def compared_runs(store: TrackingStore, request: Request) -> list[RunRecord]:
    """The runs named by `run=` arguments, in order, each once; or the runs of `sweep=`; at least two."""
    sweep = request.query_params.get("sweep", "").strip()
    if sweep:
        records = sweep_runs(store, sweep)
    else:
        references = list(dict.fromkeys(r.strip() for r in request.query_params.getlist("run") if r.strip()))
        if len(references) > MAX_COMPARED:
            raise HTTPException(400, f"At most {MAX_COMPARED} runs can be compared at once; "
                                     f"{len(references)} were chosen.")
        records = list({r.run_id: r for r in (store.get_run(ref) for ref in references)}.values())
    if len(records) < 2:
        raise HTTPException(400, "Choose two or more runs to compare (tick them in the runs table).")
    return records


def sweep_runs(store: TrackingStore, sweep_id: str) -> list[RunRecord]:
    """The points of a sweep (its id or a unique prefix) in the order they started (at most MAX_COMPARED)."""
    whole = resolve_sweep(store, sweep_id)
    records = store.list_runs(RunQuery(sweep=whole, sort_by="start_time", limit=MAX_COMPARED))
    if not records:
        raise RunNotFoundError(f"No sweep {sweep_id!r} in {store.uri}",
                               hint="a sweep's id is on each of its runs' pages")
    return records


def choosing(request: Request, records: list[RunRecord], values: dict[str, dict[str, float]]) -> dict[str, Any]:
    """What a page needs to show the best run: the selection, the chosen axes and both charts."""
    wanted = choice_request(request.query_params, request.query_params.getlist("axis"))
    selection = select(records, values, wanted.metric, wanted.goal)
    axes = [selection.column(key) for key in wanted.axes] or selection.default_axes()
    columns = [*selection.params, *selection.metrics]
    x = selection.column(wanted.x) if wanted.x else (axes[0] if axes else None)
    y = selection.column(wanted.y) if wanted.y else selection.metric
    charts: dict[str, Markup | None] = {"parallel": None, "scatter": None}
    if columns:
        charts["parallel"] = parallel_coordinates(selection, axes)
        if x is not None and y is not None:
            charts["scatter"] = scatter(selection, x, y)
    return {"selection": selection, "axes": axes, "columns": columns, "x": x, "y": y, "legend": legend(selection),
            "goal_asked": wanted.goal,
            "query": request.query_params.multi_items(), **charts}


def _ranked(selection: Selection, records: list[RunRecord]) -> list[RunRecord]:
    """Best first by the judged metric; runs without a value last, in the order they started."""
    return selection.objective.ranked(records) if selection.objective else records
