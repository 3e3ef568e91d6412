"""Parameter sweeps: a run per point of a sweep space (runner.sweepspace): the grid of
`--sweep alpha=0.1,0.2 --sweep l1_ratio=0.5,0.9`, or a random search with `--trials N`.

Every value of every point is type-checked against the entry point before anything is built or
run; then the project is fetched once and its environment built once, and every point becomes a
run of its own, linked to the others by a sweep id (`proj runs list --sweep ID`). On this
machine up to `-j N` points run at once; on a scheduler the points are one job array, at most
`--max-parallel` running at once.
"""

from __future__ import annotations

import os
import uuid
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from typing import BinaryIO, Callable, Iterator, Mapping, Sequence

from runner import lifecycle, supervisor
from runner.api import (
    OpenedProject,
    Reporter,
    RunOutcome,
    RunPlan,
    RunRequest,
    begin_run,
    check_run,
    job_for,
    opened_project,
    plan_point,
    prepare_run,
    run_here,
)
from runner.backends import AnyBackend, AttachedBackend, Scheduler, get_backend
from runner.environments import PreparedEnvironment
from runner.errors import ParameterError, UsageError
from runner.params import closest_declared
from runner.pathvalues import PathDownloads
from runner.sweepspace import SweepSpace, check_axes
from runner.tracking import open_store
from runner.tracking.base import RunRecord, TrackingStore

RunCallback = Callable[[RunRecord, TrackingStore], None]


@dataclass(frozen=True)
class SweepOutcome:
    sweep_id: str
    records: list[RunRecord]  # one per point, in the order of the points
    exit_code: int  # 0 when every point finished (or was submitted, detached)


@contextmanager
def planned_sweep(request: RunRequest, space: SweepSpace, reporter: Reporter) -> Iterator[list[RunPlan]]:
    """A RunPlan per point, sharing one fetched source (released on exit); every bad value of
    every point is reported at once, before anything is built."""
    if request.run_id is not None:
        raise UsageError("--run-id continues one run, and a sweep starts a run per point", hint="leave one out")
    with opened_project(request, reporter) as opened:
        yield plan_points(opened, request, space, reporter)


def plan_points(opened: OpenedProject, request: RunRequest, space: SweepSpace,
                reporter: Reporter) -> list[RunPlan]:
    check_axes(space, opened.entry_point)
    for axis in space.axes:
        if opened.entry_point.parameter(axis.name) is None:
            close = closest_declared(opened.entry_point, axis.name)
            reporter.warning(f"--sweep {axis.name}: entry point {opened.entry_point.name!r} declares no such "
                             f"parameter; it is passed as --{axis.name} VALUE"
                             + (f"; did you mean {close!r}?" if close else ""))
    plans, problems = [], []
    for point in space.points():
        try:
            plans.append(plan_point(opened, {**request.parameters, **point}))
        except ParameterError as err:
            problems += [str(err)] if str(err) not in problems else []
    if problems:
        raise ParameterError("The sweep has values the entry point cannot accept (nothing was run):\n  "
                             + "\n  ".join(problems))
    return plans


@contextmanager
def dry_run_sweep(request: RunRequest, space: SweepSpace, reporter: Reporter, *, jobs: int = 1,
                  max_parallel: int | None = None) -> Iterator[list[RunPlan]]:
    """The plans, once every check a sweep makes before building anything has passed (--dry-run);
    their source is released on exit."""
    backend = get_backend(request.backend, request.backend_config)
    _check_parallelism(backend, jobs, max_parallel)
    with planned_sweep(request, space, reporter) as plans:
        check_run(request, plans[0], backend, dry_run=True)
        plans[0].kind.create(plans[0].project, plans[0].settings)  # checks its options
        yield plans


def run_sweep(request: RunRequest, space: SweepSpace, reporter: Reporter, *, terminal: BinaryIO,
              jobs: int = 1, max_parallel: int | None = None, on_started: RunCallback = lambda r, s: None,
              on_finished: RunCallback = lambda r, s: None) -> SweepOutcome:
    backend = get_backend(request.backend, request.backend_config)
    _check_parallelism(backend, jobs, max_parallel)
    supervisor.start()  # the process supervisor starts up while the project is fetched and prepared
    sweep_id = uuid.uuid4().hex
    points = space.points()
    downloads = PathDownloads(request.storage_dir, reporter.info)
    with planned_sweep(request, space, reporter) as plans:
        requests = [request._replace(sweep_id=sweep_id, run_name=_point_name(request, plan, point))
                    for plan, point in zip(plans, points)]
        try:
            store, prepared = prepare_run(request, plans[0], backend, reporter, downloads=downloads, plans=plans)
            if isinstance(backend, Scheduler):
                records, interrupted = _submit(store, backend, requests, plans, prepared, request.detach,
                                               max_parallel, reporter, on_started, on_finished)
            else:
                run = _LocalPoints(backend, prepared, reporter, terminal, on_started, on_finished)
                records, interrupted = run.all(store, requests, plans, jobs)
        finally:
            if not request.detach:  # detached jobs read their downloads later
                downloads.release()
    return SweepOutcome(sweep_id, records, lifecycle.sweep_exit_code(records, interrupted, detached=request.detach))


