"""What the pages and the JSON API show, gathered from the store. No HTML here.

Run data always goes through `run_view` (what `proj runs show --format json` prints) and run
differences through `runner.rundiff` (what `proj runs diff` prints), so the browser, the JSON
API and the command line never disagree.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import Any

from markupsafe import Markup

from runner.errors import ProjError, RunNotFoundError, TrackingError
from runner.runmatch import run_tags
from runner.runsearch import prepared_query
from runner.runview import run_view
from runner.tracking.base import LOG_NAME, RunQuery, RunRecord, RunStatus, TrackingStore
from runner.ui.charts import ChartOptions, Series, line_chart, read_curves
from runner.ui.queries import TableRequest

LOG_CHUNK = 256 * 1024  # the most log text sent at once (the first view shows the log's tail)
SHOWN_INLINE = 512 * 1024  # the dirty diff and the lock are shown in the page up to this size
DEFAULT_METRIC_COLUMNS = 4
MAX_CHARTS = 50  # metrics drawn on a run or compare page (all of them are in its metrics table)
MAX_SIGNATURE_ROWS = 200  # columns of a model signature shown (a table can have thousands)
# Terminal colour and cursor codes: meaningless in a page, and they clutter the text.
_TERMINAL_CODES = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


# --- runs table --------------------------------------------------------------------------------

@dataclass
class RunsTable:
    records: list[RunRecord]
    has_next: bool
    parameters: list[str]  # parameter columns shown (every one on this page, unless chosen)
    metrics: list[str]  # metric columns shown
    other_metrics: list[str]  # metrics seen on this page but not shown: offered as columns
    last_values: dict[str, dict[str, float]] = field(default_factory=dict)  # run id -> metric -> last
    tags: list[str] = field(default_factory=list)  # tag columns shown
    offered: dict[str, list[str]] = field(default_factory=dict)  # params/metrics/tags the column chooser offers
    total: int | None = None  # how many runs match, when this is the last page

    @property
    def active(self) -> bool:
        """Whether a run on this page may still change (the page then refreshes itself)."""
        return any(not r.status.is_terminal for r in self.records)


@dataclass(frozen=True)
class TablePage:
    records: list[RunRecord]
    has_next: bool
    total: int | None  # known on the last page only: counting every match would cost the table its speed


def table_page(store: TrackingStore, query: RunQuery) -> TablePage:
    """One page of runs, and whether there is another (one run more is asked for, not counted);
    a sweep may be named by a unique prefix, as on the command line."""
    query = prepared_query(store, query)
    found = store.list_runs(query._replace(limit=query.limit + 1))
    records, more = found[: query.limit], len(found) > query.limit
    return TablePage(records, more, None if more else query.offset + len(records))


def runs_table(store: TrackingStore, request: TableRequest) -> RunsTable:
    page = table_page(store, request.query)
    records = page.records
    values = {r.run_id: last_values(store, r) for r in records}
    seen_params = list(dict.fromkeys(p.name for r in records for p in r.parameters))
    seen_metrics = sorted({key for run in values.values() for key in run})
    seen_tags = sorted({key for r in records for key in run_tags(r) if not key.startswith("mlflow.")})
    params = seen_params if request.params is None else list(request.params)
    metrics = list(request.metrics) if request.metrics or request.chosen else seen_metrics[:DEFAULT_METRIC_COLUMNS]
    offered = {"params": list(dict.fromkeys([*seen_params, *params])),
               "metrics": list(dict.fromkeys([*seen_metrics, *metrics])),
               "tags": list(dict.fromkeys([*seen_tags, *request.tags]))}
    others = [key for key in seen_metrics if key not in metrics]
    return RunsTable(records, page.has_next, params, metrics, others, values, list(request.tags), offered, page.total)


def last_values(store: TrackingStore, record: RunRecord) -> dict[str, float]:
    """Stored summaries once a run has ended; read live from its metrics file while it runs."""
    if record.status is RunStatus.RUNNING:
        return {k: s.last for k, s in store.read_metrics(record.run_id, complete=False).summaries().items()}
    return {key: summary["last"] for key, summary in record.metrics.items()}


# --- one run -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Attachment:
    name: str
    text: str
    truncated: bool


@dataclass
class RunDetails:
    view: dict[str, Any]  # run_view: the same data as `proj runs show --format json`
    diff: Attachment | None
    lock: Attachment | None
    log: LogChunk
    charts: list[tuple[str, Markup]]  # (metric, SVG) for each metric
    untimed: dict[str, int] = field(default_factory=dict)  # metric -> points without a time (time axis)


def run_details(store: TrackingStore, record: RunRecord, options: ChartOptions = ChartOptions()) -> RunDetails:
    reading = store.read_metrics(record.run_id, complete=record.status is not RunStatus.RUNNING)
    view = run_view(store, record, reading)
    drawn = sorted(view["metrics"])[:MAX_CHARTS]
    curves = read_curves(reading.points(), set(drawn), x=options.x, origin=record.start_time)
    charts = [(key, line_chart(key, [Series(key, points)], options)) for key, points in sorted(curves.series.items())]
    lock_name = record.environment.lock
    return RunDetails(
        view=view,
        diff=shown_attachment(store, record, "diff.patch"),
        lock=shown_attachment(store, record, lock_name) if lock_name else None,
        log=_log_tail(store, record.run_id),
        charts=charts,
        untimed=curves.untimed,
    )


def signature_columns(specs: Any) -> list[tuple[str, str]]:
    """(name, type) of each column or tensor of one part of a model's signature (MLflow's JSON:
    `{"name": "age", "type": "double"}` or `{"type": "tensor", "tensor-spec": {...}}`)."""
    if not isinstance(specs, list):
        return []
    rows = []
    for spec in specs[:MAX_SIGNATURE_ROWS]:
        if not isinstance(spec, dict):
            continue
        tensor = spec.get("tensor-spec")
        if isinstance(tensor, dict):
            shape = ", ".join(str(d) for d in tensor.get("shape") or [])
            kind = f"tensor {tensor.get('dtype', '?')} ({shape})"
        else:
            kind = str(spec.get("type", "?")) + ("" if spec.get("required", True) else ", optional")
        rows.append((str(spec.get("name") or "-"), kind))
    return rows


def _log_tail(store: TrackingStore, run_id: str) -> LogChunk:
    try:
        return read_log(store, run_id, None)
    except TrackingError as err:  # the run replaced its log with something proj will not read
        return LogChunk(0, 0, 0, f"(proj cannot show this log: {err.message})")


def shown_attachment(store: TrackingStore, record: RunRecord, name: str) -> Attachment | None:
    """The start of a kept file (SHOWN_INLINE bytes), read no further than that."""
    if name not in record.attachments:
        return None
    try:
        with store.open_attachment(record.run_id, name) as handle:
            data = handle.read(SHOWN_INLINE + 1)
    except (ProjError, ValueError):
        return None
    return Attachment(name, data[:SHOWN_INLINE].decode("utf-8", "replace"), len(data) > SHOWN_INLINE)


def attachment_bytes(store: TrackingStore, record: RunRecord, name: str) -> bytes | None:
    """A kept file whole (the environment lock, for a comparison), or None when it cannot be read."""
    if name not in record.attachments:
        return None
    try:
        return store.read_attachment(record.run_id, name)
    except (ProjError, ValueError):
        return None


# --- the log -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class LogChunk:
    offset: int  # where `text` starts in the log, in bytes
    next_offset: int  # where the next chunk starts
    size: int  # the log's size when read
    text: str

    def as_dict(self, status: RunStatus) -> dict[str, Any]:
        return {"offset": self.offset, "next_offset": self.next_offset, "size": self.size,
                "text": self.text, "status": status.value}


def read_log(store: TrackingStore, run_id: str, offset: int | None) -> LogChunk:
    """Log text from byte `offset` (None: the tail), at most LOG_CHUNK bytes, whole characters only."""
    try:
        with store.open_attachment(run_id, LOG_NAME) as handle:
            size = handle.seek(0, os.SEEK_END)
            start = max(0, size - LOG_CHUNK) if offset is None else min(offset, size)
            handle.seek(start)
            data = handle.read(LOG_CHUNK)
    except RunNotFoundError:
        return LogChunk(0, 0, 0, "")
    if offset is None and start > 0 and b"\n" in data[:-1]:
        skipped = data.index(b"\n") + 1  # a tail starts at a whole line
        start, data = start + skipped, data[skipped:]
    data = _whole_characters(data)
    text = _TERMINAL_CODES.sub("", data.decode("utf-8", "replace"))
    return LogChunk(start, start + len(data), max(size, start + len(data)), text)


def _whole_characters(data: bytes) -> bytes:
    """`data` without a UTF-8 sequence cut at its end; the next chunk starts with it instead."""
    for back in range(1, min(4, len(data)) + 1):
        byte = data[-back]
        if byte & 0xC0 == 0x80:
            continue  # a continuation byte: look further back for the sequence's first byte
        length = 1 if byte < 0x80 else 2 if byte >> 5 == 0b110 else 3 if byte >> 4 == 0b1110 else 4
        return data if length <= back else data[:-back]
    return data
