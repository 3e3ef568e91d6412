"""`proj run --sweep NAME=V1,V2,...`: a run per point of the cartesian product, one sweep id."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, NoReturn, Optional

import typer

from runner.cli.output import emit, note, table
from runner.cli.run_report import Reporter, describe_plan, store_hint
from runner.errors import UsageError

if TYPE_CHECKING:
    from runner.api import RunRequest
    from runner.tracking.base import RunRecord, TrackingStore


def run_sweep_command(request: RunRequest, sweep_options: list[str], jobs: Optional[int],
                      max_parallel: Optional[int], *, dry_run: bool) -> NoReturn:
    from runner.sweeps import dry_run_sweep, parse_sweeps, run_sweep

    if not sweep_options:
        raise UsageError("-j and --max-parallel set how the points of a sweep run",
                         hint="add --sweep NAME=V1,V2,... (or leave them out)")
    axes = parse_sweeps(sweep_options, request.parameters)
    if dry_run:
        with dry_run_sweep(request, axes, Reporter(), jobs=1 if jobs is None else jobs,
                           max_parallel=max_parallel) as plans:
            emit(f"sweep of {len(plans)} runs\n" + "\n\n".join(describe_plan(plan) for plan in plans))
        raise typer.Exit(0)
    started = _Progress()
    outcome = run_sweep(request, axes, Reporter(), terminal=sys.stdout.buffer, jobs=1 if jobs is None else jobs,
                        max_parallel=max_parallel, on_started=started.started, on_finished=started.finished)
    hint = store_hint(request.tracking_uri)
    if request.detach:
        note(f"sweep {outcome.sweep_id}: {len(outcome.records)} runs submitted; "
             f"follow them with: proj runs list --sweep {outcome.sweep_id}{hint}")
        emit(outcome.sweep_id)
        raise typer.Exit(outcome.exit_code)
    rows = [[r.run_id[:12], r.status.value, str(r.exit_code), r.run_name] for r in outcome.records]
    emit(table(rows, ["RUN", "STATUS", "EXIT", "NAME"]))
    counts: dict[str, int] = {}
    for record in outcome.records:
        counts[record.status.value] = counts.get(record.status.value, 0) + 1
    note(f"sweep {outcome.sweep_id}: " + ", ".join(f"{n} {status}" for status, n in counts.items())
         + f"; proj runs list --sweep {outcome.sweep_id}{hint}")
    raise typer.Exit(outcome.exit_code)


class _Progress:
    def __init__(self) -> None:
        self.announced = False

    def started(self, record: RunRecord, store: TrackingStore) -> None:
        if not self.announced:
            note(f"sweep {record.sweep_id}, recorded in {store.uri}")
            self.announced = True
        note(f"run {record.run_id[:12]} started: {record.run_name}")

    def finished(self, record: RunRecord, store: TrackingStore) -> None:
        note(f"run {record.run_id[:12]} {record.status.value} (exit code {record.exit_code}): {record.run_name}")