def _check_parallelism(backend: AnyBackend, jobs: int, max_parallel: int | None) -> None:
    if jobs < 1 or (max_parallel is not None and max_parallel < 1):
        raise UsageError("-j and --max-parallel take a number of points, 1 or more")
    if isinstance(backend, Scheduler) and jobs > 1:
        raise UsageError(f"-j sets how many points run at once on this machine; the {backend.name} backend "
                         "runs them as one job array", hint="use --max-parallel N to throttle the array")
    if not isinstance(backend, Scheduler) and max_parallel is not None:
        raise UsageError(f"--max-parallel throttles a scheduler's job array; the {backend.name} backend runs "
                         "points on this machine", hint="use -j N to run N points at once")


def _point_name(request: RunRequest, plan: RunPlan, point: Mapping[str, str]) -> str:
    base = request.run_name or f"{plan.project.name or plan.project.root.name}:{plan.entry_point.name}"
    return f"{base} [{' '.join(f'{k}={v}' for k, v in point.items())}]"


def _submit(store: TrackingStore, backend: Scheduler, requests: Sequence[RunRequest], plans: Sequence[RunPlan],
            prepared: PreparedEnvironment, detach: bool, max_parallel: int | None, reporter: Reporter,
            on_started: RunCallback, on_finished: RunCallback) -> tuple[list[RunRecord], int | None]:
    from runner.scheduling import ScheduledRun, submit_runs

    runs = []
    for point_request, plan in zip(requests, plans):
        record = begin_run(store, point_request, plan, prepared)
        on_started(record, store)
        runs.append(ScheduledRun(record, partial(job_for, store, record, plan, prepared)))
    scheduled = submit_runs(store, backend, runs, plans[0].source, detach=detach, max_parallel=max_parallel,
                            progress=reporter.info, on_ended=lambda record: on_finished(record, store))
    return scheduled.records, scheduled.interrupted_by


class _LocalPoints:
    """The points run on this machine: one after the other in the foreground (-j 1, output
    shown), or N at once from worker threads (output only in each run's log)."""

    def __init__(self, backend: AttachedBackend, prepared: PreparedEnvironment, reporter: Reporter,
                 terminal: BinaryIO, on_started: RunCallback, on_finished: RunCallback) -> None:
        self.backend, self.prepared, self.reporter = backend, prepared, reporter
        self.terminal, self.on_started, self.on_finished = terminal, on_started, on_finished

    def all(self, store: TrackingStore, requests: Sequence[RunRequest], plans: Sequence[RunPlan],
            jobs: int) -> tuple[list[RunRecord], int | None]:
        if jobs == 1:
            records = []
            for point_request, plan in zip(requests, plans):
                outcome = self.one(store, point_request, plan, self.terminal)
                records.append(outcome.record)
                if outcome.interrupted_by is not None:  # the rest do not start
                    return records, outcome.interrupted_by
            return records, None
        return self._parallel(store.uri, requests, plans, jobs)

    def _parallel(self, store_uri: str, requests: Sequence[RunRequest], plans: Sequence[RunPlan],
                  jobs: int) -> tuple[list[RunRecord], int | None]:
        from runner.stopping import StopSignals

        # The main thread's scope catches stop signals for the points' commands and containers,
        # which run in worker threads (runner.stopping), and tells this loop to start no more.
        with open(os.devnull, "wb") as sink, StopSignals() as stop:
            def point(point_request: RunRequest, plan: RunPlan) -> RunRecord | None:
                if stop.received is not None:
                    return None  # a stop signal came before this point started
                # A store per thread: a SQLite connection must stay in the thread that opened it.
                return self.one(open_store(store_uri), point_request, plan, sink).record

            with ThreadPoolExecutor(max_workers=jobs) as pool:
                futures = [pool.submit(point, r, p) for r, p in zip(requests, plans)]
                records = [f.result() for f in futures]
        return [r for r in records if r is not None], stop.received

    def one(self, store: TrackingStore, point_request: RunRequest, plan: RunPlan, terminal: BinaryIO) -> RunOutcome:
        record = begin_run(store, point_request, plan, self.prepared)
        self.on_started(record, store)
        outcome = run_here(store, self.backend, record, lambda: job_for(store, record, plan, self.prepared),
                           terminal, self.reporter)
        self.on_finished(outcome.record, store)
        return outcome
