"""A backend plugin for proj: run the command on this machine, at a lower CPU priority.

    proj run PROJECT -b nice --backend-config '{"niceness": 10}'

It shows the whole plugin interface for a backend that runs attached: a factory that checks its
settings, `check_environment` to refuse what it cannot run before anything is built, and `run`.
A scheduler plugin would also set `detachable = True` and implement submit, poll, cancel and
fetch_log (see proj's runner/backends/slurm.py).
"""

from __future__ import annotations

from typing import Any, BinaryIO, Mapping

from runner.backends.base import Backend, Job, JobResult
from runner.errors import UsageError
from runner.process import run_command


class NiceBackend(Backend):
    name = "nice"

    def __init__(self, niceness: int) -> None:
        self.niceness = niceness

    def check_environment(self, kind: str) -> None:
        if kind == "docker":
            raise UsageError("The nice backend runs commands on this machine, not in containers",
                             hint="use -b local for docker projects")

    def run(self, job: Job, *, terminal: BinaryIO) -> JobResult:
        invocation = job.invocation
        if invocation.kind != "host":  # never happens: docker was refused by check_environment
            raise UsageError(f"The nice backend cannot start a {invocation.kind}")
        argv = ("nice", "-n", str(self.niceness), *invocation.argv)
        with open(job.log_path, "ab") as log:
            result = run_command(argv, cwd=invocation.cwd, env=invocation.env, log=log, terminal=terminal)
        return JobResult(result.exit_code, result.interrupted_by, result.log_error)


def make_backend(config: Mapping[str, Any]) -> NiceBackend:
    """The entry point: settings in, a backend out; a bad setting is the user's mistake (exit 2)."""
    unknown = sorted(set(config) - {"niceness"})
    if unknown:
        raise UsageError(f"The nice backend has no setting {unknown[0]!r}", hint="its only setting is niceness")
    niceness = config.get("niceness", 10)
    if not isinstance(niceness, int) or isinstance(niceness, bool) or not 0 <= niceness <= 19:
        raise UsageError(f"niceness must be a whole number from 0 to 19, got {niceness!r}")
    return NiceBackend(niceness)
