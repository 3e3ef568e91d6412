"""Machine-readable results of `proj run`, `proj rerun` and `proj runs diff`: `--format json` (one
JSON document on stdout, the program's own output moved to stderr) and `--format github` (GitHub
Actions workflow commands: annotations for failures and mismatches, the run id as a step output,
the check table in the job summary)."""

from __future__ import annotations

import os
import sys
from enum import Enum
from typing import TYPE_CHECKING, Any

from runner.cli.output import Settings, echo, emit_json
from runner.cli.streams import CommandOutput

if TYPE_CHECKING:
    from runner.api import RunOutcome
    from runner.verdict import Verdict


class OutputFormat(str, Enum):
    text = "text"
    json = "json"
    github = "github"


FORMAT_HELP = ("text; json (one document on stdout with the run id; the program's output goes to stderr); "
               "github (GitHub Actions annotations, step output run-id, job summary)")


def use_format(output_format: OutputFormat) -> None:
    """Remember the format, so that the error boundary answers in it too."""
    Settings.output_format = output_format.value


def program_output(output_format: OutputFormat) -> CommandOutput:
    """Where the program's own output goes live: stderr when stdout carries the JSON document."""
    return CommandOutput(2 if output_format is OutputFormat.json else 1)


def run_result(outcome: RunOutcome, tracking_uri: str | None, proj_exit_code: int) -> dict[str, Any]:
    record = outcome.record
    return {"run_id": record.run_id, "status": record.status.value, "exit_code": record.exit_code,
            "proj_exit_code": proj_exit_code, "experiment": record.experiment, "duration": record.duration,
            "tracking_uri": tracking_uri, "metrics": {k: v.get("last") for k, v in record.metrics.items()}}


def report_outcome(outcome: RunOutcome, output_format: OutputFormat, tracking_uri: str | None, command: str,
                   proj_exit_code: int, extra: dict[str, Any] | None = None) -> None:
    """The run's result as the format asks: a JSON document, or GitHub annotations and outputs."""
    if output_format is OutputFormat.json:
        emit_json({**run_result(outcome, tracking_uri, proj_exit_code), **(extra or {})})
    elif output_format is OutputFormat.github:
        report_run_github(outcome, command)


def escape(text: str, *, property_value: bool = False) -> str:
    """GitHub's escaping for a workflow command's message (and, stricter, its properties)."""
    text = text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    return text.replace(":", "%3A").replace(",", "%2C") if property_value else text


def annotation(level: str, title: str, message: str, *, file: str | None = None, line: int | None = None) -> str:
    where = f"file={escape(file, property_value=True)},line={line or 1}," if file else ""
    return f"::{level} {where}title={escape(title, property_value=True)}::{escape(message)}"


def emit_annotation(level: str, title: str, message: str, **where: Any) -> None:
    echo(annotation(level, title, message, **where))
    sys.stdout.flush()


def set_step_output(name: str, value: str) -> None:
    """A step output (`steps.ID.outputs.NAME`), when running in GitHub Actions."""
    _append(os.environ.get("GITHUB_OUTPUT"), f"{name}={value}\n")


def add_job_summary(markdown: str) -> None:
    _append(os.environ.get("GITHUB_STEP_SUMMARY"), markdown.rstrip("\n") + "\n\n")


def _append(path: str | None, text: str) -> None:
    if path:
        with open(path, "a", encoding="utf-8") as handle:
            handle.write(text)


def report_run_github(outcome: RunOutcome, command: str) -> None:
    """An annotation when the run did not finish, and the run id as a step output."""
    record = outcome.record
    set_step_output("run-id", record.run_id)
    if record.status.value != "FINISHED":
        emit_annotation("error", f"proj {command}: run {record.status.value}",
                        f"run {record.run_id} {record.status.value} with exit code {record.exit_code}: "
                        f"`proj runs logs {record.run_id[:12]}` shows its output")


def report_verdict_github(verdict: Verdict, card: str | None, lines: dict[str, int], *, annotate: bool = True) -> None:
    """One annotation per failed check (naming the metric or input) unless told not to, the table as
    the job summary."""
    set_step_output("reproduced", "true" if verdict.reproduced else "false")
    for row in verdict.failures if annotate else []:
        title = f"proj check: {row.what} {'is missing' if row.result == 'missing' else 'differs'}"
        now = "not logged" if row.result == "missing" else row.now
        detail = (f"{row.what}: {row.original} in run {verdict.original[:12]}, {now} in run {verdict.now[:12]}"
                  + (f" (tolerance {row.tolerance})" if row.tolerance and row.result != "missing" else ""))
        emit_annotation("error", title, detail, file=card, line=lines.get(row.what) if card else None)
    add_job_summary(verdict_markdown(verdict))


def verdict_markdown(verdict: Verdict) -> str:
    from runner.verdict import verdict_line

    rows = ["| check | original | now | tolerance | result |", "|---|---|---|---|---|"]
    for r in verdict.rows:
        result = f"**{r.result}**" if r.fails else r.result
        rows.append(f"| {r.what} | {r.original} | {r.now} | {r.tolerance} | {result} |")
    return "\n".join([f"### {verdict_line(verdict)}", "", *rows])


def report_error(message: str, exit_code: int) -> None:
    """proj's own failure in the format the command was asked for (the boundary calls this)."""
    if Settings.output_format == OutputFormat.json.value:
        emit_json({"error": message, "proj_exit_code": exit_code})
    elif Settings.output_format == OutputFormat.github.value:
        emit_annotation("error", "proj", message)
