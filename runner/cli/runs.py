"""`proj runs ...`: show, logs, artifacts and sync of recorded runs (list: runner.cli.runs_list)."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Optional

import typer

from runner.cli import completion
from runner.cli.app import runs_app, store_for
from runner.cli.output import copy_to_stdout, emit, emit_json, note
from runner.errors import RunNotFoundError, TrackingError

if TYPE_CHECKING:
    from runner.tracking.base import RunRecord, TrackingStore

_TRACKING_URI = typer.Option(None, "--tracking-uri",
                             help="The store [default: $PROJ_TRACKING_URI, else the .proj here or above].")


class ShowFormat(str, Enum):
    text = "text"
    json = "json"


_RUN_OR_LATEST = "A run id, or a unique prefix of one [default: the latest run started]."


def _run_or_latest(store: TrackingStore, run_id: Optional[str]) -> RunRecord:
    """The run `run_id` names; without one, the run started last (nested MLflow runs aside), so
    that `proj run ... && proj runs show` shows the run just made."""
    if run_id is not None:
        return store.get_run(run_id)
    from runner.tracking.base import RunQuery

    latest = store.list_runs(RunQuery(limit=1, nested=False))
    if not latest:
        raise RunNotFoundError(f"No runs recorded in {store.uri}",
                               hint="give the store with --tracking-uri, or run a project first (proj run .)")
    note(f"the latest run: {latest[0].run_id}")
    return store.get_run(latest[0].run_id)


@runs_app.command("show")
def show_run(
    run_id: Optional[str] = typer.Argument(None, metavar="[RUN_ID]", help=_RUN_OR_LATEST,
                                          autocompletion=completion.run_ids),
    tracking_uri: Optional[str] = _TRACKING_URI,
    output_format: ShowFormat = typer.Option(ShowFormat.text, "--format", help="text or json."),
    utc: bool = typer.Option(False, "--utc", help="Times in UTC [default: the local time zone]."),
) -> None:
    """Show everything recorded about a run, with its metrics and artifacts.

    Examples: proj runs show 3f2a (a unique prefix of the run id is enough; --format json for
    scripts); proj runs show (the latest run)
    """
    store = store_for(tracking_uri)
    from runner.runview import describe_run, run_view  # here, not at the top: `proj --help` loads this module

    view = run_view(store, _run_or_latest(store, run_id))
    if output_format is ShowFormat.json:
        emit_json(view)
    else:
        emit(describe_run(view, utc=utc))


@runs_app.command("logs")
def show_logs(
    run_id: Optional[str] = typer.Argument(None, metavar="[RUN_ID]", help=_RUN_OR_LATEST,
                                          autocompletion=completion.run_ids),
    tracking_uri: Optional[str] = _TRACKING_URI,
) -> None:
    """Print a run's output (stdout and stderr, in the order they were written)."""
    from runner.tracking.base import LOG_NAME

    store = store_for(tracking_uri)
    record = _run_or_latest(store, run_id)
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
    from runner.tracking.mlflow_delivery import send_spooled

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
    run_id: str = typer.Argument(..., metavar="RUN_ID", help="A run id, or a unique prefix of one.",
                                autocompletion=completion.run_ids),
    path: Optional[str] = typer.Argument(None, metavar="[PATH]", help="One file or folder among the artifacts."),
    output: Optional[Path] = typer.Option(None, "-o", "--output",
                                          help="Copy the artifacts (or PATH) into this folder; `-o -` writes "
                                               "the one file PATH names to stdout."),
    tracking_uri: Optional[str] = _TRACKING_URI,
) -> None:
    """List a run's artifacts (or those at PATH), or copy them with -o.

    PATH is one artifact, or a folder of them: `sub` means `sub` itself or what is under `sub/`,
    never `subway.txt`. Copies keep the folders below PATH.

    \b
    Examples:
      proj runs artifacts 3f2a                   # every artifact, with its size
      proj runs artifacts 3f2a plots -o out/     # copy a folder of them
      proj runs artifacts 3f2a model.pkl -o -    # one file to stdout
    """
    from runner.cli.artifacts import copy_artifacts, list_artifacts, write_artifact

    store = store_for(tracking_uri)
    record = store.get_run(run_id)
    if output is None:
        list_artifacts(store, record.run_id, path)
    elif str(output) == "-":
        write_artifact(store, record.run_id, path)
    else:
        copy_artifacts(store, record.run_id, path, output)
