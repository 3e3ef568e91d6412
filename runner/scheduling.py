"""Runs handed to a scheduler backend (Slurm, or a plugin that sets `Backend.detachable`).

Once a run is recorded, proj submits its job (the points of a sweep as one job array), records
the job id with the run, then either follows the job — its output live, Ctrl-C cancels it — or
returns at once (`--detach`). Either way the run is settled from what the scheduler says: by the
proj that follows it, or later by any proj that looks at the run (`proj runs list/show/wait`),
since the local store refreshes scheduled runs through `refresh_runs`. A job the scheduler has
forgotten makes its run LOST; a run is never left RUNNING forever. A git checkout the job runs
in is kept until the job has ended (runner.sources.keep_checkout).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from itertools import groupby
from pathlib import Path
from typing import BinaryIO, Callable, Sequence

from runner.backends import Backend, Job, JobState, JobStatus, get_backend
from runner.errors import ProjError, UsageError
from runner.sources import ProjectSource, release_kept_checkout
from runner.tracking.base import JobRecord, RunRecord, RunStatus, TrackingStore

SCHEDULER_LOG = "scheduler.log"  # the scheduler's own messages, kept with the run once it ended
CANCEL_TIMEOUT = 60.0
_OUTCOMES = {JobState.SUCCEEDED: RunStatus.FINISHED, JobState.FAILED: RunStatus.FAILED,
             JobState.CANCELLED: RunStatus.KILLED, JobState.UNKNOWN: RunStatus.LOST}


@dataclass(frozen=True)
class ScheduledRun:
    record: RunRecord
    make_job: Callable[[], Job]


@dataclass(frozen=True)
class Scheduled:
    records: list[RunRecord]  # settled, or still RUNNING when detached
    interrupted_by: int | None = None


def submit_runs(store: TrackingStore, backend: Backend, runs: Sequence[ScheduledRun], source: ProjectSource, *,
                detach: bool, max_parallel: int | None = None, terminal: BinaryIO | None = None,
                progress: Callable[[str], None] = lambda message: None,
                on_ended: Callable[[RunRecord], None] = lambda record: None) -> Scheduled:
    """Submit the runs' jobs (one array for several), then follow them unless `detach`.

    With `terminal`, a single job's output is shown as it is written; `on_ended` hears of each
    run as it ends."""
    kept = source.keep_checkout([run.record.run_id for run in runs])
    try:
        jobs = [run.make_job() for run in runs]
        job_ids = backend.submit_array(jobs, max_parallel) if len(jobs) > 1 else [backend.submit(jobs[0])]
    except BaseException as err:  # nothing was submitted: the runs end here
        status = RunStatus.KILLED if isinstance(err, KeyboardInterrupt) else RunStatus.FAILED
        for run in runs:
            store.end_run(run.record.run_id, status, None, time.time())
            if kept is not None:
                release_kept_checkout(kept, run.record.run_id)
        raise
    records = {}
    for run, job_id in zip(runs, job_ids):
        job = JobRecord(job_id, "SUBMITTED", detached=detach, checkout=str(kept) if kept else None)
        records[job_id] = store.set_job(run.record.run_id, job) or replace(run.record, job=job)
    first, last = job_ids[0], job_ids[-1]
    progress(f"submitted to {backend.name} as job {first}" + (f" ... {last}" if len(job_ids) > 1 else "")
             + (" (detached)" if detach else ""))
    if detach:
        return Scheduled(list(records.values()))
    return _follow(store, backend, records, terminal if len(jobs) == 1 else None, jobs[0].log_path, on_ended)


def _follow(store: TrackingStore, backend: Backend, records: dict[str, RunRecord], terminal: BinaryIO | None,
            log: Path, on_ended: Callable[[RunRecord], None]) -> Scheduled:
    from runner.backends.follow import follow_jobs

    def on_status(job_id: str, status: JobStatus) -> None:
        records[job_id] = settle(store, backend, records[job_id], status)
        if records[job_id].status.is_terminal:
            on_ended(records[job_id])

    followed = follow_jobs(backend, list(records), log=log, terminal=terminal, on_status=on_status)
    return Scheduled(list(records.values()), followed.interrupted_by)


def settle(store: TrackingStore, backend: Backend, record: RunRecord, status: JobStatus) -> RunRecord:
    """Record what the scheduler said; once the job has ended, end the run and clean up."""
    job = record.job
    assert job is not None
    if record.status.is_terminal:
        return record
    if not status.state.is_final:
        if (job.state, job.reason) == (status.scheduler_state, status.reason):
            return record
        job = replace(job, state=status.scheduler_state, reason=status.reason)
        return store.set_job(record.run_id, job) or replace(record, job=job)
    messages = backend.fetch_log(job.id)
    if messages.strip():
        store.attach(record.run_id, SCHEDULER_LOG, messages)
    reason = status.reason or ("the scheduler no longer knows the job" if status.state is JobState.UNKNOWN else "")
    store.set_job(record.run_id, replace(job, state=status.scheduler_state or status.state.value, reason=reason))
    # Slurm reports whole seconds: a job that ended within its first second must not end before it began.
    ended = max(status.end_time, record.start_time) if status.end_time else time.time()
    try:
        store.settle_mlflow(record)
    except (ProjError, OSError, ValueError):
        pass  # what the project logged with MLflow is missing from the record; never the run's end
    final = store.end_run(record.run_id, _OUTCOMES[status.state], status.exit_code, ended)
    backend.release(job.id)
    if job.checkout:
        release_kept_checkout(Path(job.checkout), record.run_id)
    return final


def refresh_runs(store: TrackingStore, records: Sequence[RunRecord], *, quiet: bool = True) -> list[RunRecord]:
    """The records, with every RUNNING scheduled run settled from its scheduler (one question per
    backend). `quiet`: a scheduler that cannot be asked leaves its runs as they were."""
    fresh: dict[str, RunRecord] = {}
    scheduled = sorted((r for r in records if r.job is not None and not r.status.is_terminal), key=lambda r: r.backend)
    for name, group in groupby(scheduled, key=lambda r: r.backend):
        group = list(group)
        try:
            backend = get_backend(name)
            statuses = backend.poll_many([r.job.id for r in group])
            for record in group:
                fresh[record.run_id] = settle(store, backend, record, statuses[record.job.id])
        except ProjError:
            if not quiet:
                raise
    return [fresh.get(r.run_id, r) for r in records]


def wait_for_runs(store: TrackingStore, records: Sequence[RunRecord], *, timeout: float | None = None,
                  on_change: Callable[[RunRecord], None] = lambda record: None,
                  on_tick: Callable[[], None] | None = None) -> list[RunRecord]:
    """Poll until every run has ended (or `timeout` seconds passed); the last records seen.
    `on_tick` is called often in between (to show a log as it grows)."""
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
        for record in _refreshed(store, pending):
            if (record.status, record.job) != (current[record.run_id].status, current[record.run_id].job):
                on_change(record)
            current[record.run_id] = record
        interval = min(interval * 1.5, 2.0)
        next_check = time.monotonic() + interval


def _refreshed(store: TrackingStore, records: list[RunRecord]) -> list[RunRecord]:
    scheduled = [r for r in records if r.job is not None]
    others = [store.get_run(r.run_id) for r in records if r.job is None]  # the launcher decides
    return refresh_runs(store, scheduled, quiet=False) + others


def cancel_run(store: TrackingStore, record: RunRecord) -> RunRecord:
    """Cancel the run's job and wait for the scheduler to report it ended; the settled record."""
    if record.status.is_terminal:
        return record
    if record.job is None:
        pid = record.launcher.partition(":")[0]
        raise UsageError(f"Run {record.run_id} runs under the {record.backend} backend, not on a scheduler",
                         hint=f"stop it where it runs: Ctrl-C in its terminal, or `kill {pid}` on {record.host}")
    backend = get_backend(record.backend)
    backend.cancel(record.job.id)
    deadline = time.monotonic() + CANCEL_TIMEOUT
    status = backend.poll(record.job.id)
    while not status.state.is_final and time.monotonic() < deadline:
        time.sleep(0.1)
        status = backend.poll(record.job.id)
    return settle(store, backend, record, status)


def exit_code_for(record: RunRecord, interrupted_by: int | None = None) -> int:
    """What proj exits with for a scheduled run: as for a local run of the same command."""
    if interrupted_by is not None:
        return 128 + interrupted_by
    if record.status is RunStatus.FINISHED:
        return 0
    return record.exit_code if record.exit_code else 1
