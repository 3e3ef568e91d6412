"""`proj runs ...`: list, show, logs and artifacts of recorded runs."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, List, Optional

import typer

from runner.cli.app import runs_app
from runner.cli.output import copy_to_stdout, emit, emit_json, note, table
from runner.errors import TrackingError, UsageError
from runner.runview import describe_run, duration, metric_text, parameters_text, run_view, status_text, when

if TYPE_CHECKING:
    from runner.tracking.base import TrackingStore

_TRACKING_URI = typer.Option(None, "--tracking-uri",
                             help="The store [default: $PROJ_TRACKING_URI, else the .proj here or above].")


class ListFormat(str, Enum):
    table = "table"
    json = "json"


class ShowFormat(str, Enum):
    text = "text"
    json = "json"


def _store(tracking_uri: Optional[str]) -> TrackingStore:
    from runner.tracking import open_store, resolve_tracking_uri

    return open_store(resolve_tracking_uri(tracking_uri))


@runs_app.command("list")
def list_runs(
    experiment: Optional[str] = typer.Option(None, "--experiment", "-x", help="Only this experiment."),
    status: Optional[str] = typer.Option(None, "--status", "-s", help="RUNNING, FINISHED, FAILED, KILLED or LOST."),
    param: List[str] = typer.Option([], "--param", "-P", help="Only runs with NAME=VALUE (repeatable)."),
    limit: int = typer.Option(50, "--limit", "-n", min=1, help="At most this many runs."),
    metric: Optional[str] = typer.Option(None, "--metric", "-m",
                                         help="Add this metric's last value as a column and sort by it."),
    descending: bool = typer.Option(False, "--desc", help="With --metric: highest first."),
    sweep: Optional[str] = typer.Option(None, "--sweep", help="Only the runs of this sweep (its id)."),
    tracking_uri: Optional[str] = _TRACKING_URI,
    output_format: ListFormat = typer.Option(ListFormat.table, "--format", help="table or json."),
) -> None:
    """List runs, newest first (or by a metric)."""
    from runner.params import parse_assignments
    from runner.tracking.base import RunQuery, RunStatus

    try:
        wanted = RunStatus(status.upper()) if status else None
    except ValueError:
        raise UsageError(f"Unknown status {status!r}; choose one of {', '.join(s.value for s in RunStatus)}") from None
    query = RunQuery(experiment=experiment, status=wanted, parameters=tuple(parse_assignments(param).items()),
                     limit=limit, sort_metric=metric, descending=descending, sweep=sweep)
    from runner.tracking import choose_store, open_store

    choice = choose_store(tracking_uri)
    records = open_store(choice.uri).list_runs(query)
    if output_format is ListFormat.json:
        emit_json([r.to_dict() for r in records])
        return
    if not records:
        emit("no runs")
        note(choice.explain())
        return
    headers = ["RUN", "STARTED", "STATUS", "TIME", "EXPERIMENT", "ENTRY"] + ([metric.upper()] if metric else [])
    rows = []
    for r in records:
        row = [r.run_id[:12], when(r.start_time), status_text(r), duration(r.duration), r.experiment, r.entry_point]
        if metric:
            row.append(metric_text(r.metrics[metric]["last"]) if metric in r.metrics else "-")
        rows.append(row + [parameters_text(r)])
    emit(table(rows, headers + ["PARAMETERS"]))


@runs_app.command("show")
def show_run(
    run_id: str = typer.Argument(..., metavar="RUN_ID", help="A run id, or a unique prefix of one."),
    tracking_uri: Optional[str] = _TRACKING_URI,
    output_format: ShowFormat = typer.Option(ShowFormat.text, "--format", help="text or json."),
) -> None:
    """Show everything recorded about a run, with its metrics and artifacts."""
    store = _store(tracking_uri)
    view = run_view(store, store.get_run(run_id))
    if output_format is ShowFormat.json:
        emit_json(view)
    else:
        emit(describe_run(view))


@runs_app.command("logs")
def show_logs(
    run_id: str = typer.Argument(..., metavar="RUN_ID", help="A run id, or a unique prefix of one."),
    tracking_uri: Optional[str] = _TRACKING_URI,
) -> None:
    """Print a run's output (stdout and stderr, in the order they were written)."""
    from runner.tracking.base import LOG_NAME

    store = _store(tracking_uri)
    record = store.get_run(run_id)
    with store.open_attachment(record.run_id, LOG_NAME) as handle:
        copy_to_stdout(handle)


@runs_app.command("sync")
def sync_runs(
    tracking_uri: Optional[str] = typer.Option(
        None, "--tracking-uri", help="Only updates meant for this server [default: all that are waiting]."),
) -> None:
    """Send the run updates a tracking server could not take when they happened."""
    from collections import Counter

    from runner.cli.output import note
    from runner.tracking.mlflow import send_spooled

    sent, waiting = send_spooled(tracking_uri)
    if not sent and not waiting:
        emit("nothing to send")
        return
    for run_id, count in Counter(entry.run_id for entry in sent).items():
        emit(f"sent {count} pending update batch{'es' if count > 1 else ''} of run {run_id}")
    for entry, reason in waiting:
        note(f"still waiting ({entry.path.name}): {reason}")
    if waiting:
        raise TrackingError(f"{len(waiting)} update batch{'es' if len(waiting) > 1 else ''} could not be sent",
                            hint="run `proj runs sync` again once the server answers")


@runs_app.command("artifacts")
def artifacts(
    run_id: str = typer.Argument(..., metavar="RUN_ID", help="A run id, or a unique prefix of one."),
    path: Optional[str] = typer.Argument(None, metavar="[PATH]", help="One file or folder among the artifacts."),
    output: Optional[Path] = typer.Option(None, "-o", "--output",
                                          help="Copy the artifacts (or PATH) into this folder; `-o -` writes "
                                               "the one file PATH names to stdout."),
    tracking_uri: Optional[str] = _TRACKING_URI,
) -> None:
    """List a run's artifacts (or those at PATH), or copy them with -o.

    PATH is one artifact, or a folder of them: `sub` means `sub` itself or what is under `sub/`,
    never `subway.txt`. Copies keep the folders below PATH."""
    from runner.cli.artifacts import copy_artifacts, list_artifacts, write_artifact

    store = _store(tracking_uri)
    record = store.get_run(run_id)
    if output is None:
        list_artifacts(store, record.run_id, path)
    elif str(output) == "-":
        write_artifact(store, record.run_id, path)
    else:
        copy_artifacts(store, record.run_id, path, output)
