"""`proj rerun` (with `--check`, the verdict) and `proj runs export` (run cards)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, List, Optional

import typer

from runner.cli import completion
from runner.cli.app import app, runs_app, store_for
from runner.cli.compare import TOLERANCE_HELP, Compared, compared, lock_of, names_card, show_verdict, verdict_of
from runner.cli.formats import FORMAT_HELP, OutputFormat, program_output, report_outcome, use_format
from runner.cli.kind_options import with_kind_options
from runner.cli.output import note, warn
from runner.cli.run_report import Reporter, report_finished, report_started

if TYPE_CHECKING:
    from runner.api import RunOutcome
    from runner.cardsource import Clone
    from runner.runcard import RunCard

_TRACKING_URI = typer.Option(None, "--tracking-uri",
                             help="The store [default: $PROJ_TRACKING_URI, else the .proj here or above].")


@app.command()
@with_kind_options("rerun")  # this machine's own settings: --conda-channel-alias, --pull (from the kinds)
def rerun(
    run: str = typer.Argument(..., metavar="RUN_ID_OR_CARD", autocompletion=completion.run_ids,
                              help="A run id (or prefix) in the store, or a run card file."),
    param: List[str] = typer.Option([], "-P", "--param-list", help="Override a parameter, NAME=VALUE (recorded)."),
    version: Optional[str] = typer.Option(None, "-v", "--version",
                                          help="Run another version (recorded as a difference)."),
    allow_drift: bool = typer.Option(
        False, "--allow-drift",
        help="Run even when the commit, changes or lock cannot be reproduced; record what drifted."),
    exact: bool = typer.Option(
        False, "--exact",
        help="A card inside a clone of its project: run the recorded commit and changes, not the checkout."),
    check: bool = typer.Option(
        False, "--check",
        help="Compare the re-run with the original (inputs, lock, metrics); exit 124 when it does not reproduce."),
    tolerance: List[str] = typer.Option([], "--tolerance", help=TOLERANCE_HELP),
    experiment_name: Optional[str] = typer.Option(None, "--experiment-name", help="[default: the original's]",
                                                     autocompletion=completion.experiments),
    run_name: Optional[str] = typer.Option(None, "--run-name", help="A name for the new run."),
    tracking_uri: Optional[str] = _TRACKING_URI,
    verbose: bool = typer.Option(False, "--verbose", help="Show environment build output live."),
    output_format: OutputFormat = typer.Option(OutputFormat.text, "--format", help=FORMAT_HELP),
    kind_flags: Optional[dict[str, Any]] = None,
) -> None:
    """Run a recorded run again: same commit and changes, parameters, environment settings and
    locked environment, same backend and settings. A run card re-run inside a clone of its
    project runs the checkout as it is (--exact: the recorded commit).

    \b
    Examples:
      proj rerun 3f2a                          # the run again, exactly
      proj rerun 3f2a -P alpha=0.7 --check     # a deliberate change, then what else differs
      proj rerun run.yaml --allow-drift        # a run card from another machine
    """
    from runner.cardsource import clone_of
    from runner.environments.kind import EnvironmentSettings
    from runner.lifecycle import check_exit_code
    from runner.params import parse_assignments
    from runner.reproduce import RerunOptions
    from runner.reproduce import rerun as rerun_card
    from runner.verdict import parse_tolerances

    use_format(output_format)
    tolerances = parse_tolerances(tolerance)
    card, original = _card(run, tracking_uri)
    clone = clone_of(card.source, Path.cwd())
    run_checkout = original.card_file is not None and clone is not None and not exact
    overrides = parse_assignments(param)
    options = RerunOptions(overrides=overrides, version=version, allow_drift=allow_drift,
                           experiment=experiment_name, run_name=run_name, tracking_uri=tracking_uri,
                           environment=EnvironmentSettings(flags=kind_flags or {}, verbose=verbose),
                           clone=clone, run_checkout=run_checkout)
    _announce(card, clone, run_checkout and not version)
    output = program_output(output_format)
    outcome = rerun_card(card, options, Reporter(), terminal=output.terminal,
                         on_started=report_started)
    report_finished(outcome, tracking_uri, output)
    code, extra = outcome.exit_code, dict[str, Any](reproduces=card.run_id)
    if check:
        asked = _asked_for(overrides, version, run_checkout)
        now = compared(outcome.record.run_id, tracking_uri)
        verdict = verdict_of(original, now, tolerances, asked)
        finished = outcome.exit_code == 0
        show_verdict(verdict, original, output_format.value, annotate=finished)
        code = check_exit_code(outcome.exit_code, verdict.reproduced)
        if not finished:
            note(f"no verdict: the re-run {outcome.record.status.value} (exit code {code}), a failure to fix first; "
                 "the table compares what it recorded")
        extra["check"] = verdict.as_dict()
    else:
        _suggest_diff(run if original.card_file else card.run_id[:12], outcome, tracking_uri)
    report_outcome(outcome, output_format, tracking_uri, "rerun", code, extra)
    raise typer.Exit(code)


def _asked_for(overrides: dict[str, str], version: str | None, run_checkout: bool) -> dict[str, str]:
    """The differences the re-run was meant to have, with the reason the check shows for each."""
    asked = {f"parameters: {name}": "asked for (-P)" for name in overrides}
    if overrides:
        asked["command"] = "asked for (-P)"  # the values are in the command
    if version:
        asked.update(source="asked for (--version)", command="asked for (--version)")
    elif run_checkout:
        asked["source"] = "the checkout"
        asked.setdefault("command", "the checkout")  # with -P, the values are the likelier reason
    return asked


def _card(reference: str, tracking_uri: Optional[str]) -> tuple[RunCard, Compared]:
    """The card to re-run and the original as the check compares it: a card file, or a run."""
    from runner.runcard import card_from_run, load_card

    if names_card(reference):
        return load_card(Path(reference)), compared(reference, tracking_uri)
    store = store_for(tracking_uri)
    record = store.get_run(reference)
    from runner.runview import run_view

    return card_from_run(store, record), Compared(run_view(store, record), lock_of(store, record))


def _announce(card: RunCard, clone: Clone | None, run_checkout: bool) -> None:
    commit = card.source.commit or ""
    note(f"re-running run {card.run_id} (commit {commit or 'none'}, environment {card.environment.kind}"
         + (f", lock {card.environment.lock_name}" if card.environment.lock_name else "")
         + (f", backend {card.backend.name}" if card.backend.name not in (None, "local") else "") + ")")
    if clone is not None and run_checkout:
        note(f"using the checkout {clone.describe(commit)} instead of fetching {card.source.location}; "
             + ("the card's uncommitted changes are not applied; --exact runs the recorded commit with them"
                if card.source.diff else "--exact runs the recorded commit"))
    elif clone is not None and clone.holds_commit and card.source.location != str(clone.top):
        note(f"taking commit {commit[:12]} from the clone {clone.top} instead of fetching {card.source.location}")


def _suggest_diff(original: str, outcome: RunOutcome, tracking_uri: Optional[str]) -> None:
    """A diff that works here: against the card file itself when the store lacks the original."""
    note(f"compare: proj runs diff {original} {outcome.record.run_id[:12]}"
         + (f" --tracking-uri {tracking_uri}" if tracking_uri else ""))


@runs_app.command("export")
def export(
    run_id: str = typer.Argument(..., metavar="RUN_ID", help="A run id, or a unique prefix of one.",
                                autocompletion=completion.run_ids),
    output: Optional[Path] = typer.Option(None, "-o", "--output", help="Write the card here [default: stdout]."),
    tracking_uri: Optional[str] = _TRACKING_URI,
) -> None:
    """Write a run card: everything needed to re-run this run elsewhere (`proj rerun CARD`).

    Example: proj runs export 3f2a -o run.yaml && proj rerun run.yaml
    """
    from runner.atomicfile import write_atomically
    from runner.cardsource import travel_warnings
    from runner.runcard import card_from_run, card_to_yaml

    store = store_for(tracking_uri)
    card = card_from_run(store, store.get_run(run_id))
    text = card_to_yaml(card)
    if output is None:
        sys.stdout.write(text)
    else:
        write_atomically(output, text.encode())
        note(f"wrote {output}")
    for warning in travel_warnings(card):
        warn(warning)
