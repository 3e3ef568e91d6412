"""Logging from a project's own Python code, with the rules MLflow applies to the same calls.

    import runner
    runner.log_metric("rmse", 0.71, step=3)
    runner.log_params({"alpha": 0.5, "optimizer": "adam"})
    runner.set_tag("team", "vision")
    runner.log_artifact("model.pkl")

Every call checks its arguments the same way inside and outside `proj run`: MLflow's rules for
names, values and lengths, NaN and infinities being metric values like any other, a parameter
that cannot change its value. So a script that works on its own works under proj, and the
reverse. Under `proj run`, metrics and artifacts go to the run's output folder
(`$PROJ_OUTPUT_DIR`, docs/outputs.md) and parameters and tags join what the project logs with
MLflow, in the run proj started (runner.logtarget). Run any other way, nothing is kept and one
warning says so.

This module and runner.logtarget use the standard library only, so training code pays nothing
for them; the MLflow REST client is imported only when a parameter goes to a tracking server.
"""

from __future__ import annotations

import json
import math
import numbers
import operator
import os
import posixpath
import re
import shutil
import sys
import time
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import TypeVar

from runner import logtarget

T = TypeVar("T")

# MLflow's limits (mlflow.utils.validation): longer parameter and tag values are cut, with a warning.
MAX_KEY_LENGTH = 250
MAX_PARAM_VALUE_LENGTH = 6000
MAX_TAG_VALUE_LENGTH = 8000
MAX_STEP = 2**63 - 1  # what proj's metrics.jsonl reader accepts (docs/outputs.md)
# MLflow's names: letters, digits, _ - . space : and /, which must not resolve to another name.
_NAME = re.compile(r"^[/\w.\- :]*$")

# Parameters logged by this process: a value may not change, whether or not proj keeps it.
_logged_params: dict[str, str] = {}


def log_metric(key: str, value: float, step: int | None = None, timestamp: int | None = None) -> None:
    """Log one value of a metric (`step`: epoch or iteration; `timestamp`: milliseconds, as MLflow)."""
    log_metrics({key: value}, step=step, timestamp=timestamp)


def log_metrics(metrics: Mapping[str, float], step: int | None = None, timestamp: int | None = None) -> None:
    """Log several metrics at once, at the same step and time."""
    seconds = time.time() if timestamp is None else _timestamp(timestamp) / 1000
    lines = []
    for key, value in metrics.items():
        item: dict[str, object] = {"key": _name(key, "metric"), "value": _metric_value(key, value),
                                   "timestamp": seconds}
        if step is not None:
            item["step"] = _step(key, step)
        lines.append(json.dumps(item) + "\n")  # NaN and Infinity as Python's json writes them
    folder = _output_dir()
    if folder is not None and lines:
        _append(folder / "metrics.jsonl", "".join(lines).encode())


def log_param(key: str, value: T) -> T:
    """Log a parameter (kept as text, as MLflow keeps it); returns `value`, as mlflow.log_param."""
    log_params({key: value})
    return value


def log_params(params: Mapping[str, object]) -> None:
    """Log several parameters. A parameter keeps its first value: logging another one is an error."""
    checked = {_name(key, "parameter"): _text(key, value, MAX_PARAM_VALUE_LENGTH, "parameter")
               for key, value in params.items()}
    for key, value in checked.items():
        earlier = _logged_params.get(key)
        if earlier is not None and earlier != value:
            raise ValueError(f"parameter {key!r} was logged as {earlier!r}; it cannot change to {value!r} "
                             "(MLflow keeps one value per parameter): log the new value under another name")
    target = logtarget.mlflow_run()
    for key, value in checked.items():
        if target is not None:
            target.log_param(key, value)
        _logged_params[key] = value
    if target is None:
        _not_kept("parameters and tags")


def set_tag(key: str, value: object) -> None:
    """Set a tag of the run (a later value replaces an earlier one)."""
    set_tags({key: value})


def set_tags(tags: Mapping[str, object]) -> None:
    """Set several tags of the run."""
    checked = {_name(key, "tag"): _text(key, value, MAX_TAG_VALUE_LENGTH, "tag") for key, value in tags.items()}
    target = logtarget.mlflow_run()
    if target is None:
        _not_kept("parameters and tags")
        return
    for key, value in checked.items():
        target.set_tag(key, value)


