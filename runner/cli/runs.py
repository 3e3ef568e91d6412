"""`proj runs ...`: list, show and read the logs of recorded runs."""

from __future__ import annotations

import sys
import time
from enum import Enum
from typing import List, Optional

import typer

from runner.cli.app import runs_app
from runner.cli.output import emit, emit_json, table
from runner.errors import UsageError

_TRACKING_URI = typer.Option(None, "--tracking-uri", help="The store [default: $PROJ_TRACKING_URI or ./.proj].")


class ListFormat(str, Enum):
    table = "table"
    json = "json"


class ShowFormat(str, Enum):
    text = "text"
    json = "json"


def _store(tracking_uri: Optional[str]):
    from runner.tracking import open_store, resolve_tracking_uri

    return open_store(resolve_tracking_uri(tracking_uri))


@runs_app.command("list")
def list_runs(
    experiment: Optional[str] = typer.Option(None, "--experiment", "-x", help="Only this experiment."),
    status: Optional[str] = typer.Option(None, "--status", "-s", help="RUNNING, FINISHED, FAILED, KILLED or LOST."),
    param: List[str] = typer.Option([], "--param", "-P", help="Only runs with NAME=VALUE (repeatable)."),
    limit: int = typer.Option(50, "--limit", "-n", min=1, help="At most this many runs."),
    tracking_uri: Optional[str] = _TRACKING_URI,
    output_format: ListFormat = typer.Option(ListFormat.table, "--format", help="table or json."),
) -> None:
    """List runs, newest first."""
    from runner.params import parse_assignments
    from runner.tracking.base import RunQuery, RunStatus

    try:
        wanted = RunStatus(status.upper()) if status else None
    except ValueError:
        raise UsageError(f"Unknown status {status!r}; choose one of {', '.join(s.value for s in RunStatus)}") from None
    query = RunQuery(experiment=experiment, status=wanted, parameters=tuple(parse_assignments(param).items()),
                     limit=limit)
    records = _store(tracking_uri).list_runs(query)
    if output_format is ListFormat.json:
        emit_json([r.to_dict() for r in records])
        return
    if not records:
        emit("no runs")
        return
    rows = [[r.run_id[:12], _when(r.start_time), r.status.value, _duration(r.duration), r.experiment,
             r.entry_point, _params(r)] for r in records]
    emit(table(rows, ["RUN", "STARTED", "STATUS", "TIME", "EXPERIMENT", "ENTRY", "PARAMETERS"]))


@runs_app.command("show")
def show_run(
    run_id: str = typer.Argument(..., metavar="RUN_ID", help="A run id, or a unique prefix of one."),
    tracking_uri: Optional[str] = _TRACKING_URI,
    output_format: ShowFormat = typer.Option(ShowFormat.text, "--format", help="text or json."),
) -> None:
    """Show everything recorded about a run."""
    record = _store(tracking_uri).get_run(run_id)
    if output_format is ShowFormat.json:
        emit_json(record.to_dict())
    else:
        emit(_describe(record))


@runs_app.command("logs")
def show_logs(
    run_id: str = typer.Argument(..., metavar="RUN_ID", help="A run id, or a unique prefix of one."),
    tracking_uri: Optional[str] = _TRACKING_URI,
) -> None:
    """Print a run's output (stdout and stderr, in the order they were written)."""
    from runner.tracking.local import LOG_NAME

    store = _store(tracking_uri)
    record = store.get_run(run_id)
    sys.stdout.buffer.write(store.read_attachment(record.run_id, LOG_NAME))
    sys.stdout.buffer.flush()


def _describe(r) -> str:
    s, env = r.source, r.environment
    lines = [
        f"run          {r.run_id}",
        f"name         {r.run_name}",
        f"experiment   {r.experiment}",
        f"status       {r.status.value} (exit code {r.exit_code})",
        f"started      {_when(r.start_time)}   duration {_duration(r.duration)}",
        f"source       {s.uri} ({s.kind})",
        f"folder       {s.path}" + (f"   subdirectory {s.subdirectory}" if s.subdirectory else ""),
    ]
    if s.commit or s.version:
        dirty = {True: ", dirty: diff " + (s.diff_hash or "")[:12], False: ", clean"}.get(s.dirty, "")
        lines.append(f"commit       {s.commit or '(none)'}" + (f" (version {s.version})" if s.version else "") + dirty)
    lines.append(f"entry point  {r.entry_point}")
    lines.append(f"command      {r.command}")
    lines.append("parameters")
    for p in r.parameters:
        given = f"given {p.given!r}" if p.given is not None else "default"
        lines.append(f"  {p.name} = {p.value!r} ({p.type}, {given}{'' if p.declared else ', undeclared'})")
    lines.append(f"environment  {env.kind}" + (f"  key {env.key}" if env.key else "")
                 + (f"  python {env.python}" if env.python else ""))
    if env.lock:
        lines.append(f"  lock       {env.lock}")
    lines.append(f"backend      {r.backend}")
    lines.append(f"launched by  {r.user}@{r.host} ({r.platform}, Python {r.python_version}, proj {r.proj_version})")
    lines.append(f"log          {r.log}")
    if r.attachments:
        lines.append(f"files        {', '.join(r.attachments)}")
    return "\n".join(lines)


def _when(timestamp: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(timestamp))


def _duration(seconds: Optional[float]) -> str:
    if seconds is None:
        return "-"
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, rest = divmod(int(seconds), 60)
    return f"{minutes}m{rest:02d}s" if minutes < 60 else f"{minutes // 60}h{minutes % 60:02d}m"


def _params(r) -> str:
    text = " ".join(f"{name}={value}" for name, value in r.parameter_values().items())
    return text if len(text) <= 60 else text[:57] + "..."
