"""`proj runs list`: the runs of a store as a table, JSON, CSV or Markdown.

Columns: the run, its start, status, duration, experiment and entry point; then what
-m/--metric and --columns ask for (metrics, params, tags: every one the shown runs have, or
named ones); then the parameters and tags in short, unless they have columns of their own.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from enum import Enum
from typing import TYPE_CHECKING, Any, List, Optional

import typer

from runner.cli import completion
from runner.cli.app import runs_app
from runner.cli.output import emit, note
from runner.errors import UsageError
from runner.words import plural

if TYPE_CHECKING:
    from runner.runsearch import RunPage
    from runner.tracking.base import RunQuery, RunRecord


class ListFormat(str, Enum):
    table = "table"
    json = "json"
    csv = "csv"
    markdown = "markdown"


_GROUPS = {"metrics": "metric", "params": "param", "tags": "tag"}


@dataclass(frozen=True)
class Column:
    header: str
    shown: Callable[[RunRecord], str]  # in a table (short)
    value: Callable[[RunRecord], Any]  # in CSV (whole, as text or a number; None is empty)


@runs_app.command("list")
def list_runs(
    experiment: Optional[str] = typer.Option(None, "--experiment", "-x", help="Only this experiment.",
                                                autocompletion=completion.experiments),
    status: Optional[str] = typer.Option(None, "--status", "-s", help="RUNNING, FINISHED, FAILED, KILLED or LOST."),
    param: List[str] = typer.Option([], "--param", "-P", help="Only runs with NAME=VALUE (repeatable)."),
    run_filter: Optional[str] = typer.Option(
        None, "--filter", "-f", metavar="EXPR",
        help="MLflow's search syntax: \"metrics.rmse < 0.8 and params.alpha = '0.5' and tags.team = 'x'\"."),
    sweep: Optional[str] = typer.Option(None, "--sweep",
                                        help="Only the runs of this sweep (its id, or a unique prefix)."),
    deleted: bool = typer.Option(False, "--deleted", help="Only deleted runs (proj runs restore brings them back)."),
    nested: bool = typer.Option(
        False, "--nested",
        help="Also the runs a project started inside its run (MLflow's nested runs), each with its parent "
             "[default: hidden; a NESTED column counts them]."),
    metric: List[str] = typer.Option([], "--metric", "-m",
                                     help="A metric column (repeatable); without --sort, sorted by the first."),
    columns: Optional[str] = typer.Option(
        None, "--columns", "-c", metavar="LIST",
        help="More columns, comma-separated: params, metrics, tags (each one the runs have), or "
             "params.NAME, metrics.NAME, tags.NAME."),
    sort: Optional[str] = typer.Option(
        None, "--sort", metavar="KEY",
        help="Sort by metrics.NAME, params.NAME, tags.NAME or start_time, duration, status, experiment, run_name, "
             "entry_point, source, commit, exit_code; `KEY DESC` or --desc for highest first [default: newest first]."),
    descending: bool = typer.Option(False, "--desc", help="Highest first (with --sort or --metric)."),
    limit: int = typer.Option(50, "--limit", "-n", min=1, help="At most this many runs."),
    offset: int = typer.Option(0, "--offset", min=0, help="Skip this many runs first (the next page)."),
    utc: bool = typer.Option(False, "--utc", help="Times in UTC [default: the local time zone]."),
    tracking_uri: Optional[str] = typer.Option(
        None, "--tracking-uri", help="The store [default: $PROJ_TRACKING_URI, else the .proj here or above]."),
    output_format: ListFormat = typer.Option(ListFormat.table, "--format", help="table, json, csv or markdown."),
) -> None:
    """List runs, newest first, or in the order of a metric, parameter, tag or column.

    \b
    Examples:
      proj runs list -m rmse -m mae --sort metrics.rmse
      proj runs list --filter "metrics.rmse < 0.8 and tags.team = 'vision'" --columns params,tags
      proj runs list --sweep 9ab7 --format csv > sweep.csv
    """
    from runner.runsearch import find_runs
    from runner.tracking import choose_store, open_store

    query = _query(experiment, status, param, run_filter, sweep, deleted, metric, sort, descending, limit, offset)
    query = query._replace(nested=nested)
    choice = choose_store(tracking_uri)
    page = find_runs(open_store(choice.uri), query)
    _show(page, _columns(page.records, metric, columns, deleted, utc, nested), output_format)
    if not page.records:
        note(_nothing(query, page, choice.explain()))
    elif page.remaining:
        note(f"{page.remaining} more; use --limit/--offset to see them (--offset {offset + len(page.records)})")
    hidden = 0 if nested else sum(len(r.child_runs) for r in page.records)
    if hidden and output_format is ListFormat.table:
        note(f"{plural(hidden, 'nested run')} not listed (started inside the runs above); --nested lists them")


def _nothing(query: RunQuery, page: RunPage, explained: str) -> str:
    """Why the list is empty: the store, or the filters, or the offset."""
    if query.offset and page.total:
        return f"{plural(page.total, 'run')} match; --offset {query.offset} is past the last"
    filtered = [name for name, given in (("--experiment", query.experiment), ("--status", query.status),
                                         ("--param", query.parameters), ("--filter", query.filter),
                                         ("--sweep", query.sweep), ("--deleted", query.deleted)) if given]
    return f"no runs match {', '.join(filtered)}; {explained}" if filtered else explained


def _query(experiment: str | None, status: str | None, param: list[str], run_filter: str | None, sweep: str | None,
           deleted: bool, metrics: list[str], sort: str | None, descending: bool, limit: int,
           offset: int) -> RunQuery:
    from runner.runfilter import parse_filter, parse_order_by
    from runner.runsearch import order_fields
    from runner.tracking.base import RunQuery, RunStatus

    try:
        wanted = RunStatus(status.upper()) if status else None
    except ValueError:
        raise UsageError(f"Unknown status {status!r}; choose one of {', '.join(s.value for s in RunStatus)}") from None
    order: dict[str, Any] = {}
    if sort is not None:
        order = order_fields(parse_order_by(sort))
    elif metrics:
        order = {"sort_metric": metrics[0]}
    order.setdefault("descending", descending)
    return RunQuery(experiment=experiment, status=wanted, parameters=_assignments(param),
                    limit=limit, offset=offset, sweep=sweep, deleted=True if deleted else False,
                    filter=parse_filter(run_filter) if run_filter and run_filter.strip() else None, **order)


def _assignments(pairs: list[str]) -> tuple[tuple[str, str], ...]:
    if not pairs:
        return ()
    from runner.params import parse_assignments  # the project model with it: only when -P is given

    return tuple(parse_assignments(pairs).items())


def _columns(records: list[RunRecord], metrics: list[str], chosen: str | None, deleted: bool,
             utc: bool, nested: bool) -> list[Column]:
    # Here, not at the top: `proj --help` loads this module, and runview loads the run records' model.
    from runner.runview import duration, parameters_text, status_text, tags_text, when

    columns = [
        Column("RUN", lambda r: r.run_id[:12], lambda r: r.run_id),
        Column("STARTED", lambda r: when(r.start_time, utc=utc), lambda r: _iso(r.start_time, utc)),
        Column("STATUS", status_text, lambda r: r.status.value),
        Column("TIME", lambda r: duration(r.duration), lambda r: r.duration),
        Column("EXPERIMENT", lambda r: r.experiment, lambda r: r.experiment),
        Column("ENTRY", lambda r: r.entry_point, lambda r: r.entry_point),
    ]
    columns += _nesting_column(records, nested)
    if deleted:
        columns.append(Column("DELETED", lambda r: when(r.deleted_time, utc=utc) if r.deleted_time else "yes",
                              lambda r: _iso(r.deleted_time, utc) if r.deleted_time else "yes"))
    asked = [("metric", m) for m in metrics] + _chosen(chosen)
    columns += [_keyed_column(kind, key) for kind, key in _extra_columns(records, asked)]
    groups = {kind for kind, key in asked if key is None}
    if "param" not in groups:
        columns.append(Column("PARAMETERS", parameters_text, lambda r: json.dumps(r.parameter_values(), default=str)))
    if "tag" not in groups and any(r.tags for r in records):
        columns.append(Column("TAGS", lambda r: tags_text(r.tags), lambda r: json.dumps(r.tags) if r.tags else None))
    return columns


def _nesting_column(records: list[RunRecord], nested: bool) -> list[Column]:
    """With --nested, each nested run's parent; without, how many nested runs each run started."""
    if nested and any(r.parent_run_id for r in records):
        return [Column("PARENT", lambda r: (r.parent_run_id or "-")[:12], lambda r: r.parent_run_id)]
    if not nested and any(r.child_runs for r in records):
        return [Column("NESTED", lambda r: str(len(r.child_runs)) if r.child_runs else "-",
                       lambda r: len(r.child_runs))]
    return []


