"""The batch script proj hands to `sbatch`: one run, or every point of a sweep as a job array.

For each run the script sends all output to the run's log, exports the run's environment (the
environment `proj run` would give the command locally, activation included), enters the run's
folder and executes the invocation, which is `bash -c COMMAND`. Every word the script contains
is quoted with shlex, so the only text a shell ever interprets is the rendered MLproject command
itself, by that `bash -c`, exactly as in a local run.

sbatch reads `#SBATCH` directives only above the first command; the lines above it here are
fixed text and hex run ids, so nothing a user wrote can become a directive. Options are given on
sbatch's command line instead.
"""

from __future__ import annotations

import re
import shlex
from typing import Mapping, Sequence

from runner.backends.base import Job
from runner.errors import BackendError
from runner.invocation import HostInvocation
from runner.version import __version__

# Exit code of the script itself when it cannot set the run up on the compute node.
SETUP_FAILED = 111
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# Variables not carried over from the submitting shell: Slurm sets its own for the job (a proj
# started inside an allocation would otherwise hand the job that allocation's ids), and bash
# manages these itself (some are read-only; exporting them is an error).
_SCHEDULER_PREFIXES = ("SLURM_", "SLURMD_", "SBATCH_", "SALLOC_", "SRUN_")
_SHELL_MANAGED = {"PWD", "OLDPWD", "SHLVL", "HOSTNAME", "_", "BASHOPTS", "SHELLOPTS", "BASH_VERSINFO",
                  "BASHPID", "EUID", "PPID", "UID", "GROUPS", "RANDOM", "SRANDOM", "SECONDS", "LINENO",
                  "EPOCHSECONDS", "EPOCHREALTIME", "BASH_ENV"}


def render_script(jobs: Sequence[Job]) -> str:
    """The script for one job, or for a job array whose element i is jobs[i]."""
    if not jobs:
        raise ValueError("no jobs to render")
    invocations = [_plain(job) for job in jobs]
    common = _common_variables([inv.env for inv in invocations]) if len(jobs) > 1 else {}
    lines = [
        "#!/bin/bash",
        f"# Written by proj {__version__} for run{'s' if len(jobs) > 1 else ''} "
        + ", ".join(job.run_id for job in jobs[:3]) + (", ..." if len(jobs) > 3 else "") + ".",
        "# Each run: output to its log, its environment, its folder, then `bash -c` its command.",
        "export SLURM_EXPORT_ENV=ALL  # steps started with srun inherit the whole environment",
        *_exports(common),
    ]
    if len(jobs) == 1:
        lines += _run_block(jobs[0], invocations[0], {})
    else:
        lines.append('case "${SLURM_ARRAY_TASK_ID:-}" in')
        for index, (job, invocation) in enumerate(zip(jobs, invocations)):
            lines.append(f"{index})")
            lines += ["    " + line for line in _run_block(job, invocation, common)]
            lines.append("    ;;")
        lines.append("*)")
        lines.append(f"    printf 'proj: this job array has no element %s\\n' \"${{SLURM_ARRAY_TASK_ID:-}}\" >&2; "
                     f"exit {SETUP_FAILED}")
        lines.append("    ;;")
        lines.append("esac")
    return "\n".join(lines) + "\n"


def exported_variables(env: Mapping[str, str]) -> dict[str, str]:
    """The part of an invocation's environment the script exports."""
    return {name: value for name, value in env.items()
            if _NAME.match(name) and name not in _SHELL_MANAGED and not name.startswith(_SCHEDULER_PREFIXES)
            and "\0" not in value}


def _plain(job: Job) -> HostInvocation:
    invocation = job.invocation
    if invocation.kind != "host":  # a container: refused before anything was built (Backend.accepts)
        raise BackendError(f"Slurm jobs cannot run a {invocation.kind} invocation")
    return invocation


def _run_block(job: Job, invocation: HostInvocation, common: Mapping[str, str]) -> list[str]:
    own = {k: v for k, v in exported_variables(invocation.env).items() if common.get(k) != v}
    cwd = shlex.quote(str(invocation.cwd))
    return [
        f"exec >>{shlex.quote(str(job.log_path))} 2>&1 || exit {SETUP_FAILED}",
        *_exports(own),
        f"cd -- {cwd} || {{ printf 'proj: cannot enter %s on %s: the run folder must be on a filesystem "
        f"this node sees\\n' {cwd} \"$(hostname)\"; exit {SETUP_FAILED}; }}",
        f"exec {shlex.join(invocation.argv)}",
    ]


def _exports(variables: Mapping[str, str]) -> list[str]:
    return [f"export {name}={shlex.quote(value)}" for name, value in sorted(variables.items())]


def _common_variables(environments: list[Mapping[str, str]]) -> dict[str, str]:
    """Variables with the same value in every run (exported once, above the array's branches)."""
    first = exported_variables(environments[0])
    return {name: value for name, value in first.items() if all(env.get(name) == value for env in environments[1:])}
