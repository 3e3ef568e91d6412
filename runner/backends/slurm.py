"""The Slurm backend: runs become batch jobs (`sbatch`), sweeps become job arrays.

The project is fetched and its environment built on the submitting host, under PROJ_HOME; the
job script (runner.backends.slurm_script) runs the command in the run's folder on a compute
node, so PROJ_HOME and the tracking store must be on a filesystem the nodes share
(docs/slurm.md). The command's output goes to the run's log; Slurm's own messages about the job
(a time limit reached, a node failure) go to a file under $PROJ_HOME/slurm/output/, which is
kept with the run as `scheduler.log` once the job has ended.

State comes from `scontrol show job`, which knows a job until MinJobAge after it ends, then
from `sacct` when the cluster keeps accounting; a job neither knows is reported UNKNOWN (the
run becomes LOST).
"""

from __future__ import annotations

import itertools
import os
import re
from pathlib import Path
from typing import Any, Mapping, Sequence

from runner.backends.base import Job, JobState, JobStatus, Scheduler
from runner.backends.slurm_script import render_script
from runner.backends.slurm_status import parse_sacct, parse_scontrol
from runner.errors import BackendError, UsageError
from runner.invocation import InvocationKind
from runner.locations import cache_dir
from runner.process import ToolError, run_tool

SCHEMA = "slurm-backend-config"
# sbatch options proj sets itself; extra_args may not override them. sbatch accepts any
# unambiguous prefix of a long option, so prefixes are refused too.
_PROJ_LONG_OPTIONS = ("--array", "--output", "--error", "--open-mode", "--export", "--export-file",
                      "--parsable", "--wait", "--wrap", "--test-only")
_PROJ_SHORT_OPTIONS = ("-a", "-o", "-e", "-W")
_RESOURCE_OPTIONS = {"partition": "--partition", "time": "--time", "cpus_per_task": "--cpus-per-task",
                     "mem": "--mem", "gpus": "--gpus", "account": "--account", "qos": "--qos"}
_FORGOTTEN = "Invalid job id specified"
_NO_ACCOUNTING = "accounting storage is disabled"
_JOB_ID = re.compile(r"^(\d+)(;\S+)?$")


