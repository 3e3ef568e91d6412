"""The FAKE scheduler's worker (tests only): runs one job, detached from the proj that submitted it.

`python -m proj_fake_scheduler.worker JOB_FOLDER` forks and returns at once; the forked worker
leaves proj's session, runs the job's command with its output appended to the run's log, records
each change of state, and stops the job's whole process group when the command ends or is
cancelled, as a real scheduler's node daemon does.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from proj_fake_scheduler import add_message, read_state, write_state


def main() -> None:
    folder = Path(sys.argv[1])
    if os.fork() > 0:
        os._exit(0)  # the submitting proj hears back at once; the job goes on without it
    os.setsid()
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):  # let go of proj's pipes, so that its wait for this tool ends now
        os.dup2(null, fd)
    run_job(folder)


def run_job(folder: Path) -> None:
    spec = json.loads((folder / "job.json").read_text())
    write_state(folder, {"state": "PENDING", "worker": os.getpid()})
    queued_until = time.monotonic() + spec["start_delay"]
    while time.monotonic() < queued_until and not (folder / "cancel").exists():
        time.sleep(0.05)
    if (folder / "cancel").exists():
        return _end(folder, "CANCELLED", None, f"job {folder.name} cancelled before it started")
    try:
        with open(spec["log"], "ab") as log:
            # This is the scheduler itself (a node daemon), not proj: it starts the job directly.
            child = subprocess.Popen(spec["argv"], cwd=spec["cwd"], env=spec["env"], stdin=subprocess.DEVNULL,
                                     stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    except OSError as err:
        return _end(folder, "FAILED", 111, f"job {folder.name} could not start: {err.strerror}")
    write_state(folder, {"state": "RUNNING", "worker": os.getpid(), "pid": child.pid})
    if (folder / "cancel").exists():  # cancelled while it was being started
        os.killpg(child.pid, 15)
    code = child.wait()
    _stop_group(child.pid)
    exit_code = 128 - code if code < 0 else code
    if (folder / "cancel").exists():
        return _end(folder, "CANCELLED", exit_code, f"*** job {folder.name} CANCELLED ***")
    _end(folder, "COMPLETED" if exit_code == 0 else "FAILED", exit_code, None)


def _end(folder: Path, word: str, exit_code: int | None, message: str | None) -> None:
    if message:
        add_message(folder, message)
    state = {k: v for k, v in read_state(folder).items() if k not in ("worker", "pid")}
    write_state(folder, {**state, "state": word, "exit_code": exit_code, "end_time": time.time()})


def _stop_group(pgid: int) -> None:
    """What the command left running in its group ends with it."""
    try:
        os.killpg(pgid, 9)
    except (ProcessLookupError, PermissionError):
        pass


if __name__ == "__main__":
    main()
