"""Where a prepared command runs: this machine, or (later) a cluster scheduler.

A backend gets a Job (what to start, where its log goes) and reports how it ended. Attached
execution is all the local backend needs. A scheduler backend (Slurm `sbatch`, a Kubernetes
Job) implements the detached half as well — submit, poll, fetch the log, cancel — and its
`run` is submit + poll until done, streaming the log, cancelling on interrupt.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import BinaryIO, ClassVar

from runner.environments.base import Invocation


@dataclass(frozen=True)
class Job:
    run_id: str
    invocation: Invocation
    log_path: Path  # the run's output log (a local file the store owns)


@dataclass(frozen=True)
class JobResult:
    exit_code: int
    interrupted_by: int | None = None  # the signal that made proj stop the job


class JobState(str, Enum):
    PENDING = "PENDING"
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"
    UNKNOWN = "UNKNOWN"  # the scheduler no longer knows the job


class Backend(ABC):
    name: ClassVar[str]

    @abstractmethod
    def run(self, job: Job, *, terminal: BinaryIO) -> JobResult:
        """Run the job to completion, streaming its output (stdout and stderr, in the order
        written) to `terminal` and the job's log; stop it if proj is interrupted."""

    # The detached interface, for schedulers. The local backend runs attached only.
    def submit(self, job: Job) -> str:
        raise NotImplementedError(f"the {self.name} backend cannot run detached")

    def poll(self, job_id: str) -> JobState:
        raise NotImplementedError

    def fetch_log(self, job_id: str, offset: int = 0) -> bytes:
        raise NotImplementedError

    def cancel(self, job_id: str) -> None:
        raise NotImplementedError
