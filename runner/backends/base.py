"""Where a prepared command runs: this machine, or a cluster scheduler.

Two kinds of backend, two contracts. An `AttachedBackend` runs a Job (what to start, where its
log goes) while proj waits, and reports how it ended (the local backend). A `Scheduler` (Slurm
`sbatch`, a Kubernetes Job) only submits, answers questions about jobs by id, cancels and
forgets them: proj records the job id, follows the job while attached (runner.scheduling), and
lets it outlive proj with `--detach` (runner.refresh settles it later). Each backend declares
which invocations it can start (`accepts`). See docs/plugins.md, "Backend plugins".
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from enum import Enum
from pathlib import Path
from typing import BinaryIO, ClassVar, NamedTuple, Sequence

from runner.errors import UsageError
from runner.invocation import KIND_DESCRIPTIONS, Invocation, InvocationKind


class Job(NamedTuple):
    """What a backend is asked to run for one run."""

    run_id: str
    invocation: Invocation  # a host command or a container: dispatch on invocation.kind
    log_path: Path  # the run's output log (a local file the store owns)


class JobResult(NamedTuple):
    """How a job that a backend ran to its end ended."""

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


class JobStatus(NamedTuple):
    """What the scheduler says about a job."""

    state: JobState
    exit_code: int | None = None  # once ended: the command's code, or 128 + the signal that ended it
    scheduler_state: str = ""  # the scheduler's own word for it (Slurm: PENDING, TIMEOUT, ...)
    reason: str = ""  # why it waits or why it ended, when the scheduler says
    end_time: float | None = None  # when it ended, as the scheduler saw it


class Backend(ABC):
    """What every backend has: a name, and the kinds of invocation it can start."""

    name: ClassVar[str]
    accepts: ClassVar[frozenset[InvocationKind]] = frozenset({"host"})

    def check_environment(self, kind: str, invocation: InvocationKind) -> None:
        """Raise UsageError if this backend cannot run environments of `kind` (local, virtualenv,
        conda, docker), which ask it to start `invocation`; called before anything is built."""
        if invocation not in self.accepts:
            started = " or ".join(KIND_DESCRIPTIONS[k] for k in sorted(self.accepts))
            raise UsageError(f"The {self.name} backend cannot run {kind} environments: they run as "
                             f"{KIND_DESCRIPTIONS[invocation]}, and it starts {started}",
                             hint="choose another backend with -b, or another environment with --env-manager")


class AttachedBackend(Backend):
    """Runs a job while proj waits (this machine, or anything proj can follow itself)."""

    @abstractmethod
    def run(self, job: Job, *, terminal: BinaryIO) -> JobResult:
        """Run the job to completion, streaming its output (stdout and stderr, in the order
        written) to `terminal` and the job's log; stop it if proj is interrupted."""


class Scheduler(Backend):
    """Hands jobs to a scheduler (Slurm, a Kubernetes Job, ...): a job outlives the proj that
    submitted it, and any proj can ask about it later by its id (runner.scheduling, runner.refresh)."""

    @abstractmethod
    def submit(self, job: Job) -> str:
        """Hand the job to the scheduler; its job id. The job writes its output to job.log_path."""

    def submit_array(self, jobs: Sequence[Job], max_parallel: int | None) -> list[str]:
        """Submit the points of a sweep, at most `max_parallel` running at once; one id per job.
        Schedulers with job arrays submit one array; this default submits each job alone."""
        return [self.submit(job) for job in jobs]

    @abstractmethod
    def poll_many(self, job_ids: Sequence[str]) -> dict[str, JobStatus]:
        """The scheduler's word on each job (one question for many where it can). A job it no
        longer knows is JobState.UNKNOWN; a scheduler that cannot be asked raises BackendError."""

    def poll(self, job_id: str) -> JobStatus:
        return self.poll_many([job_id])[job_id]

    @abstractmethod
    def fetch_log(self, job_id: str, offset: int = 0) -> bytes:
        """The scheduler's own messages about the job (not the command's output, which is in
        the run's log), from byte `offset`; b"" when there are none."""

    @abstractmethod
    def cancel(self, job_id: str) -> None:
        """Ask the scheduler to stop the job; it may take a moment to report it ended."""

    @abstractmethod
    def release(self, job_id: str) -> None:
        """The job's end has been recorded: drop what the backend kept for it (its messages)."""
