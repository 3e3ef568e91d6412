"""Run records made in tests, as `proj run` would fill them in."""

from __future__ import annotations

import time
from typing import Any

from runner.host import hostname
from runner.tracking.base import EnvironmentRecord, ParameterRecord, RunRecord, SourceRecord, launcher_token


def new_record(*, parameters: dict[str, str] | None = None, **fields: Any) -> RunRecord:
    """A RUNNING record launched by this process on this host; `fields` override any field."""
    values: dict[str, Any] = dict(
        experiment="Default", run_name="probe:main", entry_point="main", command="true",
        source=SourceRecord(uri="/project", kind="local", path="/project"),
        parameters=[ParameterRecord(name, "string", value, value, value, True)
                    for name, value in (parameters or {}).items()],
        environment=EnvironmentRecord(kind="local"), user="tester", host=hostname(), platform="Linux",
        python_version="3", proj_version="0", launcher=launcher_token(), start_time=time.time(),
    )
    values.update(fields)
    return RunRecord(**values)


def dead_launcher() -> str:
    """The launcher token of a proj process that has exited."""
    import subprocess
    import sys

    child = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                           text=True, check=True)
    return f"{child.stdout.strip()}:1"
