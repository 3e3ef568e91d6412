"""The default backend: run the command as a child of proj on this machine (or, for docker
environments, in a container on this machine's Docker daemon)."""

from __future__ import annotations

from typing import BinaryIO

from runner.backends.base import AttachedBackend, Job, JobResult
from runner.process import run_command


class LocalBackend(AttachedBackend):
    name = "local"
    accepts = frozenset({"host", "container"})

    def run(self, job: Job, *, terminal: BinaryIO) -> JobResult:
        invocation = job.invocation
        # Unbuffered: `proj runs logs` and `proj ui` follow the log while the run runs.
        with open(job.log_path, "ab", buffering=0) as log:
            if invocation.kind == "container":
                from runner.backends.container import run_container  # imports the docker SDK

                return run_container(invocation, log=log, terminal=terminal)
            result = run_command(invocation.argv, cwd=invocation.cwd, env=invocation.env, log=log,
                                 terminal=terminal)
        return JobResult(result.exit_code, result.interrupted_by, result.log_error)
