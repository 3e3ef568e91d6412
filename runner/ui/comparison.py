"""Comparing runs side by side: what differs (as `proj runs diff` reports it), or every value
compared, one column per run; their metric curves overlaid; and the choice of the best one.

Every run is compared with the first, exactly as `proj runs diff FIRST OTHER` does
(runner.rundiff), so the browser, the JSON API and the command line never disagree.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from markupsafe import Markup

from runner.outputs import MetricsReading
from runner.rundiff import RunDiff, compared_values, diff_runs
from runner.runview import run_view
from runner.tracking.base import RunRecord, RunStatus, TrackingStore
from runner.ui.charts import ChartOptions, Series, line_chart, read_curves
from runner.ui.views import MAX_CHARTS, attachment_bytes, last_values

MAX_COMPARED = 500  # runs in one comparison (a sweep of more is compared a page at a time)
SECTIONS = ("source", "location", "parameters", "command", "environment", "cache", "packages", "outcome",
            "logged with MLflow", "metrics")


@dataclass
class Comparison:
    views: list[dict[str, Any]]
    diffs: list[RunDiff]  # each run against the first
    rows: list[dict[str, Any]]  # section, name, values (one per run), differs (one per run)
    charts: list[tuple[str, Markup]] = field(default_factory=list)  # (metric, SVG), runs overlaid
    last_values: dict[str, dict[str, float]] = field(default_factory=dict)  # run id -> metric -> last


def compare_runs(store: TrackingStore, records: list[RunRecord], *, charts: ChartOptions | None = ChartOptions(),
                 all_rows: bool = False) -> Comparison:
    """Each run against the first; the rows that differ, or with `all_rows` every value compared."""
    readings = [store.read_metrics(r.run_id, complete=r.status is not RunStatus.RUNNING) for r in records]
    views = [run_view(store, r, reading) for r, reading in zip(records, readings)]
    locks = [_lock(store, r) for r in records]
    diffs = [diff_runs(views[0], view, locks[0], lock) for view, lock in zip(views[1:], locks[1:])]
    rows = _all_rows(views, locks, diffs) if all_rows else _differences(diffs, len(views))
    drawn = _overlaid_charts(records, views, readings, charts) if charts is not None else []
    return Comparison(views, diffs, rows, drawn, {r.run_id: last_values(store, r) for r in records})


def _lock(store: TrackingStore, record: RunRecord) -> bytes | None:
    name = record.environment.lock
    return attachment_bytes(store, record, name) if name else None


def _differences(diffs: list[RunDiff], count: int) -> list[dict[str, Any]]:
    """Every (section, name) that differs in any pair, with each run's value.

    All pairs share the first run, so a run whose pair lacks a change has the first run's value."""
    rows: dict[tuple[str, str], dict[str, Any]] = {}
    for index, diff in enumerate(diffs, start=1):
        for change in diff.changes:
            row = rows.setdefault((change.section, change.name), {
                "section": change.section, "name": change.name,
                "values": [change.a] * count, "differs": [False] * count})
            row["values"][index], row["differs"][index] = change.b, True
    return sorted(rows.values(), key=lambda row: _section_rank(row["section"]))


def _all_rows(views: list[dict[str, Any]], locks: list[bytes | None], diffs: list[RunDiff]) -> list[dict[str, Any]]:
    """Every value compared, in each run; marked where it differs from the first run's (as the
    diff says, so NaN equals NaN and durations compare to a tenth of a second)."""
    values = [compared_values(view, lock) for view, lock in zip(views, locks)]
    keys = list(dict.fromkeys(key for run in values for key in run))
    keys.sort(key=lambda key: _section_rank(key[0]))
    changed: list[set[tuple[str, str]]] = [set(), *({(c.section, c.name) for c in diff.changes} for diff in diffs)]
    return [{"section": section, "name": name, "values": [run.get((section, name)) for run in values],
             "differs": [(section, name) in run_changes for run_changes in changed]} for section, name in keys]


def _section_rank(section: str) -> int:
    return SECTIONS.index(section) if section in SECTIONS else len(SECTIONS)


def _overlaid_charts(records: list[RunRecord], views: list[dict[str, Any]], readings: list[MetricsReading],
                     options: ChartOptions) -> list[tuple[str, Markup]]:
    per_run = [read_curves(reading.points(), set(sorted(view["metrics"])[:MAX_CHARTS]), x=options.x,
                           origin=record.start_time).series
               for record, view, reading in zip(records, views, readings)]
    keys = sorted({key for series in per_run for key in series})
    return [(key, line_chart(key, [Series(f"{r.run_id[:8]} {r.run_name}", series[key], colour)
                                   for colour, (r, series) in enumerate(zip(records, per_run)) if key in series],
                             options))
            for key in keys]
