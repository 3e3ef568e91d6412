"""A backend plugin for proj: run the command on this machine, at a lower CPU priority.

    proj run PROJECT -b nice --backend-config '{"niceness": 10}'

It shows the whole plugin interface for a backend that runs attached: a factory that checks its
settings, `accepts` to say what it can start (host commands, not containers: proj refuses a
docker project before anything is built), and `run`. A scheduler plugin subclasses
`runner.backends.base.Scheduler` instead and implements submit, poll_many, fetch_log, cancel and
release (see proj's runner/backends/slurm.py, and tests/data/plugin-scheduler).
"""

from __future__ import annotations

from typing import Any, BinaryIO, Mapping

from runner.backends.base import AttachedBackend, Job, JobResult
from runner.errors import UsageError
from runner.process import run_command


class NiceBackend(AttachedBackend):
    name = "nice"
    accepts = frozenset({"host"})  # commands on this machine; a docker project is refused up front

    def __init__(self, niceness: int) -> None:
        self.niceness = niceness

    def run(self, job: Job, *, terminal: BinaryIO) -> JobResult:
        invocation = job.invocation
        if invocation.kind != "host":  # never happens: `accepts` kept containers away
            raise UsageError(f"The nice backend cannot start a {invocation.kind}")
        argv = ("nice", "-n", str(self.niceness), *invocation.argv)
        with open(job.log_path, "ab") as log:
            result = run_command(argv, cwd=invocation.cwd, env=invocation.env, log=log, terminal=terminal)
        return JobResult(result.exit_code, result.interrupted_by, result.log_error)


def make_backend(config: Mapping[str, Any]) -> NiceBackend:
    """The entry point: settings in, a backend out; a bad setting is the user's mistake (exit 125)."""
    unknown = sorted(set(config) - {"niceness"})
    if unknown:
        raise UsageError(f"The nice backend has no setting {unknown[0]!r}", hint="its only setting is niceness")
    niceness = config.get("niceness", 10)
    if not isinstance(niceness, int) or isinstance(niceness, bool) or not 0 <= niceness <= 19:
        raise UsageError(f"niceness must be a whole number from 0 to 19, got {niceness!r}")
    return NiceBackend(niceness)