def _chosen(text: str | None) -> list[tuple[str, str | None]]:
    """--columns: (kind, None) for a whole group, (kind, key) for one column."""
    from runner.runfilter import parse_order_by

    chosen: list[tuple[str, str | None]] = []
    for item in (part.strip() for part in (text or "").split(",")):
        if not item:
            continue
        if item.lower() in _GROUPS:
            chosen.append((_GROUPS[item.lower()], None))
            continue
        key = parse_order_by(item)
        if key.kind == "attribute" or key.descending is not None:
            raise UsageError(f"Unknown column {item!r} in --columns",
                             hint="give params, metrics, tags, or params.NAME, metrics.NAME, tags.NAME")
        chosen.append((key.kind, key.key))
    return chosen


def _extra_columns(records: list[RunRecord], asked: list[tuple[str, str | None]]) -> list[tuple[str, str]]:
    """One (kind, key) per column, in the order asked; a group expands to the keys the runs have."""
    from runner.runmatch import run_params, run_tags

    keys: dict[tuple[str, str], None] = {}
    for kind, key in asked:
        if key is not None:
            keys[(kind, key)] = None
            continue
        found = {"metric": lambda r: r.metrics, "param": run_params, "tag": run_tags}[kind]
        for name in sorted({name for r in records for name in found(r)}):
            keys[(kind, name)] = None
    return list(keys)