class SlurmBackend(Scheduler):
    name = "slurm"
    accepts = frozenset({"host"})

    def __init__(self, options: Sequence[str] = ()) -> None:
        self.options = tuple(options)  # sbatch options from the configuration
        self._has_accounting: bool | None = None

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> SlurmBackend:
        from runner.backends.config import check_backend_config

        check_backend_config(config, SCHEMA, cls.name)
        options = [f"{_RESOURCE_OPTIONS[key]}={config[key]}" for key in _RESOURCE_OPTIONS if key in config]
        for item in config.get("extra_args", []):
            _check_extra_arg(item)
        return cls([*options, *config.get("extra_args", [])])

    def check_environment(self, kind: str, invocation: InvocationKind) -> None:
        if invocation not in self.accepts:  # a container: say why Slurm takes none
            raise UsageError(
                "The slurm backend cannot run docker environments: proj would build the image on "
                "this host, and compute nodes neither see this host's Docker daemon nor usually run one",
                hint="run it with -b local, or give the project a python_env or conda_env for Slurm")

    # --- submitting --------------------------------------------------------------------------

    def submit(self, job: Job) -> str:
        return self._sbatch([job], array=None)[0]

    def submit_array(self, jobs: Sequence[Job], max_parallel: int | None) -> list[str]:
        if len(jobs) == 1:
            return [self.submit(jobs[0])]
        throttle = f"%{max_parallel}" if max_parallel else ""
        return self._sbatch(jobs, array=f"0-{len(jobs) - 1}{throttle}")

    def _sbatch(self, jobs: Sequence[Job], array: str | None) -> list[str]:
        scripts = cache_dir("slurm", "scripts")
        script = scripts / f"{jobs[0].run_id}.sh"
        # The script holds the run's environment variables: readable by the owner only.
        fd = os.open(script, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(render_script(jobs))
        pattern = "%A_%a.out" if array else "%j.out"
        argv = ["sbatch", "--parsable", f"--job-name=proj-{jobs[0].run_id[:12]}", *self.options,
                f"--output={_escape_pattern(output_dir())}/{pattern}", "--open-mode=append",
                # ALL, Slurm's default, stated: NONE makes slurmd load the user's login environment
                # (a login shell, ~1 s, and its variables). The script exports the run's own anyway.
                "--export=ALL",
                *([f"--array={array}"] if array else []), str(script)]
        try:
            output = run_tool(argv).text
        except ToolError as err:
            raise _tool_failure("sbatch", "submit the job", err) from None
        finally:
            script.unlink(missing_ok=True)  # sbatch keeps its own copy
        job_id = _parsed_job_id(output)
        return [f"{job_id}_{i}" for i in range(len(jobs))] if array else [job_id]

    # --- watching ----------------------------------------------------------------------------

    def poll_many(self, job_ids: Sequence[str]) -> dict[str, JobStatus]:
        """One `scontrol` call per job or job array; `sacct` for what it has forgotten."""
        found: dict[str, JobStatus] = {}
        by_base = itertools.groupby(sorted(job_ids), key=lambda job_id: job_id.split("_")[0])
        for base, _ in by_base:
            found.update(self._scontrol(base))
        forgotten = [job_id for job_id in job_ids if job_id not in found]
        if forgotten:
            found.update(self._sacct(forgotten))
        return {job_id: found.get(job_id, JobStatus(JobState.UNKNOWN)) for job_id in job_ids}

    def _scontrol(self, job_id: str) -> dict[str, JobStatus]:
        try:
            result = run_tool(["scontrol", "show", "job", "-o", job_id], check=False)
        except ToolError as err:
            raise _tool_failure("scontrol", f"ask about job {job_id}", err) from None
        if result.returncode != 0:
            if _FORGOTTEN in result.text:
                return {}
            raise BackendError(f"Slurm could not report on job {job_id}: {_last_line(result.text)}",
                               hint="is slurmctld running? `scontrol ping` tells")
        return parse_scontrol(result.text)

    def _sacct(self, job_ids: Sequence[str]) -> dict[str, JobStatus]:
        if self._has_accounting is False:
            return {}
        argv = ["sacct", "-n", "-P", "-X", "-o", "JobID,State,ExitCode,End", "-j", ",".join(job_ids)]
        try:
            result = run_tool(argv, check=False)
        except ToolError:
            self._has_accounting = False  # no sacct on this host
            return {}
        if result.returncode != 0:
            if _NO_ACCOUNTING in result.text:
                self._has_accounting = False
                return {}
            raise BackendError(f"sacct could not report on jobs {', '.join(job_ids)}: {_last_line(result.text)}")
        self._has_accounting = True
        return parse_sacct(result.text)

    def fetch_log(self, job_id: str, offset: int = 0) -> bytes:
        try:
            with open(output_dir() / f"{job_id}.out", "rb") as handle:
                handle.seek(offset)
                return handle.read()
        except FileNotFoundError:
            return b""

    def release(self, job_id: str) -> None:
        (output_dir() / f"{job_id}.out").unlink(missing_ok=True)

    def cancel(self, job_id: str) -> None:
        try:
            result = run_tool(["scancel", job_id], check=False)
        except ToolError as err:
            raise _tool_failure("scancel", f"cancel job {job_id}", err) from None
        if result.returncode != 0 and "already completing or completed" not in result.text:
            raise BackendError(f"Slurm could not cancel job {job_id}: {_last_line(result.text)}")


def output_dir() -> Path:
    """Where Slurm writes its own messages about proj's jobs (one file per job)."""
    return cache_dir("slurm", "output")


def _check_extra_arg(item: str) -> None:
    name = item.split("=", 1)[0]
    if item.startswith("--"):
        clash = next((option for option in _PROJ_LONG_OPTIONS if len(name) > 2 and option.startswith(name)), None)
    else:
        clash = next((option for option in _PROJ_SHORT_OPTIONS if item.startswith(option)), None)
    if clash is not None:
        raise UsageError(f"--backend-config extra_args: {item!r} would change {clash}, which proj sets itself",
                         hint="proj submits with --parsable, its own --output, --export=ALL and, for sweeps, "
                              "--array (use --max-parallel for the array's throttle)")


def _escape_pattern(path: Path) -> str:
    """A folder for sbatch's --output, whose `%` would otherwise start a replacement symbol."""
    return str(path).replace("%", "%%")


def _parsed_job_id(output: str) -> str:
    for line in reversed(output.strip().splitlines()):
        match = _JOB_ID.match(line.strip())
        if match:
            return match.group(1)
    raise BackendError(f"sbatch did not print a job id: {output.strip()!r}")


def _tool_failure(tool: str, doing: str, err: ToolError) -> BackendError:
    if err.returncode is None:
        return BackendError(f"Cannot {doing}: {tool} is not available on this host",
                            hint="run proj where the Slurm client commands work (a login node), "
                                 "or load Slurm's module first")
    return BackendError(f"Slurm refused to {doing}: {_last_line(err.output)}")


def _last_line(output: str) -> str:
    lines = [line.strip() for line in output.strip().splitlines() if line.strip()]
    return lines[-1] if lines else "(no output)"

