"""What `proj run`, `proj run --sweep` and `proj rerun` tell the user about a run: progress,
the plan (--dry-run) and the outcome. A leaf that those commands share (none imports another)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Optional

from runner.cli.output import note, warn
from runner.cli.streams import CommandOutput

if TYPE_CHECKING:
    from runner.api import RunOutcome, RunPlan
    from runner.tracking.base import RunRecord, TrackingStore


class Reporter:
    """Progress and warnings from the library, as proj's own lines on stderr."""

    def info(self, message: str) -> None:
        note(message)

    def warning(self, message: str) -> None:
        warn(message)


def report_started(record: RunRecord, store: TrackingStore) -> None:
    note(f"run {record.run_id} started in experiment {record.experiment!r}, recorded in {store.uri}")
    note(f"command: {record.command.rstrip()}")


def report_continued(record: RunRecord, store: TrackingStore) -> None:
    note(f"run {record.run_id} continued in experiment {record.experiment!r}, recorded in {store.uri}")
    note(f"command: {record.command.rstrip()}")


def report_lost_output(output: CommandOutput, logs: str) -> None:
    """A warning when the command's output stopped reaching stdout (a full disk): `logs` says
    where all of it is."""
    if output.error:
        warn(f"the command's output could not all be written to {output.name} ({output.error}); {logs}")


def report_finished(outcome: RunOutcome, tracking_uri: Optional[str], output: CommandOutput | None = None) -> None:
    from runner.runview import exit_code_text  # here: `proj --help` loads this module (runview: the records)

    record = outcome.record
    if output is not None:
        report_lost_output(output, f"its log has all of it: proj runs logs {record.run_id[:12]}"
                           + store_hint(tracking_uri))
    duration = f"{record.duration:.1f} s" if record.duration is not None else "?"
    note(f"run {record.run_id} {record.status.value}{exit_code_text(record.exit_code)} in {duration}; "
         f"record: proj runs show {record.run_id[:12]}" + store_hint(tracking_uri))


def store_hint(tracking_uri: Optional[str]) -> str:
    """The --tracking-uri option to repeat in a suggested command, when one was given."""
    return f" --tracking-uri {tracking_uri}" if tracking_uri else ""


def describe_plan(plan: RunPlan) -> str:
    """What --dry-run prints: the project, entry point, environment, parameters and command."""
    from runner.secrets import redact_text, secret_values

    return redact_text(_plan_text(plan), secret_values())


def _plan_text(plan: RunPlan) -> str:
    lines = [f"project      {plan.project.name or plan.project.root.name} ({plan.source.path})"]
    if plan.source.commit:
        dirty = " (dirty)" if plan.source.dirty else ""
        lines.append(f"commit       {plan.source.commit}{dirty}")
    lines.append(f"entry point  {plan.entry_point.name}")
    recorded = plan.kind.recorded_settings(plan.settings)
    settings = ", ".join(f"{name} {_shown(value)}" for name, value in recorded.items())
    lines.append(f"environment  {plan.kind.name}" + (f" ({settings})" if settings else ""))
    lines.append("parameters")
    for p in plan.params:
        origin = "given" if p.given is not None else "default"
        extra = "" if p.declared else ", undeclared: appended"
        extra += ", downloaded when the run starts" if p.remote else ""
        lines.append(f"  {p.name} = {p.value!r} ({p.type}, {origin}{extra})")
    lines.append("command")
    lines.extend(f"  {line}" for line in plan.command.rstrip().splitlines())
    return "\n".join(lines)


def _shown(value: Any) -> str:
    if isinstance(value, list):
        return " ".join(value) or "none"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)
