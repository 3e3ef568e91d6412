"""`proj runs diff` and the check of `proj rerun --check`: a run or a run card against another."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Any, List, Optional

import typer

from runner.cli import completion
from runner.cli.app import runs_app, store_for
from runner.cli.formats import report_verdict_github
from runner.cli.output import emit, emit_json

if TYPE_CHECKING:
    from runner.rundiff import RunDiff
    from runner.tracking.base import RunRecord, TrackingStore
    from runner.verdict import Tolerances, Verdict

TOLERANCE_HELP = ("How far a metric's last value may move: NAME=ABS, NAME=REL% or NAME=inf (not compared); "
                  "NAME may be a glob ('*', 'loss_*'); repeatable [default: exact].")


class DiffFormat(str, Enum):
    text = "text"
    json = "json"
    github = "github"


@dataclass(frozen=True)
class Compared:
    """A run or a run card, as the diff and the verdict read it."""

    view: dict[str, Any]
    lock: bytes | None
    card_file: str | None = None  # the card's path, when it is one
    lines: dict[str, int] | None = None  # where each metric sits in the card ("metric rmse" -> line)



CARD_SUFFIXES = (".yaml", ".yml", ".json")


def names_card(reference: str) -> bool:
    """Whether A/B or RUN is a run card file (else a run id); a path that names no file is refused
    here, so that a mistyped card is not reported as 'not a run id'."""
    path = Path(reference)
    if path.is_file():
        return True
    if path.exists() or "/" in reference or path.suffix.lower() in CARD_SUFFIXES:
        from runner.errors import RunNotFoundError

        what = "a folder" if path.is_dir() else "no such file"
        raise RunNotFoundError(f"run card {reference!r}: {what}",
                               hint="give the path of a card `proj runs export` wrote, or a run id")
    return False


def compared(reference: str, tracking_uri: Optional[str]) -> Compared:
    """A card file when `reference` names one, else a run of the store (an id or a unique prefix)."""
    from runner.runcard import card_view, load_card
    from runner.runview import run_view

    path = Path(reference)
    if names_card(reference):
        card = load_card(path)
        return Compared(card_view(card), card.environment.lock, str(path), _metric_lines(path))
    store = store_for(tracking_uri)
    record = store.get_run(reference)
    return Compared(run_view(store, record), lock_of(store, record))


def lock_of(store: TrackingStore, record: RunRecord) -> bytes | None:
    name = record.environment.lock
    if not name or name not in record.attachments:
        return None
    return store.read_attachment(record.run_id, name)


def _metric_lines(path: Path) -> dict[str, int]:
    """The line of each metric under `outcome.metrics` in a card, for annotations that point at it."""
    from runner.limits import CARD_FILE_BYTES
    from runner.yamldoc import read_yaml

    document = read_yaml(path, CARD_FILE_BYTES)
    metrics = ((document.data.get("outcome") or {}).get("metrics") or {}) if isinstance(document.data, dict) else {}
    return {f"metric {name}": document.position(("outcome", "metrics", name)).line for name in metrics}


def difference(a: Compared, b: Compared) -> RunDiff:
    from runner.rundiff import diff_runs

    if a.view.get("parameters_given_only") or b.view.get("parameters_given_only"):
        return diff_runs(_as_given(a.view), _as_given(b.view), a.lock, b.lock)
    return diff_runs(a.view, b.view, a.lock, b.lock)


def _as_given(view: dict[str, Any]) -> dict[str, Any]:
    """Parameters as they were given (text), defaults left out: how a version 1 card knows them,
    so that a run is compared with one on the same terms."""
    given = [{"name": p["name"], "value": p["given"]} for p in view["parameters"] if p.get("given") is not None]
    return {**view, "parameters": given}


def verdict_of(a: Compared, b: Compared, tolerances: Tolerances, asked_for: dict[str, str]) -> Verdict:
    from runner.verdict import judge

    return judge(difference(a, b), a.view, b.view, tolerances, asked_for)


def show_verdict(verdict: Verdict, original: Compared, output_format: str, *, annotate: bool = True) -> None:
    """The check table on stdout (text; github too, for the job's log, with the annotations and the
    job summary after it). `annotate=False`: no annotation per row (a re-run that failed has its own)."""
    from runner.verdict import describe_verdict

    if output_format in ("text", "github"):
        emit(describe_verdict(verdict))
    if output_format == "github":
        report_verdict_github(verdict, original.card_file, original.lines or {}, annotate=annotate)


@runs_app.command("diff")
def diff(
    first: str = typer.Argument(..., metavar="A", help="A run id or prefix, or a run card file.",
                               autocompletion=completion.run_ids),
    second: str = typer.Argument(..., metavar="B", help="Another run id or prefix, or a run card file.",
                                autocompletion=completion.run_ids),
    tracking_uri: Optional[str] = typer.Option(
        None, "--tracking-uri", help="The store [default: $PROJ_TRACKING_URI, else the .proj here or above]."),
    output_format: DiffFormat = typer.Option(DiffFormat.text, "--format",
                                             help="text, json, or github (annotations for what differs)."),
    exit_code: bool = typer.Option(False, "--exit-code",
                                   help="Exit 124 when the inputs differ or a metric moved beyond its tolerance."),
    tolerance: List[str] = typer.Option([], "--tolerance", help=TOLERANCE_HELP),
) -> None:
    """Show what differs between two runs (or run cards): source, parameters, command, environment,
    outcome, metrics; with --exit-code, also say whether B reproduces A.

    \b
    Examples:
      proj runs diff 3f2a 9c1e
      proj runs diff run.yaml 9c1e --exit-code --tolerance rmse=0.01
    """
    from runner.cli.formats import OutputFormat, use_format
    from runner.lifecycle import diff_exit_code
    from runner.rundiff import describe_diff
    from runner.verdict import judge, parse_tolerances

    use_format(OutputFormat(output_format.value))
    tolerances = parse_tolerances(tolerance)
    a, b = compared(first, tracking_uri), compared(second, tracking_uri)
    result = difference(a, b)
    verdict = judge(result, a.view, b.view, tolerances)
    if output_format is DiffFormat.json:
        emit_json({**result.as_dict(), "verdict": verdict.as_dict()})
    else:
        emit(describe_diff(result))
        if output_format is DiffFormat.github:
            report_verdict_github(verdict, a.card_file, a.lines or {})
    if exit_code:
        raise typer.Exit(diff_exit_code(verdict.reproduced))
