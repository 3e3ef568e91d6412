"""Runs handed to a scheduler (Slurm, or a plugin Scheduler): submitting, and following attached.

Once a run is recorded, proj submits its job (the points of a sweep as one job array), records
the job id with the run, then either follows the job — its output live, Ctrl-C cancels it — or
returns at once (`--detach`). Whatever the scheduler says is recorded by runner.lifecycle
(`settle_job`); a detached run is settled later by `proj runs refresh` (runner.refresh). A git
checkout the job runs in is kept until the job has ended (runner.sources.keep_checkout).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Callable, Sequence

from runner import lifecycle
from runner.backends import Job, JobStatus, Scheduler
from runner.sources import ProjectSource, release_kept_checkout
from runner.tracking.base import JobRecord, RunRecord, TrackingStore


@dataclass(frozen=True)
class ScheduledRun:
    record: RunRecord
    make_job: Callable[[], Job]


@dataclass(frozen=True)
class Scheduled:
    records: list[RunRecord]  # settled, or still RUNNING when detached
    interrupted_by: int | None = None


def submit_runs(store: TrackingStore, scheduler: Scheduler, runs: Sequence[ScheduledRun], source: ProjectSource, *,
                detach: bool, max_parallel: int | None = None, terminal: BinaryIO | None = None,
                progress: Callable[[str], None] = lambda message: None,
                on_ended: Callable[[RunRecord], None] = lambda record: None) -> Scheduled:
    """Submit the runs' jobs (one array for several), then follow them unless `detach`.

    With `terminal`, a single job's output is shown as it is written; `on_ended` hears of each
    run as it ends."""
    kept = source.keep_checkout([run.record.run_id for run in runs])
    try:
        jobs = [run.make_job() for run in runs]
        job_ids = scheduler.submit_array(jobs, max_parallel) if len(jobs) > 1 else [scheduler.submit(jobs[0])]
    except BaseException as err:  # nothing was submitted: the runs end here
        lifecycle.end_unsubmitted(store, [run.record for run in runs], err)
        if kept is not None:
            for run in runs:
                release_kept_checkout(kept, run.record.run_id)
        raise
    records = {}
    for run, job_id in zip(runs, job_ids):
        job = JobRecord(job_id, "SUBMITTED", detached=detach, checkout=str(kept) if kept else None)
        records[job_id] = lifecycle.record_job(store, run.record, job)
    first, last = job_ids[0], job_ids[-1]
    progress(f"submitted to {scheduler.name} as job {first}" + (f" ... {last}" if len(job_ids) > 1 else "")
             + (" (detached)" if detach else ""))
    if detach:
        return Scheduled(list(records.values()))
    return _follow(store, scheduler, records, terminal if len(jobs) == 1 else None, jobs[0].log_path, on_ended)


def _follow(store: TrackingStore, scheduler: Scheduler, records: dict[str, RunRecord], terminal: BinaryIO | None,
            log: Path, on_ended: Callable[[RunRecord], None]) -> Scheduled:
    from runner.backends.follow import follow_jobs

    def on_status(job_id: str, status: JobStatus) -> None:
        records[job_id] = lifecycle.settle_job(store, scheduler, records[job_id], status)
        if records[job_id].status.is_terminal:
            on_ended(records[job_id])

    followed = follow_jobs(scheduler, list(records), log=log, terminal=terminal, on_status=on_status)
    return Scheduled(list(records.values()), followed.interrupted_by)
