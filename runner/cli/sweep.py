"""`proj run --sweep ...`: a run per point (a grid, or a random search with --trials), one
sweep id, a counter as points start and end, and a table of the points at the end."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, NoReturn, Optional

import typer

from runner.cli.output import emit, note, table, warn
from runner.cli.run_report import Reporter, describe_plan, report_lost_output, store_hint
from runner.cli.streams import CommandOutput
from runner.errors import UsageError
from runner.runview import exit_code_text
from runner.words import plural

if TYPE_CHECKING:
    from runner.api import RunRequest
    from runner.objective import Objective
    from runner.sweepspace import SweepSpace
    from runner.tracking.base import RunRecord, TrackingStore


@dataclass(frozen=True)
class SweepOptions:
    sweep: list[str]
    trials: Optional[int] = None
    seed: Optional[int] = None
    objective: Optional[str] = None
    jobs: Optional[int] = None
    max_parallel: Optional[int] = None


def run_sweep_command(request: RunRequest, options: SweepOptions, *, dry_run: bool) -> NoReturn:
    from runner.objective import parse_objective
    from runner.sweeps import dry_run_sweep, run_sweep
    from runner.sweepspace import parse_space

    if not options.sweep:
        raise UsageError("-j, --max-parallel, --trials, --seed and --objective set how the points of a sweep run",
                         hint="add --sweep NAME=V1,V2,... (or leave them out)")
    space = parse_space(options.sweep, request.parameters, trials=options.trials, seed=options.seed)
    objective = parse_objective(options.objective) if options.objective is not None else None
    jobs = 1 if options.jobs is None else options.jobs
    if dry_run:
        with dry_run_sweep(request, space, Reporter(), jobs=jobs, max_parallel=options.max_parallel) as plans:
            emit(f"sweep of {plural(len(plans), 'run')}{_seed_text(space)}\n"
                 + "\n\n".join(describe_plan(plan) for plan in plans))
        raise typer.Exit(0)
    progress = _Progress(space)
    output = CommandOutput()
    outcome = run_sweep(request, space, Reporter(), terminal=output.terminal, jobs=jobs,
                        max_parallel=options.max_parallel, on_started=progress.started, on_finished=progress.finished)
    report_lost_output(output, "each run's log has all of its output")
    hint = store_hint(request.tracking_uri)
    if request.detach:
        note(f"sweep {outcome.sweep_id}: {plural(len(outcome.records), 'run')} submitted; "
             f"follow them with: proj runs list --sweep {outcome.sweep_id}{hint}")
        emit(outcome.sweep_id)
        raise typer.Exit(outcome.exit_code)
    emit(points_table(outcome.records, space.names, objective))
    if objective is not None:
        _report_best(outcome.records, space.names, objective)
    counts: dict[str, int] = {}
    for record in outcome.records:
        counts[record.status.value] = counts.get(record.status.value, 0) + 1
    note(f"sweep {outcome.sweep_id}: " + ", ".join(f"{n} {status}" for status, n in counts.items())
         + f"; proj runs list --sweep {outcome.sweep_id}{hint}")
    raise typer.Exit(outcome.exit_code)


def points_table(records: list[RunRecord], names: tuple[str, ...], objective: Objective | None) -> str:
    """One row per point: its run, status, exit code, swept values and (best first) the objective."""
    from runner.runview import metric_text

    ordered = objective.ranked(records) if objective is not None else records
    headers = ["RUN", "STATUS", "EXIT", *names]
    rows = []
    for record in ordered:
        values = record.parameter_values()
        row = [record.run_id[:12], record.status.value, "-" if record.exit_code is None else str(record.exit_code),
               *(str(values.get(name, "-")) for name in names)]
        if objective is not None:
            value = objective.value(record)
            row.append("-" if value is None else metric_text(value))
        rows.append(row)
    if objective is not None:
        headers.append(f"{objective.metric} ({objective.direction})")
    return table(rows, headers)


def _report_best(records: list[RunRecord], names: tuple[str, ...], objective: Objective) -> None:
    from runner.runview import metric_text

    best = objective.best(records)
    if best is None:
        logged = sorted({key for record in records for key in record.metrics})
        known = f"; they logged {', '.join(logged[:10])}" if logged else ""
        warn(f"no run of the sweep logged the metric {objective.metric!r}, so none is the best{known}")
        return
    values = best.parameter_values()
    point = " ".join(f"{name}={values.get(name, '-')}" for name in names)
    value = objective.value(best)
    assert value is not None
    emit(f"best: run {best.run_id[:12]} with {objective.metric} = {metric_text(value)} ({objective.direction}) "
         f"at {point}")


def _seed_text(space: SweepSpace) -> str:
    return "" if space.seed is None else f" drawn with --seed {space.seed}"


class _Progress:
    """`[3/20] run ... started` as points start, the same number as each ends."""

    def __init__(self, space: SweepSpace) -> None:
        self.space = space
        self.total = space.trials if space.trials is not None else len(space.points())
        self.numbers: dict[str, int] = {}

    def started(self, record: RunRecord, store: TrackingStore) -> None:
        if not self.numbers:
            kind = "random search" if self.space.trials is not None else "grid"
            note(f"sweep {record.sweep_id}: a {kind} of {plural(self.total, 'point')}{_seed_text(self.space)}, "
                 f"recorded in {store.uri}")
        self.numbers[record.run_id] = len(self.numbers) + 1
        note(f"[{self.numbers[record.run_id]}/{self.total}] run {record.run_id[:12]} started: {record.run_name}")

    def finished(self, record: RunRecord, store: TrackingStore) -> None:
        number, code = self.numbers.get(record.run_id, 0), exit_code_text(record.exit_code)
        note(f"[{number}/{self.total}] run {record.run_id[:12]} {record.status.value}{code}: {record.run_name}")
