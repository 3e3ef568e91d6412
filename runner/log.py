"""Logging metrics and artifacts from a project's own Python code, without a tracking library.

    import runner
    runner.log_metric("rmse", 0.71, step=3)
    runner.log_artifact("model.pkl")

This module uses the standard library only and imports nothing else from proj, so it is cheap
for training code. Under `proj run` it writes into `$PROJ_OUTPUT_DIR` (see docs/outputs.md);
run any other way, it does nothing but warn once, so the same script works with and without proj.
"""

from __future__ import annotations

import json
import os
import shutil
import time
import warnings
from pathlib import Path

_warned = False


def _output_dir() -> Path | None:
    global _warned
    folder = os.environ.get("PROJ_OUTPUT_DIR")
    if folder:
        return Path(folder)
    if not _warned:
        warnings.warn("PROJ_OUTPUT_DIR is not set (not running under `proj run`): metrics and artifacts "
                      "are not kept", RuntimeWarning, stacklevel=3)
        _warned = True
    return None


def log_metric(key: str, value: float, step: int | None = None) -> None:
    """Append one metric value to the run's metrics.jsonl."""
    folder = _output_dir()
    if folder is None:
        return
    item = {"key": str(key), "value": float(value), "timestamp": time.time()}
    if step is not None:
        item["step"] = int(step)
    line = (json.dumps(item) + "\n").encode()
    # One write of a short line with O_APPEND: concurrent writers never interleave inside it.
    fd = os.open(folder / "metrics.jsonl", os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, line)
    finally:
        os.close(fd)


def log_artifact(path: str | os.PathLike[str], name: str | None = None) -> None:
    """Copy a file or folder into the run's output folder (under `name`, default its own name)."""
    folder = _output_dir()
    if folder is None:
        return
    source = Path(path)
    name = name or source.name
    if Path(name).is_absolute() or ".." in Path(name).parts:
        raise ValueError(f"artifact name {name!r} must stay inside the run's output folder")
    target = folder / name
    if source.is_dir():
        shutil.copytree(source, target, symlinks=True, dirs_exist_ok=True)
    else:
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target)
