"""The folder a run's MLflow client logs into, and the variables that send it there.

The folder is an MLflow file store with one experiment (id `0`, named as the proj run's
experiment) and one RUNNING run whose id is the proj run's id:

    <capture>/0/meta.yaml                    the experiment
    <capture>/0/<run id>/meta.yaml           the run proj created; the client continues it
    <capture>/0/<run id>/{params,metrics,tags,artifacts}/
    <capture>/0/<nested run id>/...          runs the project starts with nested=True
    <capture>/0/models/<model id>/...        MLflow 3 logged models

Every client proj supports reads this layout (mlflow and mlflow-skinny 2.x and 3.x). The
experiment carries the proj experiment's name so that a project calling
`mlflow.set_experiment(<that name>)` keeps working, as it does under `mlflow run`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import NamedTuple

EXPERIMENT_ID = "0"
RUNNING = 1  # MLflow's RunStatus.RUNNING as the file store writes it
LOCAL_SOURCE = 4  # MLflow's SourceType.LOCAL
# MLflow 3 refuses a file store unless asked for one explicitly; earlier clients ignore this.
ALLOW_FILE_STORE = "MLFLOW_ALLOW_FILE_STORE"


class CaptureRun(NamedTuple):
    """What the file store's run starts with: the proj run's id, name and start."""

    run_id: str
    experiment: str
    run_name: str
    user: str
    start_time: float  # seconds since the epoch


# A capture as proj lays it out: each path (relative, "/"-separated) with the bytes of a file,
# or None for a folder. `untouched` compares a capture with it.
Layout = dict[str, bytes | None]
RUN_FOLDERS = ("params", "metrics", "tags", "artifacts")


def create_capture(root: Path, run: CaptureRun) -> Layout:
    """Lay out the file store at `root` (a new folder) with its experiment and RUNNING run;
    returns what it laid out."""
    experiment = root / EXPERIMENT_ID
    folder = experiment / run.run_id
    for sub in RUN_FOLDERS:
        (folder / sub).mkdir(parents=True, mode=0o700)
    root.chmod(0o700)
    now = int(run.start_time * 1000)
    layout: Layout = {EXPERIMENT_ID: None, f"{EXPERIMENT_ID}/{run.run_id}": None}
    layout.update({f"{EXPERIMENT_ID}/{run.run_id}/{sub}": None for sub in RUN_FOLDERS})
    layout[f"{EXPERIMENT_ID}/meta.yaml"] = _write_yaml(experiment / "meta.yaml", {
        "artifact_location": experiment.as_uri(), "creation_time": now, "experiment_id": EXPERIMENT_ID,
        "last_update_time": now, "lifecycle_stage": "active", "name": run.experiment})
    layout[f"{EXPERIMENT_ID}/{run.run_id}/meta.yaml"] = _write_yaml(folder / "meta.yaml", {
        "artifact_uri": (folder / "artifacts").as_uri(), "end_time": None, "entry_point_name": "",
        "experiment_id": EXPERIMENT_ID, "lifecycle_stage": "active", "run_id": run.run_id,
        "run_name": run.run_name, "run_uuid": run.run_id, "source_name": "", "source_type": LOCAL_SOURCE,
        "source_version": "", "start_time": now, "status": RUNNING, "tags": [], "user_id": run.user})
    return layout


def untouched(root: Path, layout: Layout) -> bool:
    """Whether the capture at `root` still holds exactly `layout`: those folders, those files with
    those bytes, and nothing else (no link, no other file). Then the project's MLflow client
    logged nothing, and reading it back would find only what proj wrote (any doubt: False)."""
    found: Layout = {}
    pending = [""]
    while pending:
        relative = pending.pop()
        try:
            entries = list(os.scandir(root / relative if relative else root))
        except OSError:
            return False
        for entry in entries:
            path = f"{relative}/{entry.name}" if relative else entry.name
            if path not in layout:
                return False
            if entry.is_dir(follow_symlinks=False):
                found[path] = None
                pending.append(path)
            elif entry.is_file(follow_symlinks=False):
                found[path] = _read_small(entry.path, len(layout[path] or b""))
            else:
                return False
    return found == layout


def _read_small(path: str, size: int) -> bytes | None:
    """The file's bytes if it has `size` of them (read without following a link), else None."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError:
        return None
    with os.fdopen(fd, "rb") as handle:
        data = handle.read(size + 1)
    return data if len(data) == size else None


def capture_variables(root: Path, run_id: str) -> dict[str, str]:
    """The variables that make the entry point's `mlflow.start_run()` continue the captured run."""
    return {"MLFLOW_TRACKING_URI": root.as_uri(), "MLFLOW_RUN_ID": run_id,
            "MLFLOW_EXPERIMENT_ID": EXPERIMENT_ID, ALLOW_FILE_STORE: "true"}


def _write_yaml(path: Path, data: dict[str, object]) -> bytes:
    text = yaml_text(data).encode("utf-8")
    fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(text)
    return text


def yaml_text(data: dict[str, object]) -> str:
    """A meta.yaml that any YAML reader (MLflow's safe_load, proj's readers) reads back as `data`:
    one `key: value` line per key, sorted as PyYAML's safe_dump sorts them; strings double-quoted.
    Written without PyYAML, whose import would cost every run ~15 ms (docs/benchmarks.md)."""
    return "".join(f"{key}: {_yaml_value(value)}\n" for key, value in sorted(data.items()))


def _yaml_value(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, list) and not value:
        return "[]"
    if isinstance(value, str):
        return '"' + "".join(_yaml_character(c) for c in value) + '"'
    raise TypeError(f"meta.yaml holds no {type(value).__name__} values")


def _yaml_character(character: str) -> str:
    """A character as it may stand in a double-quoted YAML scalar: escaped unless printable and
    read back unchanged (YAML folds U+2028 and U+2029 as line breaks, and drops a U+FEFF)."""
    code = ord(character)
    if character in '"\\':
        return "\\" + character
    if (0x20 <= code <= 0x7E or 0xA0 <= code <= 0xD7FF and code not in (0x2028, 0x2029)
            or 0xE000 <= code <= 0xFFFD and code != 0xFEFF or code >= 0x10000):
        return character
    if code <= 0xFF:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}"