def _keyed_column(kind: str, key: str) -> Column:
    from runner.runmatch import run_params, run_tags
    from runner.runview import metric_text

    if kind == "metric":
        def last(r: RunRecord) -> float | None:
            return (r.metrics.get(key) or {}).get("last")

        return Column(key.upper(), lambda r: metric_text(last(r)), last)
    values = run_params if kind == "param" else run_tags
    return Column(f"{'params' if kind == 'param' else 'tags'}.{key}", lambda r: _short(values(r).get(key)),
                  lambda r: values(r).get(key))


def _short(value: float | str | None, width: int = 30) -> str:
    text = "-" if value is None else str(value)
    return text if len(text) <= width else text[: width - 3] + "..."


def _iso(timestamp: float | None, utc: bool) -> str | None:
    if timestamp is None:
        return None
    moment = datetime.fromtimestamp(timestamp, timezone.utc)
    return moment.isoformat(timespec="seconds") if utc else moment.astimezone().isoformat(timespec="seconds")


def _show(page: RunPage, columns: list[Column], output_format: ListFormat) -> None:
    from runner.cli.output import emit_json, table

    if output_format is ListFormat.json:
        emit_json([r.to_dict() for r in page.records])
    elif output_format is ListFormat.csv:  # no runs: the header alone, for scripts
        import csv

        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow([c.header for c in columns])
        writer.writerows([["" if (v := c.value(r)) is None else v for c in columns] for r in page.records])
        emit(buffer.getvalue().rstrip("\n"))
    elif not page.records:
        emit("no runs")
    elif output_format is ListFormat.markdown:
        emit(_markdown([[c.shown(r) for c in columns] for r in page.records], [c.header for c in columns]))
    else:
        emit(table([[c.shown(r) for c in columns] for r in page.records], [c.header for c in columns]))


def _markdown(rows: list[list[str]], headers: list[str]) -> str:
    def line(cells: list[str]) -> str:
        return "| " + " | ".join(cell.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")
                                 for cell in cells) + " |"

    return "\n".join([line(headers), "|" + "|".join("---" for _ in headers) + "|", *(line(row) for row in rows)])
