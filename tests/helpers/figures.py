"""Figures the reliability tests measure, for docs/reliability.md.

Each is written to $PROJ_TEST_ARTIFACTS/reliability.json (merged with what is there) when that
variable is set, so a CI run keeps them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

FIGURES: dict[str, object] = {}

def record_figure(name: str, value: object) -> None:
    FIGURES[name] = value
    folder = os.environ.get("PROJ_TEST_ARTIFACTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        path = Path(folder) / "reliability.json"
        existing = json.loads(path.read_text()) if path.exists() else {}
        path.write_text(json.dumps({**existing, name: value}, indent=2))


_PEAK = """
import json, os, subprocess, sys, time
started = time.monotonic()
child = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
stderr = child.stderr.read()
_pid, status, usage = os.wait4(child.pid, 0)
print(json.dumps({"code": os.waitstatus_to_exitcode(status), "maxrss_kib": usage.ru_maxrss,
                  "seconds": time.monotonic() - started, "stderr": stderr.decode(errors="replace")}))
"""


def measured_proj(*args: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 600) -> dict[str, Any]:
    """Run `proj ARGS` (stdout discarded) and return its exit code, peak RSS in MiB (proj and the
    processes it waited for, whichever peaked), wall seconds and stderr."""
    measured = subprocess.run([sys.executable, "-c", _PEAK, sys.executable, "-m", "runner", *args], cwd=cwd,
                              capture_output=True, text=True, check=True, timeout=timeout,
                              env={**os.environ, **(env or {})})
    result: dict[str, Any] = json.loads(measured.stdout)
    result["peak_mib"] = result.pop("maxrss_kib") / 1024
    return result
