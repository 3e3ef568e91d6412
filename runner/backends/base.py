"""Where a prepared command runs: this machine, or a cluster scheduler.

A backend gets a Job (what to start, where its log goes) and reports how it ended. Attached
execution is all the local backend needs. A scheduler backend (Slurm `sbatch`, a Kubernetes
Job) sets `detachable` and implements the detached half as well — submit, poll, fetch the log,
cancel: proj then records the job id, follows the job while attached (runner.scheduling), and
lets the job outlive proj with `--detach`. See docs/plugins.md, "Backend plugins".
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import BinaryIO, ClassVar, Sequence

from runner.invocation import Invocation


@dataclass(frozen=True)
class Job:
    run_id: str
    invocation: Invocation  # a host command or a container: dispatch on invocation.kind
    log_path: Path  # the run's output log (a local file the store owns)


@dataclass(frozen=True)
class JobResult:
    exit_code: int
    interrupted_by: int | None = None  # the signal that made proj stop the job
    log_error: str | None = None  # why the job's log is incomplete, if it is


class JobState(str, Enum):
    PENDING = "PENDING"
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"
    UNKNOWN = "UNKNOWN"  # the scheduler no longer knows the job

    @property
    def is_final(self) -> bool:
        return self not in (JobState.PENDING, JobState.RUNNING)


@dataclass(frozen=True)
class JobStatus:
    """What the scheduler says about a job."""

    state: JobState
    exit_code: int | None = None  # once ended: the command's code, or 128 + the signal that ended it
    scheduler_state: str = ""  # the scheduler's own word for it (Slurm: PENDING, TIMEOUT, ...)
    reason: str = ""  # why it waits or why it ended, when the scheduler says
    end_time: float | None = None  # when it ended, as the scheduler saw it


class Backend(ABC):
    name: ClassVar[str]
    # True for schedulers: submit/poll/cancel work, and a job outlives the proj that submitted it.
    detachable: ClassVar[bool] = False

    def check_environment(self, kind: str) -> None:
        """Raise UsageError if this backend cannot run environments of `kind` (local,
        virtualenv, conda, docker); called before anything is built or submitted."""

    @abstractmethod
    def run(self, job: Job, *, terminal: BinaryIO) -> JobResult:
        """Run the job to completion, streaming its output (stdout and stderr, in the order
        written) to `terminal` and the job's log; stop it if proj is interrupted."""

    # The detached interface, for schedulers. The local backend runs attached only.
    def submit(self, job: Job) -> str:
        """Hand the job to the scheduler; its job id. The job writes its output to job.log_path."""
        raise NotImplementedError(f"the {self.name} backend cannot run detached")

    def submit_array(self, jobs: Sequence[Job], max_parallel: int | None) -> list[str]:
        """Submit the points of a sweep, at most `max_parallel` running at once; one id per job.
        Schedulers with job arrays submit one array; this default submits each job alone."""
        return [self.submit(job) for job in jobs]

    def poll(self, job_id: str) -> JobStatus:
        raise NotImplementedError

    def poll_many(self, job_ids: Sequence[str]) -> dict[str, JobStatus]:
        """Several jobs at once (a scheduler may answer for a whole array in one call)."""
        return {job_id: self.poll(job_id) for job_id in job_ids}

    def fetch_log(self, job_id: str, offset: int = 0) -> bytes:
        """The scheduler's own messages about the job (not the command's output, which is in
        the run's log), from byte `offset`; b"" when there are none."""
        raise NotImplementedError

    def cancel(self, job_id: str) -> None:
        """Ask the scheduler to stop the job; it may take a moment to report it ended."""
        raise NotImplementedError

    def release(self, job_id: str) -> None:
        """The job's end has been recorded: drop what the backend kept for it (its messages)."""
