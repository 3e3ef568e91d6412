"""Following scheduled jobs from the proj that submitted them.

While attached, proj shows one job's output as the job writes it (by reading the run's log,
which the job writes on the shared filesystem), and asks the scheduler about the jobs, often at
first and then less so. SIGINT, SIGTERM or SIGHUP cancel the jobs; proj then waits for the
scheduler to report them ended, so the run is recorded KILLED with nothing left running. A second
signal stops the waiting (the jobs are cancelled all the same).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Callable, Sequence

from runner.backends.base import Job, JobResult, JobStatus, Scheduler
from runner.errors import BackendError
from runner.stopping import StopSignals

POLL_FIRST = 0.1  # seconds; most jobs on an idle cluster start within a second
POLL_MAX = 1.0  # a second at most between questions: slurmctld answers in milliseconds
CANCEL_TIMEOUT = 60.0  # how long to wait for the scheduler to confirm a cancelled job ended
SCHEDULER_PATIENCE = 120.0  # how long the scheduler may fail to answer before proj gives up

OnStatus = Callable[[str, JobStatus], None]


@dataclass
class Followed:
    statuses: dict[str, JobStatus]  # the last word on each job (final unless interrupted twice)
    interrupted_by: int | None  # the stop signal proj received, if any


def follow_jobs(backend: Scheduler, job_ids: Sequence[str], *, log: Path | None = None,
                terminal: BinaryIO | None = None, on_status: OnStatus | None = None) -> Followed:
    """Watch the jobs until each has ended; `on_status` hears of every change."""
    tail = LogTail(log, terminal) if log is not None and terminal is not None else None
    watcher = _Watcher(backend, on_status or (lambda job_id, status: None), tail)
    with StopSignals() as stop:
        watcher.watch(list(job_ids), stop)
        if stop.received is not None:
            pending = watcher.pending(job_ids)
            for job_id in pending:
                backend.cancel(job_id)
            watcher.watch(pending, stop, deadline=time.monotonic() + CANCEL_TIMEOUT)
    if tail is not None:
        tail.pump()  # what the job wrote last
    return Followed(watcher.statuses, stop.received)


def run_submitted(scheduler: Scheduler, job: Job, *, terminal: BinaryIO) -> JobResult:
    """Submit the job and follow it to its end, its output shown as written: a scheduler used as
    an attached backend, with no tracking store (what proj does around this is in runner.scheduling)."""
    job_id = scheduler.submit(job)
    followed = follow_jobs(scheduler, [job_id], log=job.log_path, terminal=terminal)
    status = followed.statuses[job_id]
    scheduler.release(job_id)
    return JobResult(status.exit_code if status.exit_code is not None else 1, followed.interrupted_by)


class _Watcher:
    def __init__(self, backend: Scheduler, on_status: OnStatus, tail: LogTail | None) -> None:
        self.backend = backend
        self.on_status = on_status
        self.tail = tail
        self.statuses: dict[str, JobStatus] = {}

    def pending(self, job_ids: Sequence[str]) -> list[str]:
        return [j for j in job_ids if j not in self.statuses or not self.statuses[j].state.is_final]

    def watch(self, job_ids: list[str], stop: StopSignals, deadline: float | None = None) -> None:
        """Until every job has ended, or (first round) a stop signal, or (cancelling) a second one."""
        interval, next_poll, failing_since = POLL_FIRST, 0.0, None
        first_signal = stop.received
        while self.pending(job_ids) and stop.received == first_signal and not stop.repeated:
            if deadline is not None and time.monotonic() > deadline:
                return
            if self.tail is not None:
                self.tail.pump()
            now = time.monotonic()
            if now >= next_poll:
                failing_since = self._poll(self.pending(job_ids), failing_since)
                interval = min(interval * 1.5, POLL_MAX)
                next_poll = now + interval
            time.sleep(0.05)

    def _poll(self, job_ids: list[str], failing_since: float | None) -> float | None:
        try:
            fresh = self.backend.poll_many(job_ids)
        except BackendError:  # a scheduler restarting: keep trying for a while
            failing_since = failing_since or time.monotonic()
            if time.monotonic() - failing_since > SCHEDULER_PATIENCE:
                raise
            return failing_since
        for job_id, status in fresh.items():
            if self.statuses.get(job_id) != status:
                self.statuses[job_id] = status
                self.on_status(job_id, status)
        return None


class LogTail:
    """New bytes of a growing file (a run's log), copied to the terminal as they appear."""

    def __init__(self, path: Path, terminal: BinaryIO) -> None:
        self.path = path
        self.terminal = terminal
        self.offset = 0

    def pump(self) -> None:
        try:
            with open(self.path, "rb") as handle:
                handle.seek(self.offset)
                data = handle.read()
        except OSError:
            return
        if not data:
            return
        self.offset += len(data)
        try:
            self.terminal.write(data)
            self.terminal.flush()
        except (BrokenPipeError, ValueError):
            pass  # the terminal went away (`proj run ... | head`); the log has everything
