"""`proj rerun`, `proj runs diff` and `proj runs export`: reproducing and comparing runs."""

from __future__ import annotations

import sys
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Any, List, Optional

import typer

from runner.cli.app import app, runs_app
from runner.cli.kind_options import with_kind_options
from runner.cli.output import emit, emit_json, note
from runner.cli.run_report import Reporter, report_finished, report_started

if TYPE_CHECKING:
    from runner.runcard import RunCard
    from runner.tracking.base import RunRecord, TrackingStore

_TRACKING_URI = typer.Option(None, "--tracking-uri",
                             help="The store [default: $PROJ_TRACKING_URI, else the .proj here or above].")


class DiffFormat(str, Enum):
    text = "text"
    json = "json"


def _store(tracking_uri: Optional[str]) -> TrackingStore:
    from runner.tracking import open_store, resolve_tracking_uri

    return open_store(resolve_tracking_uri(tracking_uri))


@app.command()
@with_kind_options("rerun")  # this machine's own settings: --conda-channel-alias, --pull (from the kinds)
def rerun(
    run: str = typer.Argument(..., metavar="RUN_ID_OR_CARD",
                              help="A run id (or prefix) in the store, or a run card file."),
    param: List[str] = typer.Option([], "-P", "--param-list", help="Override a parameter, NAME=VALUE (recorded)."),
    version: Optional[str] = typer.Option(None, "-v", "--version",
                                          help="Run another version (recorded as a difference)."),
    allow_drift: bool = typer.Option(
        False, "--allow-drift",
        help="Run even when the commit, changes or lock cannot be reproduced; record what drifted."),
    experiment_name: Optional[str] = typer.Option(None, "--experiment-name", help="[default: the original's]"),
    run_name: Optional[str] = typer.Option(None, "--run-name", help="A name for the new run."),
    tracking_uri: Optional[str] = _TRACKING_URI,
    verbose: bool = typer.Option(False, "--verbose", help="Show environment build output live."),
    kind_flags: Optional[dict[str, Any]] = None,
) -> None:
    """Run a recorded run again: same commit and changes, parameters, environment settings and
    locked environment, same backend and settings."""
    from runner.environments.kind import EnvironmentSettings
    from runner.params import parse_assignments
    from runner.reproduce import RerunOptions
    from runner.reproduce import rerun as rerun_card

    card = _card(run, tracking_uri)
    environment = EnvironmentSettings(flags=kind_flags or {}, verbose=verbose)
    options = RerunOptions(overrides=parse_assignments(param), version=version, allow_drift=allow_drift,
                           experiment=experiment_name, run_name=run_name, tracking_uri=tracking_uri,
                           environment=environment)
    note(f"re-running run {card.run_id} (commit {card.source.commit or 'none'}, environment {card.environment.kind}"
         + (f", lock {card.environment.lock_name}" if card.environment.lock_name else "")
         + (f", backend {card.backend.name}" if card.backend.name not in (None, "local") else "") + ")")
    outcome = rerun_card(card, options, Reporter(), terminal=sys.stdout.buffer, on_started=report_started)
    report_finished(outcome, tracking_uri)
    note(f"compare: proj runs diff {card.run_id[:12]} {outcome.record.run_id[:12]}"
         + (f" --tracking-uri {tracking_uri}" if tracking_uri else ""))
    raise typer.Exit(outcome.exit_code)


def _card(reference: str, tracking_uri: Optional[str]) -> RunCard:
    from runner.runcard import card_from_run, load_card

    path = Path(reference)
    if path.is_file():
        return load_card(path)
    store = _store(tracking_uri)
    return card_from_run(store, store.get_run(reference))


@runs_app.command("export")
def export(
    run_id: str = typer.Argument(..., metavar="RUN_ID", help="A run id, or a unique prefix of one."),
    output: Optional[Path] = typer.Option(None, "-o", "--output", help="Write the card here [default: stdout]."),
    tracking_uri: Optional[str] = _TRACKING_URI,
) -> None:
    """Write a run card: everything needed to re-run this run elsewhere (`proj rerun CARD`)."""
    from runner.atomicfile import write_atomically
    from runner.runcard import card_from_run, card_to_yaml

    store = _store(tracking_uri)
    text = card_to_yaml(card_from_run(store, store.get_run(run_id)))
    if output is None:
        sys.stdout.write(text)
    else:
        write_atomically(output, text.encode())
        note(f"wrote {output}")


@runs_app.command("diff")
def diff(
    first: str = typer.Argument(..., metavar="RUN_A", help="A run id or prefix."),
    second: str = typer.Argument(..., metavar="RUN_B", help="Another run id or prefix."),
    tracking_uri: Optional[str] = _TRACKING_URI,
    output_format: DiffFormat = typer.Option(DiffFormat.text, "--format", help="text or json."),
) -> None:
    """Show what differs between two runs: source, parameters, command, environment, outcome, metrics."""
    from runner.rundiff import describe_diff, diff_runs
    from runner.runview import run_view

    store = _store(tracking_uri)
    records = [store.get_run(ref) for ref in (first, second)]
    views = [run_view(store, record) for record in records]
    locks = [_lock(store, record) for record in records]
    result = diff_runs(views[0], views[1], locks[0], locks[1])
    if output_format is DiffFormat.json:
        emit_json(result.as_dict())
    else:
        emit(describe_diff(result))


def _lock(store: TrackingStore, record: RunRecord) -> bytes | None:
    name = record.environment.lock
    if not name or name not in record.attachments:
        return None
    return store.read_attachment(record.run_id, name)
