"""Watching real processes from tests."""

from __future__ import annotations

import time
from pathlib import Path

from runner.procfs import process_alive

# One rule for proj and its tests (runner.procfs): a zombie is gone.
alive = process_alive


def wait_for(predicate, timeout: float = 30, interval: float = 0.05, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def wait_for_file(path: Path, timeout: float = 30) -> str:
    return wait_for(lambda: path.exists() and path.read_text().strip(), timeout, what=str(path))


def processes_of_run(run_id: str) -> list[int]:
    """Live processes whose environment holds PROJ_RUN_ID=run_id: what a run left running."""
    marker = f"PROJ_RUN_ID={run_id}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            environ = (entry / "environ").read_bytes()
        except OSError:
            continue
        if marker in environ.split(b"\0") and alive(int(entry.name)):
            found.append(int(entry.name))
    return found
