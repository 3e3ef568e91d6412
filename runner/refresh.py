"""Bringing recorded runs up to date: the explicit step that reading never takes.

A RUNNING record can be out of date in two ways: its job ended on a scheduler while no proj
watched (`--detach`), or the proj that ran it attached died without a word (SIGKILL, a crash).
`refresh_runs` asks each scheduler once about all of its jobs and settles those that ended, and
records LOST the runs whose launcher is gone from this host; every change goes through
runner.lifecycle, so any store, a plugin's too, gets it. `proj runs refresh` calls it, and so do
`proj runs wait` and `proj runs cancel`, which need fresh state. Reading a store (`proj runs
list/show`, every `proj ui` request) never does.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from itertools import groupby
from typing import Callable, Sequence

from runner import lifecycle
from runner.backends import get_scheduler
from runner.errors import BackendError, ProjError, UsageError
from runner.tracking.base import RunQuery, RunRecord, RunStatus, TrackingStore

CANCEL_TIMEOUT = 60.0  # how long to wait for the scheduler to confirm a cancelled job ended
_PAGE = 500


@dataclass(frozen=True)
class Refreshed:
    records: list[RunRecord]  # the runs asked about, as now recorded
    changed: list[RunRecord]  # those whose status or job state changed
    problems: list[ProjError]  # schedulers that could not be asked: their runs stay as they were


def running_runs(store: TrackingStore) -> list[RunRecord]:
    """Every run the store holds as RUNNING."""
    records: list[RunRecord] = []
    while True:
        page = store.list_runs(RunQuery(status=RunStatus.RUNNING, limit=_PAGE, offset=len(records)))
        records += page
        if len(page) < _PAGE:
            return records


def refresh_runs(store: TrackingStore, records: Sequence[RunRecord]) -> Refreshed:
    """Settle the runs whose scheduler job has ended, and mark LOST those whose launcher is gone."""
    fresh: dict[str, RunRecord] = {}
    problems: list[ProjError] = []
    scheduled = sorted((r for r in records if r.job is not None and not r.status.is_terminal),
                       key=lambda r: r.backend)
    for name, group in groupby(scheduled, key=lambda r: r.backend):
        try:
            fresh.update(_settle_jobs(store, name, list(group)))
        except ProjError as err:
            problems.append(err)
    for record in records:
        if lifecycle.is_orphaned(record):
            fresh[record.run_id] = lifecycle.mark_lost(store, record)
    updated = [fresh.get(r.run_id, r) for r in records]
    changed = [new for old, new in zip(records, updated) if (old.status, old.job) != (new.status, new.job)]
    return Refreshed(updated, changed, problems)


def _settle_jobs(store: TrackingStore, backend: str, records: list[RunRecord]) -> dict[str, RunRecord]:
    scheduler = get_scheduler(backend)
    job_ids = [r.job.id for r in records if r.job is not None]
    statuses = scheduler.poll_many(job_ids)
    missing = [job_id for job_id in job_ids if job_id not in statuses]
    if missing:
        raise BackendError(f"The {backend} scheduler did not report on job {', '.join(missing)}",
                           hint="a scheduler reports every job it is asked about (UNKNOWN when it forgot one)")
    return {r.run_id: lifecycle.settle_job(store, scheduler, r, statuses[r.job.id])
            for r in records if r.job is not None}


def wait_for_runs(store: TrackingStore, records: Sequence[RunRecord], *, timeout: float | None = None,
                  on_change: Callable[[RunRecord], None] = lambda record: None,
                  on_tick: Callable[[], None] | None = None) -> list[RunRecord]:
    """Refresh until every run has ended (or `timeout` seconds passed); the last records seen.
    `on_tick` is called often in between (to show a log as it grows). A scheduler that cannot be
    asked is an error here."""
    now = time.monotonic()
    deadline = None if timeout is None else now + timeout
    current = {r.run_id: r for r in records}
    interval, next_check = 0.1, now
    while True:
        pending = [r for r in current.values() if not r.status.is_terminal]
        if not pending or (deadline is not None and time.monotonic() >= deadline):
            return list(current.values())
        if on_tick is not None:
            on_tick()
        if time.monotonic() < next_check:
            time.sleep(0.05)
            continue
        refreshed = refresh_runs(store, [store.get_run(r.run_id) for r in pending])  # another proj may have ended it
        if refreshed.problems:
            raise refreshed.problems[0]
        for record in refreshed.records:
            if (record.status, record.job) != (current[record.run_id].status, current[record.run_id].job):
                on_change(record)
            current[record.run_id] = record
        interval = min(interval * 1.5, 2.0)
        next_check = time.monotonic() + interval


def cancel_run(store: TrackingStore, record: RunRecord) -> RunRecord:
    """Cancel the run's job and wait for the scheduler to report it ended; the settled record."""
    if record.status.is_terminal:
        return record
    if record.job is None:
        pid = record.launcher.partition(":")[0]
        raise UsageError(f"Run {record.run_id} runs under the {record.backend} backend, not on a scheduler",
                         hint=f"stop it where it runs: Ctrl-C in its terminal, or `kill {pid}` on {record.host}")
    scheduler = get_scheduler(record.backend)
    scheduler.cancel(record.job.id)
    deadline = time.monotonic() + CANCEL_TIMEOUT
    status = scheduler.poll(record.job.id)
    while not status.state.is_final and time.monotonic() < deadline:
        time.sleep(0.1)
        status = scheduler.poll(record.job.id)
    return lifecycle.settle_job(store, scheduler, record, status)
