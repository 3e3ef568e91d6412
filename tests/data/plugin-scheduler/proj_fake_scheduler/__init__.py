"""A FAKE scheduler for proj's tests (`proj run -b fake`): not a cluster, labelled as such.

Jobs run on this machine, each in a worker process of its own that outlives the proj that
submitted it (proj_fake_scheduler.worker), and every job's state lives in files, so that any
later proj can ask about it, as with a real scheduler. It implements proj's whole Scheduler
contract, which makes submitting, following, `--detach`, `proj runs refresh/wait/cancel` and
LOST testable on every machine, without Slurm.

    $PROJ_HOME/fake-scheduler/jobs/<id>/job.json      what to run (argv, env, cwd, log): owner only
    $PROJ_HOME/fake-scheduler/jobs/<id>/state.json    PENDING, RUNNING, COMPLETED, FAILED or CANCELLED
    $PROJ_HOME/fake-scheduler/jobs/<id>/messages.log  the scheduler's own messages (fetch_log)
    $PROJ_HOME/fake-scheduler/jobs/<id>/cancel        present once a cancel was asked for

`forget(job_id)` drops a job the way a real scheduler does some time after it ended (Slurm's
MinJobAge): asked about it, the scheduler answers UNKNOWN, and proj records the run LOST.

Settings (`--backend-config`): `start_delay`, seconds a job waits as PENDING before it starts.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import sys
import time
from pathlib import Path
from typing import Any, Mapping, Sequence

from runner.backends.base import Job, JobState, JobStatus, Scheduler
from runner.errors import BackendError, UsageError
from runner.locations import cache_dir
from runner.process import ToolError, run_tool
from runner.procfs import process_alive

_STATES = {"PENDING": JobState.PENDING, "RUNNING": JobState.RUNNING, "COMPLETED": JobState.SUCCEEDED,
           "FAILED": JobState.FAILED, "CANCELLED": JobState.CANCELLED}


class FakeScheduler(Scheduler):
    name = "fake"
    accepts = frozenset({"host"})

    def __init__(self, start_delay: float = 0.0) -> None:
        self.start_delay = start_delay

    def submit(self, job: Job) -> str:
        invocation = job.invocation
        if invocation.kind != "host":  # never happens: `accepts` kept containers away
            raise BackendError(f"The fake scheduler cannot start a {invocation.kind}")
        job_id, folder = _new_job_folder()
        spec = {"argv": list(invocation.argv), "env": dict(invocation.env), "cwd": str(invocation.cwd),
                "log": str(job.log_path), "start_delay": self.start_delay}
        fd = os.open(folder / "job.json", os.O_CREAT | os.O_WRONLY | os.O_EXCL, 0o600)  # env may hold secrets
        with os.fdopen(fd, "w") as handle:
            json.dump(spec, handle)
        write_state(folder, {"state": "PENDING"})
        try:  # the worker forks itself away and returns at once, as sbatch returns once queued
            run_tool([sys.executable, "-m", "proj_fake_scheduler.worker", str(folder)])
        except ToolError as err:
            raise BackendError(f"The fake scheduler could not start job {job_id}: {err.output.strip()}") from None
        return job_id

    def poll_many(self, job_ids: Sequence[str]) -> dict[str, JobStatus]:
        return {job_id: _status(job_folder(job_id)) for job_id in job_ids}

    def fetch_log(self, job_id: str, offset: int = 0) -> bytes:
        try:
            with open(job_folder(job_id) / "messages.log", "rb") as handle:
                handle.seek(offset)
                return handle.read()
        except FileNotFoundError:
            return b""

    def cancel(self, job_id: str) -> None:
        folder = job_folder(job_id)
        if not folder.is_dir():
            return  # forgotten already: the next poll says UNKNOWN
        (folder / "cancel").touch()
        state = read_state(folder)
        if state.get("state") == "RUNNING" and state.get("pid"):
            try:
                os.killpg(int(state["pid"]), signal.SIGTERM)  # the job's whole process group
            except ProcessLookupError:
                pass

    def release(self, job_id: str) -> None:
        (job_folder(job_id) / "messages.log").unlink(missing_ok=True)


def make_scheduler(config: Mapping[str, Any]) -> FakeScheduler:
    """The entry point (`-b fake`): settings in, a scheduler out."""
    unknown = sorted(set(config) - {"start_delay"})
    if unknown:
        raise UsageError(f"The fake scheduler has no setting {unknown[0]!r}", hint="its only setting is start_delay")
    delay = config.get("start_delay", 0)
    if isinstance(delay, bool) or not isinstance(delay, (int, float)) or delay < 0:
        raise UsageError(f"start_delay must be a number of seconds, 0 or more, got {delay!r}")
    return FakeScheduler(float(delay))


def forget(job_id: str) -> None:
    """Drop a job as a scheduler does a while after it ended: it is then UNKNOWN (the run LOST)."""
    shutil.rmtree(job_folder(job_id), ignore_errors=True)


def jobs_root() -> Path:
    return cache_dir("fake-scheduler", "jobs")


def job_folder(job_id: str) -> Path:
    if not job_id.isdigit():
        raise BackendError(f"{job_id!r} is not a fake scheduler job id (they are numbers)")
    return jobs_root() / job_id


def read_state(folder: Path) -> dict[str, Any]:
    try:
        return dict(json.loads((folder / "state.json").read_text()))
    except FileNotFoundError:
        return {}


def write_state(folder: Path, state: Mapping[str, Any]) -> None:
    partial = folder / "state.json.partial"
    partial.write_text(json.dumps(dict(state)))
    partial.replace(folder / "state.json")  # readers never see half a state


def add_message(folder: Path, text: str) -> None:
    with open(folder / "messages.log", "a") as handle:
        handle.write(text + "\n")


def _new_job_folder() -> tuple[str, Path]:
    root = jobs_root()
    number = len(os.listdir(root)) + 1
    while True:  # mkdir is atomic: two procs submitting at once never share an id
        try:
            (root / str(number)).mkdir(mode=0o700)
            return str(number), root / str(number)
        except FileExistsError:
            number += 1


def _status(folder: Path) -> JobStatus:
    if not folder.is_dir():
        return JobStatus(JobState.UNKNOWN)
    state = read_state(folder)
    word = state.get("state", "PENDING")
    worker = state.get("worker")
    if word in ("PENDING", "RUNNING") and worker and not process_alive(int(worker)):
        # The worker died with its job unfinished (a node failure, in a real cluster).
        return JobStatus(JobState.FAILED, None, "NODE_FAIL", "the fake scheduler's worker died", time.time())
    return JobStatus(_STATES[word], state.get("exit_code"), word, state.get("reason", ""), state.get("end_time"))
