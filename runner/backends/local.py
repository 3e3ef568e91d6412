"""The default backend: run the command as a child of proj on this machine."""

from __future__ import annotations

from typing import BinaryIO

from runner.backends.base import Backend, Job, JobResult
from runner.process import run_command


class LocalBackend(Backend):
    name = "local"

    def run(self, job: Job, *, terminal: BinaryIO) -> JobResult:
        invocation = job.invocation
        with open(job.log_path, "ab") as log:
            result = run_command(invocation.argv, cwd=invocation.cwd, env=invocation.env, log=log,
                                 terminal=terminal)
        return JobResult(result.exit_code, result.interrupted_by)