def log_artifact(path: str | os.PathLike[str], name: str | None = None) -> None:
    """Copy a file or folder into the run's output folder (under `name`, default its own name)."""
    source = Path(path)
    name = name or source.name
    if Path(name).is_absolute() or ".." in Path(name).parts:
        raise ValueError(f"artifact name {name!r} must stay inside the run's output folder")
    if not source.exists():
        raise FileNotFoundError(f"no file or folder {str(source)!r} to log as an artifact")
    folder = _output_dir()
    if folder is None:
        return
    target = folder / name
    if source.is_dir():
        shutil.copytree(source, target, symlinks=True, dirs_exist_ok=True)
    else:
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target)


# --- checks (the same under proj and without it) ---------------------------------------------


def _name(key: object, what: str) -> str:
    if not isinstance(key, str):
        raise TypeError(f"a {what} name must be a str, not {type(key).__name__} ({key!r})")
    if not _NAME.match(key):
        raise ValueError(f"invalid {what} name {key!r}: names may contain only letters, digits, "
                         "underscores (_), dashes (-), periods (.), spaces, colons (:) and slashes (/)")
    normal = posixpath.normpath(key)
    if normal != key or normal == "." or normal.startswith(("..", "/")):
        raise ValueError(f"invalid {what} name {key!r}: a name is also a file name, and this one "
                         f"would resolve to {normal!r}")
    if len(key) > MAX_KEY_LENGTH:
        raise ValueError(f"{what} name {key[:40]!r}... is {len(key)} characters long; at most "
                         f"{MAX_KEY_LENGTH} are allowed")
    return key


def _metric_value(key: str, value: object) -> float:
    # bool is a number to Python, not to MLflow; numpy's numbers are numbers.Real.
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"metric {key!r} must be a number (NaN and infinities included), "
                        f"not {type(value).__name__} ({value!r})")
    return float(value)


def _step(key: str, step: object) -> int:
    whole: int | None = None
    if isinstance(step, bool):
        pass  # a number to Python, not a step
    elif isinstance(step, numbers.Integral):
        whole = operator.index(step)
    elif isinstance(step, numbers.Real) and float(step).is_integer():
        whole = int(float(step))
    if whole is None or not 0 <= whole <= MAX_STEP:
        raise ValueError(f"the step of metric {key!r} must be a whole number from 0 to 2^63-1, not {step!r}")
    return whole


def _timestamp(timestamp: object) -> float:
    if isinstance(timestamp, bool) or not isinstance(timestamp, numbers.Real) or not math.isfinite(timestamp) \
            or timestamp < 0:
        raise ValueError(f"a metric's timestamp is a number of milliseconds since the epoch, not {timestamp!r}")
    return float(timestamp)


def _text(key: str, value: object, limit: int, what: str) -> str:
    text = str(value)
    if len(text) > limit:
        warnings.warn(f"the value of {what} {key!r} ({len(text)} characters) is cut to {limit} characters, "
                      "as MLflow cuts it", RuntimeWarning, stacklevel=_callers_level())
        text = text[:limit]
    return text


# --- where things go ---------------------------------------------------------------------------

_warned: set[str] = set()


def _output_dir() -> Path | None:
    folder = logtarget.output_dir()
    if folder is None:
        _not_kept("metrics and artifacts")
    return folder


def _not_kept(what: str) -> None:
    """One warning per kind of data, pointing at the caller's line."""
    if what in _warned:
        return
    _warned.add(what)
    if logtarget.output_dir() is None:
        reason = "PROJ_OUTPUT_DIR is not set (not running under `proj run`)"
    else:
        reason = "this run's tracking store keeps no parameters or tags logged by the project"
    warnings.warn(f"{reason}: {what} are not kept", RuntimeWarning, stacklevel=_callers_level())


def _callers_level() -> int:
    """The `stacklevel` of the first frame outside this module: the project's line that logged."""
    frame, level = sys._getframe(1), 1
    while frame.f_back is not None and frame.f_globals.get("__name__") == __name__:
        frame, level = frame.f_back, level + 1
    return level


def _append(path: Path, data: bytes) -> None:
    # One write with O_APPEND: concurrent writers never interleave inside it.
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)
